//! The sandbox provider: a card processor inside Ordo, for the demo, for shops with no
//! provider yet, and for tests — no network. It keeps its payments in memory (a restart
//! forgets them, as a test processor may) and honours idempotency keys as Stripe does: a key
//! used again replays the first answer, except a transient failure, which did not run.
//!
//! Test cards (the `method` of a payment):
//!
//! | method | behaves like |
//! |---|---|
//! | `sandbox_card_ok` | a card that pays: authorized, and captured at once unless capture is manual |
//! | `sandbox_card_declined` | declined (`card_declined`); the payment waits for another method |
//! | `sandbox_card_capture_fails` | authorizes, but every capture fails as "processor unavailable" (transient) |
//! | `sandbox_card_capture_fails_N` | the same for the first N captures, then they succeed |
//! | `sandbox_card_3ds` | needs a second step (`requires_action`) the customer completes, or fails |
//! | `sandbox_card_timeout` | the charge goes through but the answer never comes (outcome unknown); fetching shows it |
//! | `sandbox_card_capture_unknown` | the first capture goes through but its answer never comes; asking again with the same key gets it |
//! | `sandbox_card_refund_fails` | pays, but every refund fails as "processor unavailable" (transient) |
//! | `sandbox_card_refund_fails_N` | the same for the first N refunds, then they succeed |

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use ordo_domain::payment::PaymentState;

use super::{
    CapturePolicy, NewPayment, PaymentProvider, ProviderError, ProviderPayment, ProviderRefund,
};

/// The documented test cards.
pub const CARDS: &[&str] = &[
    "sandbox_card_ok",
    "sandbox_card_declined",
    "sandbox_card_capture_fails",
    "sandbox_card_capture_fails_N",
    "sandbox_card_3ds",
    "sandbox_card_timeout",
    "sandbox_card_capture_unknown",
    "sandbox_card_refund_fails",
    "sandbox_card_refund_fails_N",
];

#[derive(Debug, Clone)]
struct Held {
    payment: ProviderPayment,
    /// Ordo's id of the payment (the metadata a real provider keeps).
    ordo_id: String,
    method: Option<String>,
    capture: CapturePolicy,
    refunded: i64,
    capture_attempts: u32,
    refund_attempts: u32,
}

#[derive(Debug, Clone)]
enum Answer {
    Payment(Result<ProviderPayment, ProviderError>),
    Refund(Result<ProviderRefund, ProviderError>),
}

pub struct Sandbox {
    state: Mutex<State>,
    /// Signs the sandbox's webhooks (made up at start: they never leave the process).
    secret: String,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            secret: format!("whsec_sandbox_{}", uuid::Uuid::new_v4().simple()),
        }
    }
}

#[derive(Default)]
struct State {
    payments: HashMap<String, Held>,
    /// Idempotency key → the first answer.
    answers: HashMap<String, Answer>,
}

impl State {
    /// The first answer given for `key` about a payment, if the key was used.
    fn replay(&self, key: &str) -> Option<Result<ProviderPayment, ProviderError>> {
        match self.answers.get(key) {
            Some(Answer::Payment(first)) => Some(first.clone()),
            _ => None,
        }
    }

    fn held(&mut self, reference: &str) -> Result<&mut Held, ProviderError> {
        self.payments
            .get_mut(reference)
            .ok_or_else(|| ProviderError::NotFound(reference.to_owned()))
    }

    /// Remembers a payment's answer under `key` and gives it.
    fn answer(
        &mut self,
        key: &str,
        payment: ProviderPayment,
    ) -> Result<ProviderPayment, ProviderError> {
        self.answers
            .insert(key.to_owned(), Answer::Payment(Ok(payment.clone())));
        Ok(payment)
    }
}

impl Sandbox {
    /// A webhook about payment `reference`, as the sandbox sends it: the `Stripe-Signature`
    /// header and the body.
    pub fn webhook(
        &self,
        reference: &str,
        kind: &str,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Option<(String, Vec<u8>)> {
        let ordo_id = self.with(|s| s.payments.get(reference).map(|h| h.ordo_id.clone()))?;
        let id = format!("evt_sbx_{}", uuid::Uuid::now_v7().simple());
        let body = super::webhook::payment_event(&id, kind, reference, &ordo_id, at);
        Some((super::webhook::sign(&self.secret, at, &body), body))
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Completes (or fails) the second step of a `sandbox_card_3ds` payment, as the
    /// customer's bank page would.
    pub fn authenticate(
        &self,
        reference: &str,
        success: bool,
    ) -> Result<ProviderPayment, ProviderError> {
        self.with(|s| {
            let held = s.held(reference)?;
            if held.payment.state != PaymentState::RequiresAction {
                return Err(ProviderError::Invalid(format!(
                    "the payment is {}, not waiting for a step",
                    held.payment.state
                )));
            }
            if success {
                authorize(held);
            } else {
                held.payment.state = PaymentState::RequiresPaymentMethod;
                held.payment.decline = Some("authentication_failed".into());
            }
            Ok(held.payment.clone())
        })
    }
}

/// Authorizes a held payment (and captures it at once under automatic capture).
fn authorize(held: &mut Held) {
    held.payment.decline = None;
    match held.capture {
        CapturePolicy::Automatic => {
            held.payment.state = PaymentState::Captured;
            held.payment.captured = held.payment.amount;
            held.payment.capturable = 0;
        }
        CapturePolicy::Manual => {
            held.payment.state = PaymentState::Authorized;
            held.payment.capturable = held.payment.amount;
        }
    }
}

/// How many captures of this card fail before they succeed (`None`: all of them).
fn failing_captures(method: Option<&str>) -> Option<Option<u32>> {
    failing(method, "sandbox_card_capture_fails")
}

/// How many refunds of this card fail before they succeed (`None`: all of them).
fn failing_refunds(method: Option<&str>) -> Option<Option<u32>> {
    failing(method, "sandbox_card_refund_fails")
}

/// For a card `card` (every call fails) or `card_N` (the first N fail).
fn failing(method: Option<&str>, card: &str) -> Option<Option<u32>> {
    let m = method?;
    if m == card {
        return Some(None);
    }
    m.strip_prefix(card)
        .and_then(|rest| rest.strip_prefix('_'))
        .and_then(|n| n.parse().ok())
        .map(Some)
}

#[async_trait]
impl PaymentProvider for Sandbox {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    fn verify_webhook(
        &self,
        signature: Option<&str>,
        body: &[u8],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<super::webhook::WebhookEvent, String> {
        super::webhook::verify(&self.secret, signature, body, now)?;
        super::webhook::event(body)
    }

    fn in_process(&self) -> bool {
        true
    }

    fn check_method(&self, method: &str) -> Result<(), String> {
        let known = matches!(
            method,
            "sandbox_card_ok"
                | "sandbox_card_declined"
                | "sandbox_card_3ds"
                | "sandbox_card_timeout"
                | "sandbox_card_capture_unknown"
        ) || failing_captures(Some(method)).is_some()
            || failing_refunds(Some(method)).is_some();
        if known {
            Ok(())
        } else {
            Err(format!(
                "{method} is not a sandbox test card: {}",
                CARDS.join(", ")
            ))
        }
    }

    async fn create(&self, new: NewPayment) -> Result<ProviderPayment, ProviderError> {
        self.with(|s| {
            if let Some(first) = s.replay(&new.idempotency_key) {
                return first;
            }
            if new.amount <= 0 {
                return Err(ProviderError::Invalid("amount must be positive".into()));
            }
            let reference = format!("sbx_pay_{}", uuid::Uuid::now_v7().simple());
            let payment = ProviderPayment {
                client_secret: Some(format!("{reference}_secret")),
                reference: reference.clone(),
                state: PaymentState::RequiresPaymentMethod,
                amount: new.amount,
                capturable: 0,
                captured: 0,
                decline: None,
            };
            s.payments.insert(
                reference,
                Held {
                    payment: payment.clone(),
                    ordo_id: new.ordo_id.clone(),
                    method: None,
                    capture: new.capture,
                    refunded: 0,
                    capture_attempts: 0,
                    refund_attempts: 0,
                },
            );
            s.answer(&new.idempotency_key, payment)
        })
    }

    async fn confirm(
        &self,
        reference: &str,
        method: &str,
        key: &str,
    ) -> Result<ProviderPayment, ProviderError> {
        self.with(|s| {
            if let Some(first) = s.replay(key) {
                return first;
            }
            let held = s.held(reference)?;
            if held.payment.state != PaymentState::RequiresPaymentMethod {
                return Err(ProviderError::Invalid(format!(
                    "the payment is {}, not waiting for a method",
                    held.payment.state
                )));
            }
            held.method = Some(method.to_owned());
            held.payment.decline = None;
            let answer = match method {
                "sandbox_card_declined" => {
                    held.payment.decline = Some("card_declined".into());
                    Err(ProviderError::Declined {
                        code: "card_declined".into(),
                    })
                }
                "sandbox_card_3ds" => {
                    held.payment.state = PaymentState::RequiresAction;
                    Ok(held.payment.clone())
                }
                "sandbox_card_timeout" => {
                    authorize(held);
                    Err(ProviderError::Unknown(format!(
                        "no answer for {reference} (the charge went through)"
                    )))
                }
                "sandbox_card_ok" | "sandbox_card_capture_unknown" => {
                    authorize(held);
                    Ok(held.payment.clone())
                }
                m if failing_refunds(Some(m)).is_some() => {
                    authorize(held);
                    Ok(held.payment.clone())
                }
                m if failing_captures(Some(m)).is_some() => {
                    authorize(held);
                    if held.capture == CapturePolicy::Automatic {
                        // Authorized, but the automatic capture failed: left for a capture.
                        held.payment.state = PaymentState::Authorized;
                        held.payment.captured = 0;
                        held.payment.capturable = held.payment.amount;
                    }
                    Ok(held.payment.clone())
                }
                other => {
                    held.method = None;
                    Err(ProviderError::Invalid(format!(
                        "{other} is not a sandbox test card: {}",
                        CARDS.join(", ")
                    )))
                }
            };
            // What was done is remembered under the key even when the answer was lost: a
            // retry with it learns the outcome, as a real processor replays it.
            let remembered = match &answer {
                Err(ProviderError::Unknown(_)) => Ok(held.payment.clone()),
                other => other.clone(),
            };
            s.answers
                .insert(key.to_owned(), Answer::Payment(remembered));
            answer
        })
    }

    async fn capture(
        &self,
        reference: &str,
        amount: i64,
        key: &str,
    ) -> Result<ProviderPayment, ProviderError> {
        self.with(|s| {
            if let Some(first) = s.replay(key) {
                return first;
            }
            let held = s.held(reference)?;
            if held.payment.state != PaymentState::Authorized {
                return Err(ProviderError::Invalid(format!(
                    "only an authorized payment can be captured; this one is {}",
                    held.payment.state
                )));
            }
            if amount <= 0 || amount > held.payment.capturable {
                return Err(ProviderError::Invalid(format!(
                    "{amount} is more than the {} authorized",
                    held.payment.capturable
                )));
            }
            held.capture_attempts += 1;
            if let Some(fails) = failing_captures(held.method.as_deref())
                && fails.is_none_or(|n| held.capture_attempts <= n)
            {
                // Did not run: not remembered under the key, so a retry runs again.
                return Err(ProviderError::Transient("processor unavailable".into()));
            }
            // Several partial captures may follow one another (one per vendor order); the
            // payment is captured once nothing is left to take.
            held.payment.captured += amount;
            held.payment.capturable -= amount;
            if held.payment.capturable == 0 {
                held.payment.state = PaymentState::Captured;
            }
            let payment = held.payment.clone();
            let lost = held.method.as_deref() == Some("sandbox_card_capture_unknown")
                && held.capture_attempts == 1;
            let answer = s.answer(key, payment);
            if lost {
                // Done, and remembered under the key, but the answer never came back.
                return Err(ProviderError::Unknown(format!(
                    "no answer to the capture of {reference}"
                )));
            }
            answer
        })
    }

    async fn cancel(&self, reference: &str, key: &str) -> Result<ProviderPayment, ProviderError> {
        self.with(|s| {
            if let Some(first) = s.replay(key) {
                return first;
            }
            let held = s.held(reference)?;
            if held.payment.state.is_final() {
                return Err(ProviderError::Invalid(format!(
                    "a {} payment cannot be cancelled",
                    held.payment.state
                )));
            }
            held.payment.state = PaymentState::Canceled;
            held.payment.capturable = 0;
            let payment = held.payment.clone();
            s.answer(key, payment)
        })
    }

    async fn refund(
        &self,
        reference: &str,
        amount: i64,
        key: &str,
    ) -> Result<ProviderRefund, ProviderError> {
        self.with(|s| {
            if let Some(Answer::Refund(first)) = s.answers.get(key) {
                return first.clone();
            }
            let held = s.held(reference)?;
            // As a real processor: never more than was captured and not yet refunded.
            if amount <= 0 || amount > held.payment.captured - held.refunded {
                return Err(ProviderError::Invalid(format!(
                    "{amount} is more than the {} captured and not refunded",
                    held.payment.captured - held.refunded
                )));
            }
            held.refund_attempts += 1;
            if let Some(fails) = failing_refunds(held.method.as_deref())
                && fails.is_none_or(|n| held.refund_attempts <= n)
            {
                // Not run, so not remembered under the key: the next try may succeed.
                return Err(ProviderError::Transient(
                    "sandbox: processor unavailable".into(),
                ));
            }
            held.refunded += amount;
            let answer = Ok(ProviderRefund {
                reference: format!("sbx_re_{}", uuid::Uuid::now_v7().simple()),
                amount,
                succeeded: true,
            });
            s.answers
                .insert(key.to_owned(), Answer::Refund(answer.clone()));
            answer
        })
    }

    async fn fetch(&self, reference: &str) -> Result<ProviderPayment, ProviderError> {
        self.with(|s| {
            s.payments
                .get(reference)
                .map(|h| h.payment.clone())
                .ok_or_else(|| ProviderError::NotFound(reference.to_owned()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Creates a payment and confirms it with `method` (keys `key` and `key` + `c`).
    async fn pay(
        sb: &Sandbox,
        method: &str,
        capture: CapturePolicy,
        key: &str,
    ) -> Result<ProviderPayment, ProviderError> {
        let created = sb
            .create(NewPayment {
                amount: 5_000,
                currency: ordo_domain::money::Currency::parse("EUR").unwrap(),
                capture,
                ordo_id: key.into(),
                idempotency_key: key.into(),
            })
            .await?;
        assert_eq!(created.state, PaymentState::RequiresPaymentMethod);
        assert!(created.client_secret.is_some());
        sb.confirm(&created.reference, method, &format!("{key}c"))
            .await
    }

    #[tokio::test]
    async fn every_test_card_behaves_as_documented() {
        let sb = Sandbox::default();
        let ok = pay(&sb, "sandbox_card_ok", CapturePolicy::Automatic, "k1")
            .await
            .unwrap();
        assert_eq!((ok.state, ok.captured), (PaymentState::Captured, 5_000));
        // The same key replays the first answer: one payment, not two.
        let again = pay(&sb, "sandbox_card_ok", CapturePolicy::Automatic, "k1")
            .await
            .unwrap();
        assert_eq!(again.reference, ok.reference);

        let declined = pay(&sb, "sandbox_card_declined", CapturePolicy::Automatic, "k2").await;
        assert_eq!(
            declined,
            Err(ProviderError::Declined {
                code: "card_declined".into()
            })
        );

        let manual = pay(&sb, "sandbox_card_ok", CapturePolicy::Manual, "k3")
            .await
            .unwrap();
        assert_eq!(
            (manual.state, manual.capturable),
            (PaymentState::Authorized, 5_000)
        );
        let captured = sb.capture(&manual.reference, 4_000, "k4").await.unwrap();
        assert_eq!(
            (captured.state, captured.captured, captured.capturable),
            (PaymentState::Authorized, 4_000, 1_000),
            "a partial capture leaves the rest to capture"
        );
        let rest = sb.capture(&manual.reference, 1_000, "k4b").await.unwrap();
        assert_eq!((rest.state, rest.captured), (PaymentState::Captured, 5_000));
        assert!(
            sb.refund(&manual.reference, 1_000, "k4c")
                .await
                .unwrap()
                .succeeded
        );
        assert!(
            sb.refund(&manual.reference, 4_001, "k5").await.is_err(),
            "never more than captured"
        );
        assert!(
            sb.refund(&manual.reference, 4_000, "k6")
                .await
                .unwrap()
                .succeeded
        );
        assert!(sb.refund(&manual.reference, 1, "k7").await.is_err());

        let flaky = pay(
            &sb,
            "sandbox_card_capture_fails_2",
            CapturePolicy::Manual,
            "k8",
        )
        .await
        .unwrap();
        for _ in 0..2 {
            assert!(matches!(
                sb.capture(&flaky.reference, 5_000, "k9").await,
                Err(ProviderError::Transient(_))
            ));
        }
        assert_eq!(
            sb.capture(&flaky.reference, 5_000, "k9")
                .await
                .unwrap()
                .captured,
            5_000,
            "the same key, now run"
        );
        let broken = pay(
            &sb,
            "sandbox_card_capture_fails",
            CapturePolicy::Automatic,
            "k10",
        )
        .await
        .unwrap();
        assert_eq!(
            broken.state,
            PaymentState::Authorized,
            "the automatic capture failed"
        );
        assert!(matches!(
            sb.capture(&broken.reference, 5_000, "k11").await,
            Err(ProviderError::Transient(_))
        ));

        let step = pay(&sb, "sandbox_card_3ds", CapturePolicy::Automatic, "k12")
            .await
            .unwrap();
        assert_eq!(step.state, PaymentState::RequiresAction);
        assert_eq!(
            sb.authenticate(&step.reference, true).unwrap().state,
            PaymentState::Captured
        );
        let failed = pay(&sb, "sandbox_card_3ds", CapturePolicy::Automatic, "k13")
            .await
            .unwrap();
        let failed = sb.authenticate(&failed.reference, false).unwrap();
        assert_eq!(
            (failed.state, failed.decline.as_deref()),
            (
                PaymentState::RequiresPaymentMethod,
                Some("authentication_failed")
            )
        );

        let lost = pay(&sb, "sandbox_card_timeout", CapturePolicy::Automatic, "k14").await;
        let Err(ProviderError::Unknown(why)) = lost else {
            panic!("{lost:?}")
        };
        let reference = why.split_whitespace().nth(3).unwrap();
        assert_eq!(
            sb.fetch(reference).await.unwrap().state,
            PaymentState::Captured,
            "fetching settles it"
        );
        let replayed = pay(&sb, "sandbox_card_timeout", CapturePolicy::Automatic, "k14")
            .await
            .unwrap();
        assert_eq!(
            replayed.reference, reference,
            "the same key: the same charge, not a second"
        );

        let cancelled = pay(&sb, "sandbox_card_ok", CapturePolicy::Manual, "k15")
            .await
            .unwrap();
        assert_eq!(
            sb.cancel(&cancelled.reference, "k16").await.unwrap().state,
            PaymentState::Canceled
        );
        assert!(sb.capture(&cancelled.reference, 1, "k17").await.is_err());
        assert!(matches!(
            pay(&sb, "4242424242424242", CapturePolicy::Automatic, "k18").await,
            Err(ProviderError::Invalid(_))
        ));
    }
}
