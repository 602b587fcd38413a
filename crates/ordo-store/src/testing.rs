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

/// The repository's root (tests find the pinned peers there).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A program of the repository's pinned Python peers (`.venv/bin/<name>`, installed by
/// `.ci/run` from `.ci/requirements.txt`).
pub fn venv_bin(name: &str) -> std::path::PathBuf {
    repo_root().join(".venv/bin").join(name)
}

/// Whether each outside peer the suites use is here: `(peer, Ok(what) | Err(how to get it))`.
/// The suites check the same things before they run; this is the one list of them, read by the
/// summary test that prints it (so a skipped peer shows in the test command's output).
pub fn peers() -> Vec<(&'static str, Result<String, String>)> {
    let file = |peer: &'static str, path: std::path::PathBuf, get: &str| {
        let found = if path.exists() {
            Ok(path.display().to_string())
        } else {
            Err(format!("{} is missing ({get})", path.display()))
        };
        (peer, found)
    };
    let pip = "run .ci/run, or pip install -r .ci/requirements.txt into .venv";
    let python = venv_bin("python");
    let aiosmtpd = std::process::Command::new(&python)
        .args(["-c", "import aiosmtpd"])
        .output()
        .is_ok_and(|o| o.status.success());
    let chromium = std::env::var("ORDO_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let browser = if !std::path::Path::new(&chromium).exists() {
        Err(format!(
            "no Chromium at {chromium} (apt-get install -y chromium)"
        ))
    } else if !repo_root()
        .join("tests/browser/node_modules/playwright-core")
        .exists()
    {
        Err("no npm packages in tests/browser (npm ci there)".into())
    } else {
        Ok(chromium)
    };
    // Mounting a tmpfs takes root; the full-disk test tries for real.
    let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(2))
            == Some("0")
    });
    vec![
        file(
            "NATS",
            "/usr/sbin/nats-server".into(),
            "apt-get install nats-server",
        ),
        (
            "SMTP",
            if aiosmtpd {
                Ok(format!("aiosmtpd in {}", python.display()))
            } else {
                Err(format!("{} has no aiosmtpd ({pip})", python.display()))
            },
        ),
        file("STRIPE", venv_bin("localstripe"), pip),
        file("SCHEMATHESIS", venv_bin("schemathesis"), pip),
        ("BROWSER", browser),
        (
            "TMPFS",
            if root {
                Ok("running as root: a tmpfs can be mounted".into())
            } else {
                Err("not root: the full-disk test cannot mount a tmpfs".into())
            },
        ),
    ]
}
