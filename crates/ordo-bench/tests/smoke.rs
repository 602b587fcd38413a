//! Every benchmark line the README gives, run as written but on a small scale, so none can rot
//! (the `ceiling` line once failed for weeks after the schema grew). The lines are read from the
//! README itself; each scenario gets the few extra flags that shrink it, and a line whose
//! scenario this file does not know fails the test until it is added here. The JSON each run
//! writes must say what really happened (counts, never timings).

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The README's `ordo-bench` lines, as argument lists (without the program).
fn readme_lines() -> Vec<Vec<String>> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("read the README");
    readme
        .lines()
        .filter_map(|l| l.trim().strip_prefix("target/release/ordo-bench "))
        .map(|l| {
            l.split('#')
                .next()
                .unwrap()
                .split_whitespace()
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// The scenario a line runs: its first word that is not a flag or a flag's value.
fn scenario(args: &[String]) -> String {
    let mut words = args.iter();
    while let Some(w) = words.next() {
        if w.starts_with("--") {
            words.next();
        } else {
            return w.clone();
        }
    }
    panic!("no scenario in {args:?}");
}

/// The flags that shrink a scenario to a few seconds.
fn small(scenario: &str) -> &'static [&'static str] {
    match scenario {
        "checkout" => &[
            "--seconds",
            "1",
            "--warmup",
            "0",
            "--skus",
            "40",
            "--connections",
            "4",
            "--ceiling-placements",
            "300",
        ],
        "flash-sale" => &[
            "--buyers",
            "300",
            "--units",
            "7",
            "--accounts",
            "3",
            "--connections",
            "4",
        ],
        "peak-updates" => &["--updates", "200", "--connections", "4"],
        "load" => &["--orders", "1500", "--customers", "30", "--skus", "40"],
        "read" => &["--rate", "200", "--seconds", "1", "--customers", "5"],
        "pages" => &["--rate", "50", "--seconds", "1"],
        "ceiling" => &["--ceiling-placements", "300"],
        "events" => &[
            "--seconds",
            "1",
            "--rounds",
            "1",
            "--skus",
            "20",
            "--connections",
            "3",
            "--checkout-streams",
            "10",
            "--streams",
            "40",
            "--stream-customers",
            "4",
            "--rate",
            "10",
            "--rate-seconds",
            "1",
        ],
        "payments" => &[
            "--seconds",
            "1",
            "--rounds",
            "1",
            "--skus",
            "40",
            "--connections",
            "4",
        ],
        other => panic!("the README runs `ordo-bench {other}`: give it a small scale in smoke.rs"),
    }
}

/// Runs one line (its paths moved into `dir`) and returns its figures by name.
fn run(line: &[String], dir: &Path) -> HashMap<String, f64> {
    let name = scenario(line);
    let json = dir.join(format!("{name}.json"));
    let args: Vec<String> = line
        .iter()
        .map(|a| {
            if a.starts_with("/tmp/") || a.ends_with(".svg") {
                dir.join(Path::new(a).file_name().unwrap())
                    .to_string_lossy()
                    .into_owned()
            } else {
                a.clone()
            }
        })
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_ordo-bench"))
        .args(&args)
        .args(small(&name))
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run ordo-bench");
    assert!(
        out.status.success(),
        "ordo-bench {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    report["figures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["value"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_benchmark_line_of_the_readme_runs_and_counts_what_the_server_did() {
    let dir = tempfile::tempdir().unwrap();
    let lines = readme_lines();
    let names: Vec<String> = lines.iter().map(|l| scenario(l)).collect();
    for expected in [
        "checkout",
        "flash-sale",
        "peak-updates",
        "load",
        "read",
        "pages",
        "ceiling",
        "events",
        "payments",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "the README lost `{expected}`: {names:?}"
        );
    }
    for line in &lines {
        let figures = run(line, dir.path());
        match scenario(line).as_str() {
            "checkout" => {
                assert_eq!(figures["errors"], 0.0);
                assert!(figures["orders placed per second"] > 0.0);
                assert!(figures["Ordo / ceiling"] > 0.0, "the ceiling ran beside it");
                assert!(
                    dir.path().join("checkout.svg").exists(),
                    "the chart was drawn"
                );
            }
            "flash-sale" => {
                assert_eq!(figures["sold (201)"], 7.0);
                assert_eq!(figures["reserved in the database"], 7.0);
                assert_eq!(figures["oversold (sold beyond stock)"], 0.0);
                assert_eq!(figures["refused (409 insufficient_stock)"], 293.0);
                assert_eq!(figures["other answers"], 0.0);
            }
            "peak-updates" => {
                assert_eq!(figures["acknowledged (200)"], 100.0);
                assert_eq!(figures["acknowledged but not in the event log"], 0.0);
            }
            "load" => assert_eq!(figures["orders loaded"], 1500.0),
            "read" => {
                assert_eq!(figures["orders loaded"], 1500.0);
                assert_eq!(figures["errors"], 0.0);
                // Every one of the 200 requests was answered (none dropped by the open loop).
                assert_eq!(figures["answered"], 200.0);
            }
            "pages" => {
                assert_eq!(figures["orders loaded"], 1500.0);
                assert_eq!(figures["errors"], 0.0, "every page answered 200");
                assert_eq!(figures["answered"], 50.0);
                assert!(figures["queue p99"] > 0.0 && figures["order page p99"] > 0.0);
            }
            "ceiling" => {
                assert!(figures["1 placement per commit"] > 0.0);
                assert!(figures["100 placements per commit"] > 0.0);
            }
            "events" => {
                assert!(figures["orders/s, relay on (webhooks, streams)"] > 0.0);
                assert!(figures["orders/s, relay off"] > 0.0);
                assert_eq!(figures["webhooks delivered of orders placed"], 100.0);
                assert_eq!(figures["streams open on one node"], 40.0);
                assert_eq!(figures["stream messages received of expected"], 100.0);
            }
            "payments" => {
                assert!(figures["orders/s, paid with the sandbox in the checkout"] > 0.0);
                assert!(figures["orders/s, payments off"] > 0.0);
                assert_eq!(figures["paid orders answered as not paid"], 0.0);
            }
            other => unreachable!("{other} has no small scale"),
        }
    }
}
