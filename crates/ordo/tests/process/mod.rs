//! A real `ordo serve` process for the tests that must stop, kill or starve one (durability,
//! faults), and the few reads they check its data with.

#![allow(dead_code, reason = "each test file uses the helpers it needs")]

pub mod localstripe;
pub mod smtp;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

/// The demo's SKU the process tests order.
pub const SKU: &str = "NL-JKT-M";

pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The database a process test's server runs on: SQLite in its data folder, or a fresh
/// PostgreSQL database of its own (dropped with this).
pub struct Database {
    pg: Option<(ordo_store_postgres::testing::DatabaseGuard, String)>,
}

impl Database {
    /// SQLite, or with `postgres` a new PostgreSQL database; `None` when PostgreSQL is not here
    /// (the test skips; where PostgreSQL is required, creating it fails the test instead).
    pub async fn on(postgres: bool) -> Option<Database> {
        if !postgres {
            return Some(Database { pg: None });
        }
        let pg = ordo_store_postgres::testing::TestDatabase::create_empty().await?;
        Some(Database { pg: Some(pg) })
    }

    /// The PostgreSQL database's URL (`None` on SQLite).
    pub fn url(&self) -> Option<&str> {
        self.pg.as_ref().map(|(_, url)| url.as_str())
    }

    /// The `ordo serve` arguments that name it (none for SQLite: the data folder holds it).
    pub fn args(&self) -> Vec<String> {
        match &self.pg {
            Some((_, url)) => vec!["--database-url".into(), url.clone()],
            None => Vec::new(),
        }
    }
}

pub fn serve(data: &std::path::Path) -> Server {
    serve_with(data, &[])
}

/// `ordo serve --demo` over `data`, with more arguments.
pub fn serve_with(data: &std::path::Path, args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(args)
        .env("ORDO_LOG", "warn")
        .env_remove("ORDO_DATABASE_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run ordo serve");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let base = loop {
        let line = lines.next().expect("ordo exited before listening").unwrap();
        if let Some(rest) = line.strip_prefix("Ordo is listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    // Keep reading so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server { child, base }
}

pub async fn login(client: &reqwest::Client, base: &str, email: &str) -> String {
    let body: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": ordo_app::demo::PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["token"].as_str().unwrap().to_owned()
}

/// GET `url` as `token`; the body as JSON (Null when it is not 200).
pub async fn get_json(client: &reqwest::Client, url: String, token: &str) -> Value {
    let response = client.get(url).bearer_auth(token).send().await.unwrap();
    if response.status() != 200 {
        return Value::Null;
    }
    response.json().await.unwrap()
}

pub async fn reserved(client: &reqwest::Client, base: &str, admin: &str) -> i64 {
    let stock = get_json(client, format!("{base}/api/v1/inventory/{SKU}"), admin).await;
    stock["locations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["reserved"].as_i64().unwrap())
        .sum()
}

/// Units of the SKU in the customer's pending orders, over every page of their orders.
pub async fn pending_units(client: &reqwest::Client, base: &str, token: &str) -> i64 {
    let mut units = 0;
    let mut after: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/orders?limit=100&status=pending_payment");
        if let Some(a) = &after {
            url.push_str(&format!("&starting_after={a}"));
        }
        let page = get_json(client, url, token).await;
        let orders = page["data"].as_array().unwrap();
        units += orders
            .iter()
            .flat_map(|o| o["items"].as_array().unwrap().iter())
            .filter(|l| l["sku"] == SKU)
            .map(|l| l["quantity"].as_i64().unwrap())
            .sum::<i64>();
        if page["has_more"] != true {
            return units;
        }
        after = orders.last().map(|o| o["id"].as_str().unwrap().to_owned());
    }
}
