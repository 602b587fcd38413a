//! A full disk under `ordo serve`, for real: the data folder lives on a small tmpfs the test
//! mounts, and a filler file takes the rest of its space while customers keep ordering. The
//! commit that cannot be written must be answered 503 `outcome_unknown` (never "nothing
//! changed"), the server must stop taking writes and exit non-zero (fail-stop), and after a
//! restart with space again every order answered 201 is there, the unknown one is settled by
//! retrying its Idempotency-Key (placed exactly once), and stock adds up.
//!
//! Mounting needs root. Without it the test says it was skipped; with
//! `ORDO_TEST_REQUIRE_TMPFS=1` (as `.ci/run` sets) it fails instead.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

mod process;
use process::{SKU, login, pending_units, reserved, serve};

/// How long the test waits for the disk to fill or the server to exit before failing.
const DEADLINE: Duration = Duration::from_secs(180);

/// A tmpfs mounted for the test; unmounted when dropped (after the server using it is gone).
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            ordo_store::testing::missing(
                "TMPFS",
                "a tmpfs could not be mounted (run as root): the full-disk test needs one",
            );
            return None;
        }
        Some(Tmpfs(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Fills the filesystem under `path` with one file, then frees `headroom` bytes of it, so a
/// few more writes fit and then none.
fn fill(path: &Path, headroom: u64) -> std::fs::File {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    // Bounded: the tmpfs is a few MiB; the loop ends at ENOSPC long before this many chunks.
    for _ in 0..100_000 {
        if file.write_all(&chunk).is_err() {
            break;
        }
    }
    let _ = file.flush();
    let len = file.metadata().unwrap().len();
    file.set_len(len.saturating_sub(headroom)).unwrap();
    file
}

fn order() -> Value {
    json!({ "currency": "EUR", "items": [{ "sku": SKU, "quantity": 1 }],
        "shipping_address": { "name": "Ada", "line1": "1 Loop Road", "city": "London",
                              "postal_code": "N1", "country": "GB" } })
}

async fn place(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    key: &str,
) -> reqwest::Result<(u16, Option<String>, Value, bool)> {
    let response = client
        .post(format!("{base}/api/v1/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&order())
        .send()
        .await?;
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    let body = response.json().await.unwrap_or(Value::Null);
    Ok((status, retry_after, body, replayed))
}

#[tokio::test]
async fn a_full_disk_at_commit_is_an_unknown_outcome_and_a_fail_stop() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mount) = Tmpfs::mount(&dir.path().join("disk"), "24m") else {
        return;
    };
    let data = mount.0.join("data");
    let mut server = serve(&data);
    let client = ordo_app::webhooks::http_client();
    let admin = login(&client, &server.base, "admin@ordo.example").await;
    let put = client
        .put(format!("{}/api/v1/inventory/{SKU}", server.base))
        .bearer_auth(&admin)
        .json(&json!({ "on_hand": 1_000_000 }))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let reserved_before = reserved(&client, &server.base, &admin).await;
    let customer = login(&client, &server.base, "ada@customer.example").await;
    let pending_before = pending_units(&client, &server.base, &customer).await;

    let filler = mount.0.join("filler");
    let filled = fill(&filler, 256 * 1024);

    // Order until the disk refuses a commit, one request at a time, each with its own key.
    let mut acknowledged = Vec::new();
    let mut refused_known = 0;
    let unknown_key = tokio::time::timeout(DEADLINE, async {
        for _ in 0..50_000 {
            let key = uuid::Uuid::now_v7().to_string();
            // A background write (a job's bookkeeping, the relay) may meet the full disk first:
            // the server then stops without an order's outcome in doubt, and stops answering.
            let Ok((status, retry_after, body, _)) =
                place(&client, &server.base, &customer, &key).await
            else {
                return None;
            };
            match (status, body["error"]["code"].as_str()) {
                (201, _) => acknowledged.push(body["id"].as_str().unwrap().to_owned()),
                (503, Some("outcome_unknown")) => {
                    assert!(retry_after.is_some(), "a 503 says when to retry");
                    return Some(key);
                }
                // A write refused before its commit (the disk filled under a statement): a
                // known failure, nothing saved. Keep going until a commit meets the full disk.
                (503, Some("unavailable")) => refused_known += 1,
                _ => panic!("unexpected answer {status}: {body}"),
            }
        }
        panic!("the disk never filled");
    })
    .await
    .expect("a commit met the full disk within the deadline");
    eprintln!(
        "disk full after {} acknowledged orders ({refused_known} refused before their commit)",
        acknowledged.len()
    );
    assert!(
        !acknowledged.is_empty(),
        "some orders fit before the disk filled"
    );

    // Fail-stop: no more writes, not ready, and the process exits non-zero on its own.
    let (status, _, body, _) = place(
        &client,
        &server.base,
        &customer,
        &uuid::Uuid::now_v7().to_string(),
    )
    .await
    .unwrap_or((0, None, Value::Null, false));
    assert!(
        status == 0 || (status == 503 && body["error"]["code"] == "unavailable"),
        "a fail-stopped server takes no write: {status} {body}"
    );
    if let Ok(r) = client.get(format!("{}/readyz", server.base)).send().await {
        assert_eq!(r.status(), 503, "a fail-stopped server is not ready");
    }
    let exit = tokio::time::timeout(DEADLINE, async {
        loop {
            if let Some(status) = server.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the server exits by itself after a fail-stop");
    assert!(!exit.success(), "a fail-stop exits non-zero, got {exit}");
    drop(server);

    // Space again; SQLite's recovery at open decides what the failed commit left.
    drop(filled);
    std::fs::remove_file(&filler).unwrap();
    let server = serve(&data);
    let admin = login(&client, &server.base, "admin@ordo.example").await;
    for id in &acknowledged {
        let r = client
            .get(format!("{}/api/v1/orders/{id}", server.base))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "acknowledged order {id} was lost");
    }
    let customer = login(&client, &server.base, "ada@customer.example").await;
    let stored = pending_units(&client, &server.base, &customer).await - pending_before;
    let ack = acknowledged.len() as i64;
    let Some(unknown_key) = unknown_key else {
        // Stopped by a background commit: no order's outcome was in doubt.
        assert_eq!(stored, ack, "{refused_known} refused, none kept");
        assert_eq!(
            reserved(&client, &server.base, &admin).await - reserved_before,
            stored,
            "stock reserved matches the orders stored"
        );
        drop(server);
        drop(mount);
        return;
    };
    assert!(
        stored == ack || stored == ack + 1,
        "{stored} orders stored; {ack} acknowledged, 1 unknown and {refused_known} refused"
    );
    // The client's way out of an unknown outcome: the same request with the same key.
    let (status, _, body, replayed) = place(&client, &server.base, &customer, &unknown_key)
        .await
        .unwrap();
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        replayed,
        stored == ack + 1,
        "a retry replays exactly when the unknown commit had landed"
    );
    let (_, _, again, replayed_again) = place(&client, &server.base, &customer, &unknown_key)
        .await
        .unwrap();
    assert!(replayed_again);
    assert_eq!(again["id"], body["id"]);
    let stored = pending_units(&client, &server.base, &customer).await - pending_before;
    assert_eq!(stored, ack + 1, "placed exactly once, nothing refused kept");
    assert_eq!(
        reserved(&client, &server.base, &admin).await - reserved_before,
        stored,
        "stock reserved matches the orders stored"
    );
    drop(server);
    drop(mount);
}
