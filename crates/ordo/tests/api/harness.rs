//! `TestApp`: a real Ordo server on port 0 over a fresh database, and typed helpers that read
//! like the API. Each test gets its own SQLite file (in a temp folder) or its own PostgreSQL
//! database (dropped when the test ends, pass or fail).

use std::sync::Arc;

use ordo::{Backend, DatabaseConfig};
use ordo_app::clock::ManualClock;
use ordo_app::users::NewUser;
use ordo_app::{App, Settings};
use ordo_domain::identity::Actor;
use ordo_store::Store;
use ordo_store_postgres::testing;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub const PASSWORD: &str = "correct horse battery";

/// Generates one test per backend for each scenario `async fn name(app: TestApp)`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = crate::harness::TestApp::spawn(crate::harness::Kind::Sqlite).await.expect("sqlite");
                    super::$name(app).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(app) = crate::harness::TestApp::spawn(crate::harness::Kind::Postgres).await else { return };
                    super::$name(app).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;

/// Generates one test per backend for each scenario `async fn name(kind: Kind)` that spawns its
/// own server (with its own settings); a scenario returns early when its backend is missing.
macro_rules! on_both_kinds {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::harness::Kind::Sqlite).await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::harness::Kind::Postgres).await;
                }
            )*
        }
    };
}
pub(crate) use on_both_kinds;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// Where a test's data lives; dropping it removes the data.
enum Data {
    /// Held only so the folder is deleted when the test ends.
    Sqlite(#[allow(dead_code, reason = "kept for its Drop")] tempfile::TempDir),
    Postgres(#[allow(dead_code, reason = "kept for its Drop")] testing::DatabaseGuard),
}

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    /// The server's application, for what a test drives directly (background jobs).
    pub app: App,
    /// The server's clock: it stands still until a test moves it.
    pub clock: Arc<ManualClock>,
    pub kind: Kind,
    config: DatabaseConfig,
    backend: Option<Backend>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    admin_token: String,
    settings: Settings,
    /// Other nodes' backends, kept open for the test.
    others: Vec<Backend>,
    // Last, so the database outlives every connection to it.
    _data: Data,
}

/// Runs `$body` with `$conn` a fresh connection to the test's own database (SQLite file or
/// PostgreSQL database): written once, typed per driver.
macro_rules! with_connection {
    ($app:ident, |$conn:ident| $body:expr) => {{
        use sqlx::Connection;
        match $app.kind {
            Kind::Sqlite => {
                let file = ordo::database_file(&$app.config.data_dir);
                let url = format!("sqlite://{}", file.display());
                let mut c = sqlx::SqliteConnection::connect(&url).await.expect("sqlite");
                let $conn = &mut c;
                $body
            }
            Kind::Postgres => {
                let url = $app.config.database_url.clone().expect("url");
                let mut c = sqlx::PgConnection::connect(&url).await.expect("postgres");
                let $conn = &mut c;
                $body
            }
        }
    }};
}

/// Who a request is sent as.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    Bearer(&'a str),
    CartToken(&'a str),
    Guest,
}

/// A response: status and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Res {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Res {
    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self.body
    }

    /// Asserts an error in the one error shape with this status and code; returns the error.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        let err = &self.body["error"];
        assert_eq!(err["code"], code, "unexpected error code: {}", self.body);
        assert!(
            err["type"].is_string() && err["message"].is_string(),
            "not the error shape: {}",
            self.body
        );
        err.clone()
    }
}

/// Counts a burst's answers: (201s, 409s with `refusal`). Anything else fails the test — a
/// 500, a 503 or a different refusal is never an acceptable outcome of a race.
#[track_caller]
pub fn tally(results: &[Res], refusal: &str) -> (usize, usize) {
    let (mut placed, mut refused) = (0, 0);
    for r in results {
        match r.status.as_u16() {
            201 => placed += 1,
            409 if r.body["error"]["code"] == refusal => refused += 1,
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    (placed, refused)
}

/// A vendor with one product, its staff login and stock at `main`.
pub struct Shop {
    pub vendor_id: String,
    pub token: String,
    pub sku: String,
}

impl TestApp {
    /// Starts a server on a fresh database; `None` when PostgreSQL is absent and not required.
    pub async fn spawn(kind: Kind) -> Option<TestApp> {
        Self::spawn_with(kind, Settings::default()).await
    }

    /// As [`TestApp::spawn`], with chosen settings (a short reservation time, say). Background
    /// jobs do not run by themselves: a test runs them with [`TestApp::run_jobs`], after moving
    /// the clock if it needs time to pass.
    pub async fn spawn_with(kind: Kind, settings: Settings) -> Option<TestApp> {
        let settings = Settings {
            job_poll: None,
            ..settings
        };
        let (data, config) = match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let config = DatabaseConfig {
                    data_dir: dir.path().to_owned(),
                    database_url: None,
                };
                (Data::Sqlite(dir), config)
            }
            Kind::Postgres => {
                let (guard, url) = testing::TestDatabase::create_empty().await?;
                let config = DatabaseConfig {
                    data_dir: std::env::temp_dir(),
                    database_url: Some(url),
                };
                (Data::Postgres(guard), config)
            }
        };
        let backend = Backend::open(&config).await.expect("open the database");
        let clock = Arc::new(ManualClock::starting_now());
        let app = App::with_clock(backend.store(), settings.clone(), Arc::clone(&clock) as _);
        // The first admin, as `ordo users create` makes it.
        app.create_user(
            &Actor::system(),
            ordo_domain::identity::Proof::SYSTEM,
            NewUser {
                email: "admin@test.example".into(),
                password: PASSWORD.into(),
                role: "admin".into(),
                vendor_id: None,
            },
        )
        .await
        .expect("bootstrap admin");
        let mut t = TestApp {
            base: String::new(),
            client: ordo_app::webhooks::http_client(),
            store: backend.store(),
            app: app.clone(),
            clock,
            kind,
            config,
            backend: Some(backend),
            stop: None,
            server: None,
            admin_token: String::new(),
            settings,
            others: Vec::new(),
            _data: data,
        };
        t.start(app).await;
        t.admin_token = t.login("admin@test.example", PASSWORD).await;
        Some(t)
    }

    async fn start(&mut self, app: App) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        self.base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        self.stop = Some(tx);
        self.server = Some(tokio::spawn(ordo::launch(listener, app, async {
            let _ = rx.await;
        })));
    }

    /// Stops the server (draining requests), closes the database, and starts both again.
    pub async fn restart(&mut self) {
        self.stop.take().expect("running").send(()).ok();
        self.server
            .take()
            .expect("running")
            .await
            .expect("join")
            .expect("served");
        self.backend.take().expect("open").close().await;
        let backend = Backend::open(&self.config)
            .await
            .expect("reopen the database");
        self.store = backend.store();
        let app = App::with_clock(
            backend.store(),
            self.settings.clone(),
            Arc::clone(&self.clock) as _,
        );
        self.app = app.clone();
        self.backend = Some(backend);
        self.start(app).await;
    }

    /// The SQLite writer's fault switches (SQLite only).
    pub fn sqlite_faults(&self) -> &ordo_store_sqlite::faults::Faults {
        match self.backend.as_ref().expect("open") {
            Backend::Sqlite(s) => s.faults(),
            Backend::Postgres(_) => panic!("fault switches exist on SQLite only"),
        }
    }

    /// A second server over the same store, without `ordo::launch`'s fail-stop watch: it keeps
    /// serving whatever the store does, so a test can ask it what the store now says. Stops
    /// when the test's runtime ends.
    pub async fn second_server(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let app = App::with_clock(
            Arc::clone(&self.store),
            self.settings.clone(),
            Arc::clone(&self.clock) as _,
        );
        tokio::spawn(ordo_http::serve(listener, app, std::future::pending()));
        base
    }

    /// A second node: its own connections to the same database, its own caches, started as
    /// `ordo serve` starts (with its auth-change follower). Returns its base URL.
    pub async fn second_node(&mut self) -> String {
        let backend = Backend::open(&self.config)
            .await
            .expect("open the database");
        let app = App::with_clock(
            backend.store(),
            self.settings.clone(),
            Arc::clone(&self.clock) as _,
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(ordo::launch(listener, app, std::future::pending()));
        self.others.push(backend);
        base
    }

    /// Waits (at most 30 s) for the server to stop by itself, and returns how it ended.
    pub async fn server_exit(&mut self) -> anyhow::Result<()> {
        let server = self.server.take().expect("running");
        tokio::time::timeout(std::time::Duration::from_secs(30), server)
            .await
            .expect("the server stopped within 30 s")
            .expect("join")
    }

    /// A connection of the test's own to its PostgreSQL database (panics on SQLite).
    pub async fn raw_postgres(&self) -> sqlx::PgConnection {
        use sqlx::Connection;
        let url = self.config.database_url.clone().expect("a PostgreSQL test");
        sqlx::PgConnection::connect(&url).await.expect("postgres")
    }

    /// Moves the server's clock forward.
    pub fn advance(&self, by: chrono::Duration) {
        self.clock.advance(by);
    }

    /// Runs the background jobs due now (as each node's worker does every second), until a
    /// round claims nothing; returns what became of them.
    pub async fn run_jobs(&self) -> ordo_app::jobs::JobsRun {
        self.app
            .schedule_recurring_jobs()
            .await
            .expect("schedule the recurring jobs");
        let mut total = ordo_app::jobs::JobsRun::default();
        // Bounded: jobs due now, then the ones they enqueued for now.
        for _ in 0..10 {
            let run = self.app.run_due_jobs().await.expect("run due jobs");
            if run.claimed() == 0 {
                return total;
            }
            total.done += run.done;
            total.retried += run.retried;
            total.dead += run.dead;
        }
        panic!("jobs kept coming due for ten rounds");
    }

    pub fn admin(&self) -> &str {
        &self.admin_token
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Res {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Res {
            status,
            body,
            headers,
        }
    }

    /// A request with an optional bearer token and an optional guest `Cart-Token`.
    pub async fn cart_call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        cart_token: Option<&str>,
        body: Option<Value>,
    ) -> Res {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(t) = cart_token {
            req = req.header("Cart-Token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let (status, headers) = (res.status(), res.headers().clone());
        let text = res.text().await.expect("body");
        Res {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
        }
    }

    /// A guest cart (no login) holding `quantity` of `sku`, addressed: its id and token.
    pub async fn guest_cart(&self, sku: &str, quantity: i64) -> (String, String) {
        let cart = self
            .cart_call(
                reqwest::Method::POST,
                "/api/v1/carts",
                None,
                None,
                Some(
                    json!({ "currency": "EUR", "lines": [{ "sku": sku, "quantity": quantity }],
                             "shipping_address": address() }),
                ),
            )
            .await
            .expect(201);
        (
            cart["id"].as_str().expect("id").to_owned(),
            cart["cart_token"].as_str().expect("token").to_owned(),
        )
    }

    pub async fn delete(&self, path: &str, token: &str) -> Res {
        self.request(reqwest::Method::DELETE, path, Some(token), None)
            .await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Res {
        self.request(reqwest::Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// `n` customers with live sessions, written straight to the database: a flash sale of
    /// a thousand buyers would otherwise spend a minute hashing a thousand passwords. The
    /// tokens are ordinary session tokens, checked by the server like any other.
    pub async fn many_customers(&self, n: usize) -> Vec<String> {
        let now = chrono::Utc::now();
        let mut tokens = Vec::with_capacity(n);
        let mut rows = Vec::with_capacity(n);
        for _ in 0..n {
            let token = format!(
                "{}{}",
                ordo_app::auth::TOKEN_PREFIX,
                uuid::Uuid::new_v4().simple()
            );
            let user = ordo_domain::identity::User {
                id: ordo_domain::ids::UserId::new(),
                email: ordo_domain::identity::EmailAddress::parse(&format!(
                    "buyer-{}@test.example",
                    uuid::Uuid::now_v7().simple()
                ))
                .expect("email"),
                role: ordo_domain::identity::Role::Customer,
                vendor_id: None,
            };
            rows.push((user, ordo_app::auth::token_hash(&token)));
            tokens.push(token);
        }
        ordo_store::write(&*self.store, move |tx| {
            Box::pin(async move {
                for (user, hash) in &rows {
                    tx.insert_user(user, "not-a-password-hash", now).await?;
                    tx.insert_session(&ordo_store::Session {
                        token_hash: hash.clone(),
                        user_id: user.id,
                        created_at: now,
                        expires_at: now + chrono::Duration::hours(1),
                        fresh_until: None,
                    })
                    .await?;
                }
                Ok::<_, ordo_store::StoreError>(())
            })
        })
        .await
        .expect("customers");
        tokens
    }

    /// Every outbox message of `topic`, as JSON.
    pub async fn outbox(&self, topic: &str) -> Vec<Value> {
        self.store
            .outbox(0, 100_000)
            .await
            .expect("outbox")
            .into_iter()
            .filter(|(_, m)| m.topic == topic)
            .map(|(_, m)| serde_json::from_str(m.payload.get()).expect("json"))
            .collect()
    }

    pub async fn get(&self, path: &str, token: &str) -> Res {
        self.request(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Res {
        self.request(reqwest::Method::POST, path, Some(token), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Res {
        self.request(reqwest::Method::PUT, path, Some(token), Some(body))
            .await
    }

    /// Any request: an optional bearer token, guest cart token and Idempotency-Key, and a body
    /// sent as the JSON text given (so a test controls the order of its fields).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        auth: Auth<'_>,
        key: Option<&str>,
        body: Option<String>,
    ) -> Res {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        match auth {
            Auth::Bearer(t) => req = req.bearer_auth(t),
            Auth::CartToken(t) => req = req.header("Cart-Token", t),
            Auth::Guest => {}
        }
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let res = req.send().await.expect("request");
        let (status, headers) = (res.status(), res.headers().clone());
        let text = res.text().await.expect("body");
        Res {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::Null),
            headers,
        }
    }

    /// Rows a query counts, straight from the test's database (for what no endpoint shows).
    pub async fn count(&self, sql: &str) -> i64 {
        let query = sqlx::AssertSqlSafe(sql.to_owned());
        with_connection!(self, |conn| sqlx::query_scalar(query)
            .fetch_one(conn)
            .await
            .expect("count"))
    }

    /// An id as a SQL literal for this test's database (a BLOB on SQLite, text on PostgreSQL),
    /// for the statements that break data on purpose.
    pub fn sql_id(&self, id: &str) -> String {
        match self.kind {
            Kind::Sqlite => format!("x'{}'", id.replace('-', "")),
            Kind::Postgres => format!("'{id}'"),
        }
    }

    /// Runs one statement straight on the test's database, to break data on purpose.
    pub async fn execute(&self, sql: &str) {
        if let Err(e) = self.try_execute(sql).await {
            panic!("execute: {e}");
        }
    }

    /// Runs one statement straight on the test's database; the database's refusal, if any.
    pub async fn try_execute(&self, sql: &str) -> Result<(), String> {
        let query = sqlx::AssertSqlSafe(sql.to_owned());
        with_connection!(self, |conn| sqlx::query(query)
            .execute(conn)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string()))
    }

    /// Sends raw bytes, for bodies that are not valid JSON.
    pub async fn post_raw(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Res {
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.json().await.unwrap_or(Value::Null);
        Res {
            status,
            body,
            headers,
        }
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let body = self
            .request(
                reqwest::Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({ "email": email, "password": password })),
            )
            .await
            .expect(200);
        body["token"].as_str().expect("token").to_owned()
    }

    /// Creates a user (as admin) and logs in as them.
    pub async fn user(&self, role: &str, vendor_id: Option<&str>) -> (String, String) {
        let email = format!("{role}-{}@test.example", uuid::Uuid::now_v7().simple());
        let user = self
            .post("/api/v1/users", self.admin(), json!({ "email": email, "password": PASSWORD, "role": role, "vendor_id": vendor_id }))
            .await
            .expect(201);
        (
            user["id"].as_str().expect("id").to_owned(),
            self.login(&email, PASSWORD).await,
        )
    }

    pub async fn customer(&self) -> String {
        self.user("customer", None).await.1
    }

    /// A vendor selling one SKU at 12.50 EUR / 13.00 USD with `on_hand` units at `main`.
    pub async fn shop(&self, on_hand: i64) -> Shop {
        let tag = uuid::Uuid::now_v7().simple().to_string();
        let vendor = self
            .post(
                "/api/v1/vendors",
                self.admin(),
                json!({ "name": format!("Shop {tag}") }),
            )
            .await
            .expect(201);
        let vendor_id = vendor["id"].as_str().expect("id").to_owned();
        let (_, token) = self.user("vendor", Some(&vendor_id)).await;
        let sku = format!("SKU-{}", &tag[tag.len() - 12..]);
        self.post(
            "/api/v1/products",
            &token,
            json!({ "vendor_id": vendor_id, "title": "Mug ☕", "variants": [{ "sku": sku, "prices": [
                { "currency": "EUR", "amount": 1250 }, { "currency": "USD", "amount": 1300 }] }] }),
        )
        .await
        .expect(201);
        self.put(
            &format!("/api/v1/inventory/{sku}"),
            &token,
            json!({ "on_hand": on_hand }),
        )
        .await
        .expect(200);
        Shop {
            vendor_id,
            token,
            sku,
        }
    }

    pub async fn stock(&self, shop: &Shop) -> (i64, i64, i64) {
        let s = self
            .get(&format!("/api/v1/inventory/{}", shop.sku), &shop.token)
            .await
            .expect(200);
        (
            s["on_hand"].as_i64().unwrap(),
            s["reserved"].as_i64().unwrap(),
            s["available"].as_i64().unwrap(),
        )
    }

    /// Places an order for `quantity` of one SKU.
    pub async fn order(&self, token: &str, sku: &str, quantity: i64, key: Option<&str>) -> Res {
        let mut req = self
            .client
            .post(format!("{}/api/v1/orders", self.base))
            .bearer_auth(token)
            .json(&order_body(sku, quantity));
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        Res {
            status,
            body: res.json().await.unwrap_or(Value::Null),
            headers,
        }
    }

    /// Places an order for `quantity` of one SKU in EUR, paying with `method` when given.
    pub async fn order_paying(
        &self,
        token: &str,
        sku: &str,
        quantity: i64,
        method: Option<&str>,
    ) -> Res {
        let mut body = json!({ "currency": "EUR", "items": [{ "sku": sku, "quantity": quantity }],
                               "shipping_address": address() });
        if let Some(m) = method {
            body["payment_method"] = json!(m);
        }
        self.post("/api/v1/orders", token, body).await
    }

    pub async fn act(&self, token: &str, order_id: &str, action: &str, body: Value) -> Res {
        self.post(
            &format!("/api/v1/orders/{order_id}/actions/{action}"),
            token,
            body,
        )
        .await
    }

    pub async fn events(&self, token: &str, order_id: &str) -> Vec<Value> {
        let body = self
            .get(&format!("/api/v1/orders/{order_id}/events"), token)
            .await
            .expect(200);
        body["data"].as_array().expect("data").clone()
    }
}

pub fn address() -> Value {
    json!({ "name": "Zoë Ünal 🏠", "line1": "東京都港区 1-2-3 🏢", "line2": "Étage 2, porte «B»", "city": "Zürich",
            "region": "ZH", "postal_code": "8001", "country": "CH" })
}

pub fn order_body(sku: &str, quantity: i64) -> Value {
    json!({ "currency": "EUR", "items": [{ "sku": sku, "quantity": quantity }], "shipping_address": address() })
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// One Server-Sent Events message as a client sees it.
#[derive(Debug, Clone)]
pub struct SseMessage {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: Value,
}

/// A client of a live stream: the response, read as it comes, message by message.
pub struct SseClient {
    res: reqwest::Response,
    buf: String,
}

impl SseClient {
    /// Opens `path` as a stream (with `Last-Event-ID` when given); panics unless it is one.
    pub async fn open(base: &str, path: &str, token: &str, last_event_id: Option<&str>) -> Self {
        let res = Self::request(base, path, token, last_event_id).await;
        assert_eq!(res.status(), 200, "stream {path} opens");
        let kind = res.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            kind.starts_with("text/event-stream"),
            "{path} answers a stream, not {kind}"
        );
        Self {
            res,
            buf: String::new(),
        }
    }

    /// Asks for `path` as a stream, as a client following it would.
    pub async fn request(
        base: &str,
        path: &str,
        token: &str,
        last_event_id: Option<&str>,
    ) -> reqwest::Response {
        let mut req = ordo_app::webhooks::http_client()
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .header("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        req.send().await.expect("stream request")
    }

    /// The status a stream request is answered with (for one that is refused).
    pub async fn status(base: &str, path: &str, token: &str, last_event_id: Option<&str>) -> u16 {
        Self::request(base, path, token, last_event_id)
            .await
            .status()
            .as_u16()
    }

    /// The next message with data (comments and `retry:` skipped), or `None` if the stream
    /// ended; fails the test if none comes within `within`.
    pub async fn next(&mut self, within: std::time::Duration) -> Option<SseMessage> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut event, mut data) = (None, None, Vec::new());
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        event = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                    }
                }
                if !data.is_empty() {
                    let text = data.join("\n");
                    return Some(SseMessage {
                        id,
                        event,
                        data: serde_json::from_str(&text).unwrap_or(Value::String(text)),
                    });
                }
            }
            match tokio::time::timeout_at(deadline, self.res.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Ok(None) | Err(_)) => return None,
                Err(_) => panic!("no stream message within {within:?}"),
            }
        }
    }

    /// The next `n` messages, each within `within`.
    pub async fn take(&mut self, n: usize, within: std::time::Duration) -> Vec<SseMessage> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.next(within).await.expect("the stream ended early"));
        }
        out
    }
}
