//! One line per outside peer the suites use, shown in the test command's output whether the
//! run passes or not (`.config/nextest.toml` shows this test's output): a peer that is missing
//! says so here, instead of its tests passing by skipping in silence. Where a peer is required
//! (`ORDO_TEST_REQUIRE_<PEER>`, as `.ci/run` sets for all), a missing one fails this test too.

#[test]
fn outside_peers_are_here_or_said_to_be_missing() {
    let mut missing = Vec::new();
    for (peer, found) in ordo_store::testing::peers() {
        match found {
            Ok(what) => eprintln!("peer {peer}: here ({what})"),
            Err(how) => {
                eprintln!("peer {peer}: MISSING, its tests are SKIPPED: {how}");
                if ordo_store::testing::required(peer) {
                    missing.push(format!("{peer}: {how}"));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "required peers are missing: {}",
        missing.join("; ")
    );
}
