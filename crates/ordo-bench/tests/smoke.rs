//! The instrument itself, on a small scale: `ordo-bench` drives a real Ordo over HTTP and its
//! JSON says what really happened. (Nothing here is timed; the figures checked are counts.)

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// Serves Ordo with the demo data on a fresh SQLite file, in this process, on port 0.
async fn serve(dir: &Path) -> String {
    let backend = ordo::Backend::open(&ordo::DatabaseConfig {
        data_dir: dir.to_owned(),
        database_url: None,
    })
    .await
    .unwrap();
    let app = ordo::app(&backend);
    app.load_demo().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(ordo::launch(listener, app, std::future::pending()));
    format!("http://{addr}")
}

/// Runs the bench against `url` and returns its figures by name.
async fn bench(url: &str, args: &[&str], dir: &Path) -> HashMap<String, f64> {
    let json = dir.join(format!("{}.json", args[0]));
    let mut command = Command::new(env!("CARGO_BIN_EXE_ordo-bench"));
    if !url.is_empty() {
        command.args(["--url", url]);
    }
    command.arg("--json").arg(&json).args(args);
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bench_counts_what_the_server_did() {
    let dir = tempfile::tempdir().unwrap();
    let url = serve(&dir.path().join("data")).await;

    let sale = bench(
        &url,
        &[
            "flash-sale",
            "--buyers",
            "300",
            "--units",
            "7",
            "--accounts",
            "3",
            "--connections",
            "4",
        ],
        dir.path(),
    )
    .await;
    assert_eq!(sale["sold (201)"], 7.0);
    assert_eq!(sale["reserved in the database"], 7.0);
    assert_eq!(sale["oversold (sold beyond stock)"], 0.0);
    assert_eq!(sale["refused (409 insufficient_stock)"], 293.0);
    assert_eq!(sale["other answers"], 0.0);

    let updates = bench(
        &url,
        &["peak-updates", "--updates", "200", "--connections", "4"],
        dir.path(),
    )
    .await;
    assert_eq!(updates["acknowledged (200)"], 100.0);
    assert_eq!(updates["acknowledged but not in the event log"], 0.0);

    let checkout = bench(
        &url,
        &[
            "checkout",
            "--seconds",
            "2",
            "--warmup",
            "0",
            "--skus",
            "40",
            "--connections",
            "4",
            "--no-ceiling",
        ],
        dir.path(),
    )
    .await;
    assert_eq!(checkout["errors"], 0.0);
    assert!(checkout["orders placed per second"] > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loader_fills_a_folder_that_read_then_reads() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("loaded");
    let data_arg = data.to_str().unwrap().to_owned();
    let load = bench(
        "",
        &[
            "load",
            "--orders",
            "1500",
            "--customers",
            "30",
            "--skus",
            "40",
            "--data-dir",
            &data_arg,
        ],
        dir.path(),
    )
    .await;
    assert_eq!(load["orders loaded"], 1500.0);

    let url = serve(&data).await;
    let read = bench(
        &url,
        &[
            "read",
            "--rate",
            "200",
            "--seconds",
            "1",
            "--customers",
            "5",
            "--data-dir",
            &data_arg,
        ],
        dir.path(),
    )
    .await;
    assert_eq!(read["orders loaded"], 1500.0);
    assert_eq!(read["errors"], 0.0);
    // Every one of the 200 requests was answered (none dropped by the open-loop dispatch).
    assert_eq!(read["answered"], 200.0);
}
