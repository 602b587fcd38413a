//! Payment providers' webhooks: their events and signatures, as Stripe shapes and signs them
//! (the sandbox does the same, so both go through one piece of code). Signatures: `Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<raw body>">[,v1=…]` — several `v1` while a secret is being rolled, compared in
//! constant time, and a timestamp older or newer than the tolerance refused (a replayed
//! capture of an old delivery).

use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};

/// How far a signature's timestamp may be from now (Stripe's default tolerance).
pub const TOLERANCE: chrono::Duration = chrono::Duration::seconds(300);

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value signing `body` with `secret` at `at`.
pub fn sign(secret: &str, at: DateTime<Utc>, body: &[u8]) -> String {
    let t = at.timestamp();
    let v1 = hex::encode(mac(secret, t, body).finalize().into_bytes());
    format!("t={t},v1={v1}")
}

/// Checks `header` over the raw `body`; `Err` says why, for the sender's logs.
pub fn verify(
    secret: &str,
    header: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), String> {
    let header = header.ok_or("no Stripe-Signature header")?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", s)) => signatures.extend(hex::decode(s).ok()),
            _ => {}
        }
    }
    let t = timestamp.ok_or("the signature has no timestamp t=")?;
    let at = DateTime::from_timestamp(t, 0).ok_or("the signature's timestamp is out of range")?;
    if (now - at).abs() > TOLERANCE {
        return Err(format!(
            "the signature's timestamp {at} is more than {} s from now",
            TOLERANCE.num_seconds()
        ));
    }
    // `verify_slice` compares in constant time.
    if signatures
        .iter()
        .any(|s| mac(secret, t, body).verify_slice(s).is_ok())
    {
        Ok(())
    } else {
        Err("no v1 signature matches".into())
    }
}

/// A provider's webhook event, verified: its id and the payment it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    /// `evt_…`: each is taken once.
    pub id: String,
    /// `payment_intent.succeeded`…
    pub kind: String,
    /// The provider's id of the payment (`pi_…`), when the event is about one.
    pub reference: Option<String>,
    /// Ordo's id of the payment, from the metadata Ordo created it with.
    pub ordo_id: Option<uuid::Uuid>,
}

/// Reads an event's body (`{"id", "type", "data": {"object": {...}}}`).
pub fn event(body: &[u8]) -> Result<WebhookEvent, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let id = v["id"].as_str().ok_or("the event has no id")?.to_owned();
    let kind = v["type"].as_str().unwrap_or_default().to_owned();
    let object = &v["data"]["object"];
    let about_payment = object["object"] == "payment_intent";
    Ok(WebhookEvent {
        id,
        kind,
        reference: about_payment
            .then(|| object["id"].as_str().map(str::to_owned))
            .flatten(),
        ordo_id: object["metadata"]["ordo_payment"]
            .as_str()
            .and_then(|s| s.parse().ok()),
    })
}

/// An event as a provider sends it, for a payment (the sandbox's own webhooks).
pub fn payment_event(
    id: &str,
    kind: &str,
    reference: &str,
    ordo_id: &str,
    at: DateTime<Utc>,
) -> Vec<u8> {
    serde_json::json!({
        "id": id,
        "object": "event",
        "type": kind,
        "created": at.timestamp(),
        "data": { "object": {
            "id": reference, "object": "payment_intent", "metadata": { "ordo_payment": ordo_id }
        } }
    })
    .to_string()
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_holds_for_its_body_secret_and_time_only() {
        let now = Utc::now();
        let body = br#"{"id":"evt_1"}"#;
        let header = sign("whsec_a", now, body);
        assert_eq!(verify("whsec_a", Some(&header), body, now), Ok(()));
        // Several v1 while a secret rolls: any one matching is enough.
        let rolled = format!("{header},v1={}", "00".repeat(32));
        assert_eq!(verify("whsec_a", Some(&rolled), body, now), Ok(()));
        assert!(verify("whsec_b", Some(&header), body, now).is_err());
        assert!(verify("whsec_a", Some(&header), br#"{"id":"evt_2"}"#, now).is_err());
        assert!(
            verify(
                "whsec_a",
                Some(&header),
                body,
                now + chrono::Duration::seconds(301)
            )
            .is_err()
        );
        assert!(verify("whsec_a", None, body, now).is_err());
        assert!(verify("whsec_a", Some("v1=00"), body, now).is_err());
    }
}
