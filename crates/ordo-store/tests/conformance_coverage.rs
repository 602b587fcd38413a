//! Every method of every storage trait is called by the conformance suite, and every check of the
//! suite is run: a new method without a conformance test, or a check nobody listed in
//! `conformance_tests!`, fails here, so both backends are held to each method.

use std::fs;
use std::path::Path;

/// The methods of each `pub trait` in a source file: (trait, method) pairs.
fn trait_methods(source: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in source.lines() {
        if let Some(rest) = line.strip_prefix("pub trait ") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            current = Some(name);
            continue;
        }
        if line == "}" {
            current = None;
            continue;
        }
        let Some(trait_name) = &current else { continue };
        let declared = line
            .strip_prefix("    async fn ")
            .or_else(|| line.strip_prefix("    fn "));
        if let Some(rest) = declared {
            let method: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push((trait_name.clone(), method));
        }
    }
    out
}

fn read_dir_sources(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_storage_method_has_a_conformance_test() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let suite: String = read_dir_sources(&src.join("conformance"))
        .into_iter()
        .map(|(_, text)| text)
        .collect();
    // Calls are matched with whitespace removed, so a chain broken over lines still counts.
    let calls: String = suite.chars().filter(|c| !c.is_whitespace()).collect();
    let mut methods = Vec::new();
    for (_, text) in read_dir_sources(&src) {
        methods.extend(trait_methods(&text));
    }
    assert!(
        methods.len() > 100,
        "the storage traits were not found: {methods:?}"
    );
    let missing: Vec<String> = methods
        .iter()
        .filter(|(_, m)| {
            !calls.contains(&format!("store.{m}(")) && !calls.contains(&format!("tx.{m}("))
        })
        .map(|(t, m)| format!("{t}::{m}"))
        .collect();
    assert!(
        missing.is_empty(),
        "storage methods no conformance check calls (on `store` or `tx`): {missing:?}"
    );
}

#[test]
fn every_conformance_check_is_run_by_the_backends() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/conformance");
    let sources = read_dir_sources(&dir);
    let listing = &sources
        .iter()
        .find(|(name, _)| name == "mod.rs")
        .expect("conformance/mod.rs")
        .1;
    let listed: String = listing
        .split("macro_rules! conformance_tests")
        .nth(1)
        .expect("the conformance_tests! macro")
        .to_owned();
    let mut checks = 0;
    for (file, text) in &sources {
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("pub async fn ") {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                checks += 1;
                assert!(
                    listed.contains(&format!("{name},")),
                    "{file}: check `{name}` is not listed in conformance_tests!, so no backend runs it"
                );
            }
        }
    }
    assert!(checks > 20, "only {checks} checks found");
}
