//! The API's contract does not drift by accident: the OpenAPI document the handlers generate
//! must equal the committed copy, `docs/openapi.json`. A change to the API changes that file in
//! the same commit, on purpose — regenerate it with `ORDO_WRITE_OPENAPI=1 cargo nextest run -p
//! ordo-http --test openapi` and read its diff.

use std::path::PathBuf;

fn committed() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

#[test]
fn the_openapi_document_is_the_committed_one() {
    let generated = serde_json::to_string_pretty(&ordo_http::openapi()).expect("serialize") + "\n";
    let path = committed();
    if std::env::var("ORDO_WRITE_OPENAPI").is_ok_and(|v| v == "1" || v == "true") {
        std::fs::write(&path, &generated).expect("write docs/openapi.json");
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    if stored == generated {
        return;
    }
    // Say where they part, so the reader need not diff two long files by eye.
    let line = stored
        .lines()
        .zip(generated.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| stored.lines().count().min(generated.lines().count()));
    let around = |text: &str| {
        text.lines()
            .skip(line.saturating_sub(3))
            .take(7)
            .collect::<Vec<_>>()
            .join("\n")
    };
    panic!(
        "the API's OpenAPI document differs from docs/openapi.json from line {}:\n--- committed\n{}\n--- generated\n{}\n\
         If the change is meant, regenerate it: ORDO_WRITE_OPENAPI=1 cargo nextest run -p ordo-http --test openapi",
        line + 1,
        around(&stored),
        around(&generated)
    );
}
