//! The slice of Ordo's HTTP API the benchmarks drive, and the fixtures they seed through it.
//!
//! Everything goes over real HTTP, as a shop's clients would: the bench never reaches into the
//! server it measures (the ceiling and the bulk loader, which must, live elsewhere).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{StreamExt, stream};
use rand::RngExt;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::progress::bar;

/// The demo admin that `ordo serve --demo` creates; the bench seeds everything else with it.
pub const ADMIN_EMAIL: &str = "admin@ordo.example";
pub const PASSWORD: &str = ordo_app::demo::PASSWORD;

/// Keep-alive HTTP/1.1, up to `connections` sockets: how shops' web servers talk to an API.
pub fn http1(connections: usize) -> Client {
    ordo_app::webhooks::install_tls_provider();
    Client::builder()
        .pool_max_idle_per_host(connections)
        .timeout(Duration::from_secs(120))
        .tcp_nodelay(true)
        .build()
        .expect("an HTTP client")
}

/// HTTP/2 over cleartext (prior knowledge): one socket carries up to 200 requests at once
/// (hyper's default stream limit on the server), so tens of thousands of requests can be in
/// flight from one process without tens of thousands of sockets.
pub fn http2() -> Client {
    ordo_app::webhooks::install_tls_provider();
    Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(300))
        .tcp_nodelay(true)
        .build()
        .expect("an HTTP/2 client")
}

/// The answer to one request: what the bench classifies and times.
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub latency: Duration,
}

impl Answer {
    /// `201`, `409 insufficient_stock`, `transport`…: how errors are counted.
    pub fn kind(&self) -> String {
        let code = self.body["error"]["code"]
            .as_str()
            .or_else(|| self.body["code"].as_str());
        match code {
            Some(code) if !self.status.is_success() => format!("{} {code}", self.status.as_u16()),
            _ => self.status.as_u16().to_string(),
        }
    }
}

#[derive(Clone)]
pub struct Api {
    pub base: String,
    pub http: Client,
}

impl Api {
    pub fn new(base: &str, http: Client) -> Self {
        Self {
            base: format!("{}/api/v1", base.trim_end_matches('/')),
            http,
        }
    }

    pub fn with_client(&self, http: Client) -> Self {
        Self {
            base: self.base.clone(),
            http,
        }
    }

    /// Sends one request; a transport failure is an answer with status 599.
    pub async fn call(
        &self,
        method: reqwest::Method,
        token: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Answer {
        let started = Instant::now();
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if !token.is_empty() {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let body = response.json::<Value>().await.unwrap_or(Value::Null);
                Answer {
                    status,
                    body,
                    latency: started.elapsed(),
                }
            }
            Err(e) => Answer {
                status: StatusCode::from_u16(599).expect("a status"),
                body: json!({ "code": if e.is_timeout() { "timeout" } else { "transport" } }),
                latency: started.elapsed(),
            },
        }
    }

    pub async fn post(&self, token: &str, path: &str, body: &Value) -> Answer {
        self.call(reqwest::Method::POST, token, path, Some(body))
            .await
    }

    /// A web page (`path` from the server's root) as a signed-in browser asks for it: the
    /// session token in the `ordo_session` cookie. The body is HTML: the answer's is `null`.
    pub async fn page(&self, session: &str, path: &str) -> Answer {
        let started = Instant::now();
        let root = self.base.trim_end_matches("/api/v1");
        let sent = self
            .http
            .get(format!("{root}{path}"))
            .header(reqwest::header::COOKIE, format!("ordo_session={session}"))
            .send()
            .await;
        match sent {
            Ok(response) => {
                let status = response.status();
                // Read the whole page: its time is part of the answer's.
                let _ = response.bytes().await;
                Answer {
                    status,
                    body: Value::Null,
                    latency: started.elapsed(),
                }
            }
            Err(e) => Answer {
                status: StatusCode::from_u16(599).expect("a status"),
                body: json!({ "code": if e.is_timeout() { "timeout" } else { "transport" } }),
                latency: started.elapsed(),
            },
        }
    }

    pub async fn get(&self, token: &str, path: &str) -> Answer {
        self.call(reqwest::Method::GET, token, path, None).await
    }

    pub fn expect(&self, answer: Answer, what: &str) -> anyhow::Result<Value> {
        if !answer.status.is_success() {
            bail!("{what} failed: {} {}", answer.status, answer.body);
        }
        Ok(answer.body)
    }

    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let answer = self
            .post(
                "",
                "/auth/login",
                &json!({ "email": email, "password": password }),
            )
            .await;
        let body = self.expect(answer, &format!("login as {email}"))?;
        body["token"]
            .as_str()
            .map(str::to_owned)
            .context("login answered without a token")
    }

    /// Seeds what a scenario needs, as the demo admin, under names of its own (so runs against
    /// one server do not collide): `skus` SKUs with `on_hand` units each, and `customers`
    /// customers logged in.
    pub async fn shop(
        &self,
        scenario: &str,
        skus: usize,
        on_hand: i64,
        customers: usize,
    ) -> anyhow::Result<Shop> {
        let admin = self.admin().await?;
        let tag = format!("{scenario}{}", std::process::id());
        let seeding = bar(skus as u64, "seeding the catalog (SKUs)");
        let skus = self.catalog(&admin, &tag, skus, on_hand, &seeding).await?;
        seeding.finish();
        let logins = bar(customers as u64, "logging customers in");
        let customers = self.customers(&admin, &tag, customers, &logins).await?;
        logins.finish();
        Ok(Shop {
            admin,
            skus,
            customers,
        })
    }

    pub async fn admin(&self) -> anyhow::Result<String> {
        self.login(ADMIN_EMAIL, PASSWORD)
            .await
            .context("the bench seeds through the demo admin: start Ordo with --demo")
    }

    /// Creates `count` customers and logs each in; returns their tokens.
    pub async fn customers(
        &self,
        admin: &str,
        tag: &str,
        count: usize,
        progress: &indicatif::ProgressBar,
    ) -> anyhow::Result<Vec<String>> {
        let tokens = stream::iter(0..count)
            .map(|i| async move {
                let email = format!("{tag}-{i}@bench.example");
                let body = json!({ "email": email, "password": PASSWORD, "role": "customer" });
                self.expect(self.post(admin, "/users", &body).await, "create a customer")?;
                let token = self.login(&email, PASSWORD).await;
                progress.inc(1);
                token
            })
            .buffer_unordered(8)
            .collect::<Vec<_>>()
            .await;
        tokens.into_iter().collect()
    }

    /// A vendor with `skus` SKUs (ten per product, priced in EUR), each stocked with
    /// `on_hand` units; returns the SKUs.
    pub async fn catalog(
        &self,
        admin: &str,
        tag: &str,
        skus: usize,
        on_hand: i64,
        progress: &indicatif::ProgressBar,
    ) -> anyhow::Result<Vec<String>> {
        let vendor = self.expect(
            self.post(
                admin,
                "/vendors",
                &json!({ "name": format!("Bench {tag}") }),
            )
            .await,
            "create the vendor",
        )?;
        let vendor_id = vendor["id"].as_str().context("vendor id")?.to_owned();
        let all: Vec<String> = (0..skus).map(|i| format!("{tag}-{i:06}")).collect();
        let products: Vec<&[String]> = all.chunks(10).collect();
        let results = stream::iter(products)
            .map(|chunk| {
                let vendor_id = vendor_id.clone();
                async move {
                    let variants: Vec<Value> = chunk
                        .iter()
                        .map(|sku| {
                            let price = rand::rng().random_range(500..20_000);
                            json!({ "sku": sku, "title": sku,
                                    "prices": [{ "currency": "EUR", "amount": price }] })
                        })
                        .collect();
                    let body = json!({ "vendor_id": vendor_id, "title": format!("Product {}", chunk[0]),
                                       "variants": variants });
                    self.expect(self.post(admin, "/products", &body).await, "create a product")?;
                    for sku in chunk {
                        let answer = self
                            .call(
                                reqwest::Method::PUT,
                                admin,
                                &format!("/inventory/{sku}"),
                                Some(&json!({ "on_hand": on_hand })),
                            )
                            .await;
                        self.expect(answer, "set stock")?;
                    }
                    progress.inc(chunk.len() as u64);
                    Ok::<_, anyhow::Error>(())
                }
            })
            .buffer_unordered(16)
            .collect::<Vec<_>>()
            .await;
        results.into_iter().collect::<anyhow::Result<Vec<()>>>()?;
        Ok(all)
    }
}

/// What [`Api::shop`] seeded: the admin's token, the SKUs, the customers' tokens.
pub struct Shop {
    pub admin: String,
    pub skus: Vec<String>,
    pub customers: Vec<String>,
}

/// An order of 1–5 distinct random SKUs, one to three units each.
pub fn random_order(skus: &[String]) -> Value {
    let mut rng = rand::rng();
    let lines = rng.random_range(1..=5);
    let mut items: Vec<Value> = Vec::with_capacity(lines);
    let mut seen = Vec::with_capacity(lines);
    while items.len() < lines {
        let sku = &skus[rng.random_range(0..skus.len())];
        if !seen.contains(&sku) {
            seen.push(sku);
            items.push(json!({ "sku": sku, "quantity": rng.random_range(1..=3) }));
        }
    }
    order_of(&items)
}

pub fn order_of(items: &[Value]) -> Value {
    json!({
        "currency": "EUR",
        "items": items,
        "shipping_address": {
            "name": "Ada Lovelace", "line1": "12 Analytical Row", "city": "London",
            "postal_code": "N1 7AA", "country": "GB"
        }
    })
}
