//! The web UI in real Chromium: runs `tests/browser/journeys.mjs` (Playwright's library with
//! Debian's Chromium, axe for WCAG 2.2 AA, keyboard-only journeys, screenshots at 390 and
//! 1280 px into `target/screenshots/{sqlite,postgres}/`) against a real `ordo serve --demo`, once on
//! each database.
//!
//! Without Chromium or the npm packages (`npm ci` in `tests/browser`) the test is skipped
//! with a notice; with `ORDO_TEST_REQUIRE_BROWSER=1` (as `.ci/run` sets) that is a failure.

mod process;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The whole run's deadline (it takes well under a minute here).
const DEADLINE: Duration = Duration::from_secs(600);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether everything the run needs is here; says what is missing otherwise.
fn ready(scripts: &Path) -> Result<(), String> {
    let chromium = std::env::var("ORDO_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Err(format!(
            "no Chromium at {chromium} (apt-get install -y chromium)"
        ));
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Err("no node on PATH".into());
    }
    if !scripts.join("node_modules/playwright-core").exists() {
        return Err(format!(
            "no npm packages in {} (npm ci there)",
            scripts.display()
        ));
    }
    Ok(())
}

#[test]
fn every_page_passes_axe_and_the_keyboard_journeys_on_sqlite() {
    journeys(false);
}

#[test]
fn every_page_passes_axe_and_the_keyboard_journeys_on_postgres() {
    journeys(true);
}

fn journeys(postgres: bool) {
    let scripts = root().join("tests/browser");
    if let Err(missing) = ready(&scripts) {
        ordo_store::testing::missing("BROWSER", &format!("the browser tests need {missing}"));
        return;
    }
    // Two shops, each with a database of its own.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (Some(db), Some(stale_db)) = rt.block_on(async {
        (
            process::Database::on(postgres).await,
            process::Database::on(postgres).await,
        )
    }) else {
        return;
    };
    let with = |db: &process::Database, more: &[&str]| {
        let mut args = db.args();
        args.extend(more.iter().map(|a| a.to_string()));
        args
    };
    let data = tempfile::tempdir().unwrap();
    // The vendor's webhook endpoint in the journeys is on this machine.
    let args = with(&db, &["--allow-private-webhook-targets"]);
    let server = process::serve_with(
        data.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    // A second shop whose step-up lapses at once: every sensitive form asks for the password.
    let stale_data = tempfile::tempdir().unwrap();
    let args = with(&stale_db, &["--step-up-window", "1ms"]);
    let stale = process::serve_with(
        stale_data.path(),
        &args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let shots =
        root()
            .join("target/screenshots")
            .join(if postgres { "postgres" } else { "sqlite" });
    let mut child = Command::new("node")
        .arg("journeys.mjs")
        .current_dir(&scripts)
        .env("ORDO_BASE", &server.base)
        .env("ORDO_STALE_BASE", &stale.base)
        .env("ORDO_SHOTS", &shots)
        .env("ORDO_DEMO_PASSWORD", ordo_app::demo::PASSWORD)
        .spawn()
        .expect("run node");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("the browser run passed its {DEADLINE:?} deadline");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        status.success(),
        "the browser checks failed (their output is above; screenshots in {})",
        shots.display()
    );
}
