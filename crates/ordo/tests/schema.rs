//! The OpenAPI document says what the server really answers: an outside fuzzer, schemathesis
//! (pinned in `.ci/requirements.txt`, installed by `.ci/run` into `.venv/`), generates requests
//! from `/api/openapi.json` for every operation — valid ones and broken ones, as an admin — and
//! fails on any status the document does not list, any 5xx, and any answer whose body or
//! content type the document does not describe. Without schemathesis the test says it was
//! skipped; with `ORDO_TEST_REQUIRE_SCHEMATHESIS=1` (as `.ci/run` sets) it fails instead.

use std::path::PathBuf;
use std::process::Command;

mod process;
use process::{login, serve};

fn schemathesis() -> Option<PathBuf> {
    let path = std::env::var_os("ORDO_SCHEMATHESIS").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../.venv/bin/schemathesis"
            ))
        },
        PathBuf::from,
    );
    if path.exists() {
        return Some(path);
    }
    ordo_store::testing::missing(
        "SCHEMATHESIS",
        &format!(
            "{} is missing (run .ci/run, or pip install -r .ci/requirements.txt into .venv): the OpenAPI fuzz test needs it",
            path.display()
        ),
    );
    None
}

#[tokio::test]
async fn the_openapi_document_says_what_the_server_answers() {
    let Some(bin) = schemathesis() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&dir.path().join("data"));
    let client = ordo_app::webhooks::http_client();
    let admin = login(&client, &server.base, "admin@ordo.example").await;
    let spec = format!("{}/api/openapi.json", server.base);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(bin)
            .current_dir(dir.path())
            .args(["run", &spec, "--seed", "20261129", "--max-examples", "10"])
            // Logging out would end the fuzzer's own session for every later request.
            .args(["--exclude-path", "/api/v1/auth/logout"])
            .args([
                "--checks",
                "status_code_conformance,not_a_server_error,content_type_conformance,response_schema_conformance",
            ])
            .arg("--header")
            .arg(format!("Authorization: Bearer {admin}"))
            .env("NO_COLOR", "1")
            .output()
            .expect("run schemathesis")
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found the document and the server disagree:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("passed"), "{report}");
    drop(server);
}
