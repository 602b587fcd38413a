//! The Stripe adapter: PaymentIntents over Stripe's HTTP API (form-encoded requests, JSON
//! answers), an `Idempotency-Key` on every call, and Stripe's webhook signatures.
//!
//! How answers map: `requires_payment_method` and `requires_confirmation` wait for a method,
//! `requires_action` for the customer's step, `processing`, `requires_capture` is authorized,
//! `succeeded` captured, `canceled`. A 402 is a decline (its `code`); 429 and 502–504 and a
//! connection refused are passing (nothing was done: retry with the same key); a 500 or a
//! timeout after sending is an unknown outcome (fetch the intent to learn it); other 4xx are
//! refusals. A method is set on the intent, then the intent confirmed (two calls, so that a
//! server which cannot take the method at confirmation — localstripe — works too).
//!
//! What is read of an intent is only what both Stripe and localstripe send: `amount`,
//! `amount_capturable` and `amount_received` when present (localstripe has neither: they are
//! then taken from the status), `status`, `client_secret`, `last_payment_error.code`.

use async_trait::async_trait;
use serde_json::Value;

use super::{
    CapturePolicy, NewPayment, PaymentProvider, ProviderError, ProviderPayment, ProviderRefund,
    webhook,
};
use ordo_domain::payment::PaymentState;

/// Where Stripe is and the secrets to talk to it.
#[derive(Clone, PartialEq, Eq)]
pub struct StripeSettings {
    /// `sk_live_…` / `sk_test_…`.
    pub secret_key: String,
    /// `whsec_…`: checks the webhooks Stripe sends.
    pub webhook_secret: String,
    /// `https://api.stripe.com`, or a local stand-in.
    pub api_base: String,
}

impl std::fmt::Debug for StripeSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets never reach a log.
        f.debug_struct("StripeSettings")
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

pub struct Stripe {
    settings: StripeSettings,
    client: reqwest::Client,
}

impl Stripe {
    pub fn new(settings: StripeSettings) -> Self {
        crate::webhooks::install_tls_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self { settings, client }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        form: &[(&str, String)],
        key: Option<&str>,
    ) -> Result<Value, ProviderError> {
        let url = format!("{}{path}", self.settings.api_base.trim_end_matches('/'));
        let mut req = self
            .client
            .request(method.clone(), &url)
            .bearer_auth(&self.settings.secret_key);
        if method == reqwest::Method::POST {
            req = req.form(form);
        }
        if let Some(key) = key {
            req = req.header("Idempotency-Key", key);
        }
        let res = match req.send().await {
            Ok(res) => res,
            // Not connected: nothing was sent.
            Err(e) if e.is_connect() => return Err(ProviderError::Transient(e.to_string())),
            Err(e) => return Err(ProviderError::Unknown(e.to_string())),
        };
        let status = res.status();
        let body: Value = match res.json().await {
            Ok(body) => body,
            Err(e) if status.is_success() => return Err(ProviderError::Unknown(e.to_string())),
            Err(_) => Value::Null,
        };
        if status.is_success() {
            return Ok(body);
        }
        let error = &body["error"];
        let message = error["message"]
            .as_str()
            .unwrap_or(status.canonical_reason().unwrap_or("error"))
            .to_owned();
        Err(match status.as_u16() {
            402 => ProviderError::Declined {
                code: error["decline_code"]
                    .as_str()
                    .or(error["code"].as_str())
                    .unwrap_or("card_declined")
                    .to_owned(),
            },
            404 => ProviderError::NotFound(message),
            429 | 502..=504 => ProviderError::Transient(format!("{status}: {message}")),
            500..=599 => ProviderError::Unknown(format!("{status}: {message}")),
            _ => ProviderError::Invalid(format!("{status}: {message}")),
        })
    }

    async fn post(
        &self,
        path: &str,
        form: &[(&str, String)],
        key: &str,
    ) -> Result<Value, ProviderError> {
        self.call(reqwest::Method::POST, path, form, Some(key))
            .await
    }
}

/// An intent as Ordo reads it.
fn payment_of(v: &Value) -> Result<ProviderPayment, ProviderError> {
    let reference = v["id"]
        .as_str()
        .ok_or_else(|| ProviderError::Unknown("the answer names no payment intent".into()))?
        .to_owned();
    let amount = v["amount"].as_i64().unwrap_or(0);
    let state = match v["status"].as_str().unwrap_or_default() {
        "requires_payment_method" | "requires_confirmation" => PaymentState::RequiresPaymentMethod,
        "requires_action" => PaymentState::RequiresAction,
        "processing" => PaymentState::Processing,
        "requires_capture" => PaymentState::Authorized,
        "succeeded" => PaymentState::Captured,
        "canceled" => PaymentState::Canceled,
        other => {
            return Err(ProviderError::Unknown(format!(
                "payment intent {reference} is {other}"
            )));
        }
    };
    let capturable = v["amount_capturable"].as_i64().unwrap_or(match state {
        PaymentState::Authorized => amount,
        _ => 0,
    });
    let captured = v["amount_received"].as_i64().unwrap_or(match state {
        PaymentState::Captured => amount,
        _ => 0,
    });
    Ok(ProviderPayment {
        reference,
        state,
        amount,
        capturable,
        captured,
        client_secret: v["client_secret"].as_str().map(str::to_owned),
        decline: v["last_payment_error"]["code"].as_str().map(str::to_owned),
    })
}

#[async_trait]
impl PaymentProvider for Stripe {
    fn name(&self) -> &'static str {
        "stripe"
    }

    fn check_method(&self, method: &str) -> Result<(), String> {
        let ok = method.len() <= 255
            && method.starts_with("pm_")
            && method[3..]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(())
        } else {
            Err(format!(
                "{method} is not a Stripe PaymentMethod id (pm_…, such as pm_card_visa)"
            ))
        }
    }

    fn verify_webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<webhook::WebhookEvent, String> {
        webhook::verify(&self.settings.webhook_secret, signature, body, now)?;
        webhook::event(body)
    }

    async fn create(&self, new: NewPayment) -> Result<ProviderPayment, ProviderError> {
        let capture = match new.capture {
            CapturePolicy::Automatic => "automatic",
            CapturePolicy::Manual => "manual",
        };
        let form = [
            ("amount", new.amount.to_string()),
            ("currency", new.currency.code().to_ascii_lowercase()),
            ("capture_method", capture.to_owned()),
            ("metadata[ordo_payment]", new.ordo_id.clone()),
        ];
        payment_of(
            &self
                .post("/v1/payment_intents", &form, &new.idempotency_key)
                .await?,
        )
    }

    async fn confirm(
        &self,
        reference: &str,
        method: &str,
        key: &str,
    ) -> Result<ProviderPayment, ProviderError> {
        let path = format!("/v1/payment_intents/{reference}");
        self.post(
            &path,
            &[("payment_method", method.to_owned())],
            &format!("{key}/method"),
        )
        .await?;
        payment_of(&self.post(&format!("{path}/confirm"), &[], key).await?)
    }

    async fn capture(
        &self,
        reference: &str,
        amount: i64,
        key: &str,
    ) -> Result<ProviderPayment, ProviderError> {
        let path = format!("/v1/payment_intents/{reference}/capture");
        payment_of(
            &self
                .post(&path, &[("amount_to_capture", amount.to_string())], key)
                .await?,
        )
    }

    async fn cancel(&self, reference: &str, key: &str) -> Result<ProviderPayment, ProviderError> {
        let path = format!("/v1/payment_intents/{reference}/cancel");
        payment_of(&self.post(&path, &[], key).await?)
    }

    async fn refund(
        &self,
        reference: &str,
        amount: i64,
        key: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        let form = [
            ("payment_intent", reference.to_owned()),
            ("amount", amount.to_string()),
            ("metadata[ordo_request]", key.to_owned()),
        ];
        let v = self.post("/v1/refunds", &form, key).await?;
        Ok(ProviderRefund {
            reference: v["id"].as_str().unwrap_or_default().to_owned(),
            amount: v["amount"].as_i64().unwrap_or(amount),
            // A pending refund goes through unless the bank refuses it (Stripe then sends
            // `refund.failed`); Ordo counts it as sent.
            succeeded: matches!(v["status"].as_str(), Some("succeeded" | "pending")),
        })
    }

    async fn fetch(&self, reference: &str) -> Result<ProviderPayment, ProviderError> {
        let path = format!("/v1/payment_intents/{reference}");
        payment_of(&self.call(reqwest::Method::GET, &path, &[], None).await?)
    }
}
