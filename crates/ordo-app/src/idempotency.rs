//! Idempotency keys: a write sent again with the same `Idempotency-Key` is done once.
//!
//! The HTTP layer wraps every keyed request in [`KeyedRequest::run`], which puts the key, its
//! scope (the caller) and a fingerprint of the request in task-local scope. A use case that
//! creates or moves something writes through [`App::write_once`], which — inside the very
//! transaction of the change — claims the key first and stores the use case's result last. So
//! a committed change always has its key and its answer, and a rolled-back one has neither
//! (the client may simply retry). A replay finds the claim, returns the stored result and
//! changes nothing; the same key with another request (another body, endpoint or method) is a
//! 409 `idempotency_key_reused`. Concurrent duplicates meet on the key's primary key: the
//! second waits for the first transaction (PostgreSQL) or queues behind it (SQLite's single
//! writer), then replays.
//!
//! Keys live for `Settings::idempotency_ttl` (24 h by default); the purge job removes them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ordo_domain::ParseError;
use ordo_domain::ids::UserId;
use ordo_store::StoreTx;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::jobs::{Handler, JobFuture, JobKind, always, purge_older_than};
use crate::{App, AppError, AppResult, TxWork};

tokio::task_local! {
    /// The key of the request being served, if it sent one.
    static KEYED: Arc<KeyedRequest>;
}

/// Whose key it is: keys are unique per scope, so two callers' keys never meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyScope {
    User(UserId),
    /// A guest holding a cart token (SHA-256 of it).
    Cart(Vec<u8>),
    /// A guest with nothing to tell them apart: only creating a cart.
    Guest,
}

impl KeyScope {
    fn as_text(&self) -> String {
        match self {
            KeyScope::User(id) => format!("user:{}", id.0.simple()),
            KeyScope::Cart(hash) => format!("cart:{}", hex::encode(hash)),
            KeyScope::Guest => "guest".to_owned(),
        }
    }
}

/// A request that came with an `Idempotency-Key`.
#[derive(Debug)]
pub struct KeyedRequest {
    scope: String,
    key: String,
    fingerprint: Vec<u8>,
    replayed: AtomicBool,
}

impl KeyedRequest {
    /// Checks the key (1–255 visible ASCII characters; a UUID is typical) and ties it to the
    /// caller and to the request's fingerprint (see [`fingerprint`]).
    pub fn new(scope: &KeyScope, key: &str, fingerprint: Vec<u8>) -> Result<Self, ParseError> {
        check_key(key)?;
        Ok(Self {
            scope: scope.as_text(),
            key: key.to_owned(),
            fingerprint,
            replayed: AtomicBool::new(false),
        })
    }

    /// Serves `request` with this key in scope.
    pub async fn run<F: Future>(self: Arc<Self>, request: F) -> F::Output {
        KEYED.scope(self, request).await
    }

    /// Whether the answer was a replay of the key's first request.
    pub fn replayed(&self) -> bool {
        self.replayed.load(Ordering::Relaxed)
    }

    /// The key of the request being served, if any.
    pub(crate) fn current() -> Option<Arc<KeyedRequest>> {
        KEYED.try_with(Arc::clone).ok()
    }
}

/// An idempotency key: 1–255 visible ASCII characters.
pub fn check_key(key: &str) -> Result<(), ParseError> {
    if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(ParseError::new(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        )
        .at("Idempotency-Key"))
    }
}

/// SHA-256 of a request as the server understands it: method, path, query and body. A JSON
/// body is taken in a canonical form (object keys sorted, no whitespace), so the same request
/// sent with its fields in another order is the same request.
pub fn fingerprint(method: &str, path: &str, query: &str, body: &[u8]) -> Vec<u8> {
    let mut hash = Sha256::new();
    for part in [method.as_bytes(), path.as_bytes(), query.as_bytes()] {
        hash.update(part);
        hash.update([0]);
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(value) => hash.update(canonical(&value).as_bytes()),
        Err(_) => hash.update(body),
    }
    hash.finalize().to_vec()
}

/// JSON text with every object's keys in sorted order, whatever order they came in.
fn canonical(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let inner: Vec<String> = entries
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), canonical(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", inner.join(","))
        }
        other => other.to_string(),
    }
}

/// Claims the key in `tx`, or returns the first request's result to replay.
async fn claim<T: DeserializeOwned>(
    tx: &mut dyn StoreTx,
    keyed: &KeyedRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> AppResult<Option<T>> {
    let Some(seen) = tx
        .idempotency_claim(&keyed.scope, &keyed.key, &keyed.fingerprint, now)
        .await?
    else {
        return Ok(None);
    };
    if seen.request_hash != keyed.fingerprint {
        return Err(AppError::conflict(
            "idempotency_key_reused",
            "this Idempotency-Key was already used for a different request",
            Some("Idempotency-Key"),
        ));
    }
    let stored = seen.response.ok_or_else(|| {
        AppError::Internal(anyhow::anyhow!(
            "an idempotency key was committed without its answer"
        ))
    })?;
    let value = serde_json::from_str(&stored)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("a stored answer is unreadable: {e}")))?;
    keyed.replayed.store(true, Ordering::Relaxed);
    Ok(Some(value))
}

impl App {
    /// Runs `work` as one transaction, at most once per idempotency key (see the module docs):
    /// with a key in scope, the key is claimed before the work and the work's result stored
    /// after it, in the same transaction; a replay returns the stored result without running
    /// the work. Without a key it is [`App::write`]. A use case calls this once per request.
    pub(crate) async fn write_once<T, F>(&self, work: F) -> AppResult<T>
    where
        T: Serialize + DeserializeOwned + Send + 'static,
        F: TxWork<T>,
    {
        let Some(keyed) = KeyedRequest::current() else {
            return self.write(work).await;
        };
        let now = self.now();
        self.write(move |tx| {
            Box::pin(async move {
                if let Some(replay) = claim::<T>(tx, &keyed, now).await? {
                    return Ok(replay);
                }
                let value = work(tx).await?;
                let answer =
                    serde_json::to_string(&value).map_err(|e| AppError::Internal(e.into()))?;
                tx.idempotency_remember(&keyed.scope, &keyed.key, &answer)
                    .await?;
                Ok(value)
            })
        })
        .await
    }

    /// Whether the request being served was answered from its key's first result.
    pub fn replayed() -> bool {
        KeyedRequest::current().is_some_and(|k| k.replayed())
    }
}

/// Keys past their time (`Settings::idempotency_ttl`) are cleared out by a recurring job.
pub(crate) const JOBS: &[Handler] = &[Handler::recurring(
    JobKind::PurgeIdempotencyKeys,
    always,
    purge_keys,
)];

fn purge_keys<'a>(app: &'a App, _: &'a ordo_store::Job) -> JobFuture<'a> {
    purge_older_than(
        app,
        ordo_store::Purge::IdempotencyKeys,
        app.settings.idempotency_ttl,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_ignores_the_order_of_json_keys_but_nothing_else() {
        let a = fingerprint(
            "POST",
            "/api/v1/vendors",
            "",
            br#"{"name":"A","x":{"b":1,"a":[2,{"d":3,"c":4}]}}"#,
        );
        let b = fingerprint(
            "POST",
            "/api/v1/vendors",
            "",
            br#"{ "x": {"a": [2, {"c": 4, "d": 3}], "b": 1}, "name": "A" }"#,
        );
        assert_eq!(a, b);
        let other_value = fingerprint(
            "POST",
            "/api/v1/vendors",
            "",
            br#"{"name":"B","x":{"b":1,"a":[2,{"d":3,"c":4}]}}"#,
        );
        assert_ne!(a, other_value);
        let other_path = fingerprint(
            "POST",
            "/api/v1/products",
            "",
            br#"{"name":"A","x":{"b":1,"a":[2,{"d":3,"c":4}]}}"#,
        );
        assert_ne!(a, other_path);
        let other_array_order = fingerprint(
            "POST",
            "/api/v1/vendors",
            "",
            br#"{"name":"A","x":{"b":1,"a":[{"d":3,"c":4},2]}}"#,
        );
        assert_ne!(a, other_array_order);
    }

    #[test]
    fn keys_are_visible_ascii_of_sane_length() {
        assert!(check_key("0190a0c4-7b5e-7c3a-9f1e-3b9d2a1c4e5f").is_ok());
        assert!(check_key("").is_err());
        assert!(check_key("has space").is_err());
        assert!(check_key(&"k".repeat(256)).is_err());
    }
}
