//! A real stand-in for Stripe in the tests: localstripe from PyPI (pinned in
//! `.ci/requirements.txt`, installed into `.venv/` by `.ci/run`) on 127.0.0.1, a stateful fake
//! Stripe server nobody here wrote. Without it the tests are skipped, unless
//! `ORDO_TEST_REQUIRE_STRIPE=1` (as `.ci/run` sets), which makes that a failure.
//!
//! localstripe is laxer than Stripe (it ignores idempotency keys, lets a payment be refunded
//! past what was captured, sends few webhooks, once): the tests hold Ordo's own guarantees
//! against it, not localstripe's.

#![allow(dead_code, reason = "each test file uses the helpers it needs")]

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

pub const SECRET_KEY: &str = "sk_test_ordo_localstripe";
pub const WEBHOOK_SECRET: &str = "whsec_ordo_localstripe_test";

pub struct LocalStripe {
    pub port: u16,
    child: std::process::Child,
    client: reqwest::Client,
    /// Its working folder (it pickles its store under /tmp regardless; started from scratch).
    _dir: tempfile::TempDir,
}

fn localstripe() -> Option<PathBuf> {
    let bin = ordo_store::testing::venv_bin("localstripe");
    if bin.exists() {
        return Some(bin);
    }
    ordo_store::testing::missing(
        "STRIPE",
        &format!(
            "{} is missing (run .ci/run, or pip install -r .ci/requirements.txt into .venv)",
            bin.display()
        ),
    );
    None
}

impl LocalStripe {
    pub async fn start() -> Option<Self> {
        let bin = localstripe()?;
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let dir = tempfile::tempdir().unwrap();
        let child = std::process::Command::new(bin)
            .args(["--port", &port.to_string(), "--from-scratch"])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start localstripe");
        let me = LocalStripe {
            port,
            child,
            client: ordo_app::webhooks::http_client(),
            _dir: dir,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while me.get("/v1/balance").await.is_none() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "localstripe never answered"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Some(me)
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn settings(&self) -> ordo_app::payments::stripe::StripeSettings {
        ordo_app::payments::stripe::StripeSettings {
            secret_key: SECRET_KEY.into(),
            webhook_secret: WEBHOOK_SECRET.into(),
            api_base: self.url(),
        }
    }

    pub async fn get(&self, path: &str) -> Option<Value> {
        let res = self
            .client
            .get(format!("{}{path}", self.url()))
            .bearer_auth(SECRET_KEY)
            .send()
            .await
            .ok()?;
        res.status().is_success().then_some(())?;
        res.json().await.ok()
    }

    /// A form POST, as a client calls Stripe; the status and the JSON answer.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let res = self
            .client
            .post(format!("{}{path}", self.url()))
            .bearer_auth(SECRET_KEY)
            .form(form)
            .send()
            .await
            .expect("localstripe answers");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Sends every event to `url`, signed with [`WEBHOOK_SECRET`].
    pub async fn webhooks_to(&self, url: &str) {
        let (status, body) = self
            .post(
                "/_config/webhooks/ordo",
                &[("url", url), ("secret", WEBHOOK_SECRET)],
            )
            .await;
        assert_eq!(status, 200, "register the webhook: {body}");
    }

    /// What a customer's browser does with the client secret: sets the method on the intent
    /// and confirms it, at the provider, without Ordo.
    pub async fn pay_client_side(&self, intent: &str, method: &str) -> Value {
        let path = format!("/v1/payment_intents/{intent}");
        let (status, body) = self.post(&path, &[("payment_method", method)]).await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = self.post(&format!("{path}/confirm"), &[]).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

impl Drop for LocalStripe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
