//! The `ordo` binary as a user runs it: create the first admin from the command line, serve
//! with the demo data, log in, and stop cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

fn ordo() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ordo"));
    c.env("ORDO_LOG_FORMAT", "json")
        .env_remove("ORDO_DATABASE_URL");
    c
}

fn create_user(
    data_dir: &std::path::Path,
    email: &str,
    role: &str,
    password: &str,
) -> std::process::Output {
    let mut child = ordo()
        .args([
            "users",
            "create",
            "--email",
            email,
            "--role",
            role,
            "--password-stdin",
            "--data-dir",
        ])
        .arg(data_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ordo users create");
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

/// Kills the server if the test fails before stopping it.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
    }
}

#[tokio::test]
async fn the_binary_creates_users_serves_the_demo_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let out = create_user(&data, "root@shop.example", "admin", "a long admin password");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created["role"], "admin");
    let again = create_user(&data, "root@shop.example", "admin", "a long admin password");
    assert!(
        !again.status.success(),
        "a second account with the same e-mail was created"
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has an account"));
    let bad = create_user(&data, "x@shop.example", "wizard", "a long admin password");
    assert!(!bad.status.success());

    let (mut server, base, printed) = serve_demo(&data);
    assert!(
        printed.contains("ada@customer.example"),
        "demo logins are printed:\n{printed}"
    );
    assert!(printed.contains(ordo_app::demo::PASSWORD));

    let client = ordo_app::webhooks::http_client();
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let login = |email: &'static str, password: &'static str| {
        client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({ "email": email, "password": password }))
            .send()
    };
    assert_eq!(
        login("root@shop.example", "a long admin password")
            .await
            .unwrap()
            .status(),
        200
    );
    let ada: Value = login("ada@customer.example", ordo_app::demo::PASSWORD)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let orders: Value = client
        .get(format!("{base}/api/v1/orders"))
        .bearer_auth(ada["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = orders["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses.len(),
        4,
        "the demo customer has orders in several states: {statuses:?}"
    );
    assert!(statuses.contains(&"completed") && statuses.contains(&"paid"));

    let pid = server.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = server.0.wait().unwrap();
    assert!(
        status.success(),
        "ordo serve exits 0 on SIGTERM, got {status}"
    );

    let out = ordo()
        .args(["migrate", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("sqlite database is up to date"));

    // A second start with --demo on the same folder does not load the demo twice: Ada still
    // has her four orders, and there is still one vendor of each name.
    let (_again, base, _) = serve_demo(&data);
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "email": "ada@customer.example", "password": ordo_app::demo::PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let orders: Value = client
        .get(format!("{base}/api/v1/orders"))
        .bearer_auth(login["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(orders["data"].as_array().unwrap().len(), 4, "{orders}");
}

/// Starts `ordo serve --demo` on `data`; returns the server, its base URL and what it printed
/// up to its listening line.
fn serve_demo(data: &std::path::Path) -> (Server, String, String) {
    let mut child = ordo()
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run ordo serve");
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut printed = String::new();
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let Some(line) = lines.next() else {
            panic!("no listening line in:\n{printed}");
        };
        let line = line.unwrap();
        printed.push_str(&line);
        printed.push('\n');
        if let Some(rest) = line.strip_prefix("Ordo is listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep reading so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (server, base, printed)
}

#[tokio::test]
async fn the_binary_runs_on_postgresql_from_the_environment() {
    let Some((_guard, url)) = ordo_store_postgres::testing::TestDatabase::create_empty().await
    else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(["migrate"])
        .env("ORDO_DATABASE_URL", &url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("postgres database is up to date"));
}

/// `ordo pricing import` applies a whole file of rules, refuses a bad file with the entry and
/// field at fault (storing nothing), and `ordo pricing show` prints what is stored.
#[test]
fn pricing_rules_are_imported_from_a_file_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        ordo()
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .expect("run ordo")
    };
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        json!({ "tax_rules": [
            { "country": "DE", "rate": "19", "mode": "inclusive", "name": "MwSt." },
            { "country": "ZZ", "rate": "5", "mode": "inclusive", "name": "nowhere" } ] })
        .to_string(),
    )
    .unwrap();
    let out = run(&["pricing", "import", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("tax_rules[1].country"), "{err}");

    // Valid entries, but one names a SKU nobody sells: refused at the database, nothing kept.
    let unknown = dir.path().join("unknown.json");
    std::fs::write(
        &unknown,
        json!({ "tax_rules": [{ "country": "FR", "rate": "20", "mode": "inclusive", "name": "TVA" }],
                "prices": [{ "sku": "NOBODY-SELLS", "currency": "EUR", "amount": 100 }] })
        .to_string(),
    )
    .unwrap();
    let out = run(&["pricing", "import", unknown.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("prices[0].sku"), "{err}");

    let good = dir.path().join("rules.json");
    std::fs::write(
        &good,
        json!({
            "tax_rules": [{ "country": "US", "region": "NY", "rate": "4", "mode": "exclusive", "name": "NY" }],
            "shipping_rates": [{ "name": "World", "price": { "amount": 990, "currency": "EUR" } }],
            "fx_rates": [{ "from": "EUR", "to": "GBP", "rate": "0.8571", "rounding": "half_even" }],
            "promotions": [{ "code": "hello5", "name": "5 off", "amount": { "amount": 500, "currency": "EUR" }, "usage_limit": 10 }]
        })
        .to_string(),
    )
    .unwrap();
    let out = run(&["pricing", "import", good.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary,
        json!({ "prices": 0, "fx_rates": 1, "tax_rules": 1, "shipping_rates": 1, "promotions": 1 })
    );
    let out = run(&["pricing", "show"]);
    assert!(out.status.success());
    let book: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Only the good file's rules: the bad files stored nothing.
    assert_eq!(book["tax"].as_array().unwrap().len(), 1);
    assert_eq!(book["tax"][0]["region"], "NY");
    assert_eq!(book["fx"][0]["rounding"], "half_even");
    assert_eq!(book["promotions"][0]["code"], "HELLO5");
    assert_eq!(book["promotions"][0]["usage_limit"], 10);
}

/// `ordo jobs`: a dead job is listed (table and JSON), retried, refused a second retry, and
/// old jobs are purged.
#[tokio::test]
async fn dead_jobs_are_listed_retried_and_purged_from_the_command_line() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let run = |args: &[&str]| {
        let out = ordo()
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    assert!(run(&["migrate"]).0);
    // A job that died (as a webhook delivery or e-mail does after its last attempt).
    let id = uuid::Uuid::now_v7();
    let url = format!("sqlite://{}", ordo::database_file(&data).display());
    let mut db = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query(
        "INSERT INTO jobs (id, kind, key, payload, state, run_at, attempts, last_error, \
         created_at, updated_at) VALUES ($1, 'notification.send', 'k1', '{}', 'dead', \
         '2026-01-01T00:00:00Z', 10, 'SMTP: connection refused', '2026-01-01T00:00:00Z', \
         '2026-01-01T00:00:00Z')",
    )
    .bind(id)
    .execute(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();

    let (ok, table, err) = run(&["jobs", "list", "--state", "dead"]);
    assert!(ok, "{err}");
    assert!(table.contains("dead 1"), "{table}");
    assert!(table.contains(&id.to_string()), "{table}");
    assert!(table.contains("SMTP: connection refused"), "{table}");
    let (ok, json, _) = run(&["jobs", "list", "--json"]);
    assert!(ok);
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["counts"]["dead"], 1);
    assert_eq!(json["data"][0]["kind"], "notification.send");

    let (ok, out, err) = run(&["jobs", "retry", &id.to_string()]);
    assert!(ok, "{err}");
    assert!(out.contains("queued again"), "{out}");
    let (ok, _, err) = run(&["jobs", "retry", &id.to_string()]);
    assert!(!ok, "only a dead job can be retried");
    assert!(err.contains("only a dead job"), "{err}");
    let (_, json, _) = run(&["jobs", "list", "--json", "--state", "queued"]);
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["data"][0]["id"], id.to_string());
    assert_eq!(json["data"][0]["attempts"], 0);
    let (ok, _, err) = run(&["jobs", "list", "--state", "stuck"]);
    assert!(!ok);
    assert!(err.contains("state"), "{err}");

    let (ok, out, err) = run(&["jobs", "purge", "--dead", "--older-than", "1h"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("Deleted 0 jobs"),
        "a queued job is kept: {out}"
    );
}
