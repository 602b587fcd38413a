//! What every crate's tests share about the outside peers they need (PostgreSQL, NATS, an SMTP
//! server, localstripe, schemathesis, Chromium, a tmpfs): one reading of `ORDO_TEST_REQUIRE_*`.
//!
//! A test whose peer is missing is skipped with a notice on a developer's machine, and fails
//! where the peer is required (`.ci/run` requires them all), so CI never passes by skipping.

/// Whether `ORDO_TEST_REQUIRE_<PEER>` asks for the peer: `1` or `true`.
pub fn required(peer: &str) -> bool {
    std::env::var(format!("ORDO_TEST_REQUIRE_{peer}"))
        .is_ok_and(|v| matches!(v.trim(), "1" | "true"))
}

/// Says that `peer` is missing (`why`: what is missing and how to get it): a failure where it
/// is required, otherwise a notice that the test was skipped.
pub fn missing(peer: &str, why: &str) {
    assert!(!required(peer), "ORDO_TEST_REQUIRE_{peer} is set but {why}");
    eprintln!("SKIPPED (no {peer}): {why}");
}
