//! Sending deliveries: the fan-out of relayed events into one delivery per endpoint that wants
//! each, the sweep that sends them in order per (endpoint, key) with retries, and the
//! Standard Webhooks signature.

use super::*;

/// `v1,<signature>` of one message with one secret.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> AppResult<String> {
    let key = BASE64
        .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map_err(|e| {
            AppError::Internal(anyhow::anyhow!(
                "a stored webhook secret is not base64: {e}"
            ))
        })?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("webhook key: {e}")))?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", BASE64.encode(mac.finalize().into_bytes())))
}

/// The `webhook.endpoint_disabled` event for an endpoint's owner.
pub(super) fn disabled_notice(
    endpoint: &WebhookEndpoint,
    at: DateTime<Utc>,
    why: &str,
) -> AppResult<ordo_store::OutboxMessage> {
    let payload = serde_json::json!({
        "endpoint_id": endpoint.id, "url": endpoint.url, "reason": why,
        "failing_since": endpoint.failing_since, "at": at,
    });
    Ok(ordo_store::OutboxMessage {
        topic: "webhook.endpoint_disabled".into(),
        key: endpoint.id.to_string(),
        payload: serde_json::value::to_raw_value(&payload)
            .map_err(|e| AppError::Internal(e.into()))?,
        created_at: at,
        audience: ordo_store::Audience {
            vendor: endpoint.vendor_id,
            ..Default::default()
        },
    })
}

/// The deliver job's key for an endpoint and aggregate.
pub(super) fn job_key(endpoint: Uuid, key: &str) -> String {
    format!("{endpoint}/{key}")
}

pub(super) fn deliver_job(endpoint: Uuid, key: &str, at: DateTime<Utc>) -> Job {
    Job {
        id: Uuid::now_v7(),
        kind: JobKind::DeliverWebhooks.as_str().into(),
        key: job_key(endpoint, key),
        payload: serde_json::json!({}),
        state: JobState::Queued,
        run_at: at,
        attempts: 0,
        last_error: None,
        created_at: at,
    }
}

pub(super) fn new_delivery(
    endpoint: Uuid,
    message_id: String,
    kind: &str,
    key: &str,
    position: Option<i64>,
    body: String,
    at: DateTime<Utc>,
) -> WebhookDelivery {
    WebhookDelivery {
        id: Uuid::now_v7(),
        endpoint_id: endpoint,
        message_id,
        event_type: kind.into(),
        key: key.into(),
        position,
        body,
        state: DeliveryState::Pending,
        attempts: 0,
        next_at: at,
        last_status: None,
        last_error: None,
        last_latency_ms: None,
        created_at: at,
        delivered_at: None,
    }
}

/// Stores deliveries and wakes their senders, in the caller's transaction.
pub(super) async fn queue(
    tx: &mut dyn ordo_store::StoreTx,
    deliveries: &[WebhookDelivery],
    now: DateTime<Utc>,
) -> AppResult<()> {
    for d in deliveries {
        tx.put_webhook_delivery(d).await?;
        tx.wake_job(&deliver_job(d.endpoint_id, &d.key, now), now)
            .await?;
    }
    Ok(())
}

/// The body of an event's delivery.
pub(super) fn event_body(event: &RelayedEvent) -> AppResult<String> {
    let m = &event.message;
    serde_json::to_string(&Body {
        kind: &m.topic,
        timestamp: m.created_at,
        data: &m.payload,
    })
    .map_err(|e| AppError::Internal(e.into()))
}

/// Whether `endpoint` subscribes to `event`: its type, and (a vendor's) its vendor's.
pub(super) fn subscribed(endpoint: &WebhookEndpoint, event: &RelayedEvent) -> bool {
    matches(&endpoint.events, &event.message.topic)
        && endpoint
            .vendor_id
            .is_none_or(|v| event.message.audience.admits(OrderScope::Vendor(v)))
}

/// Whether `endpoint` gets `event`: subscribed to its type, (a vendor's) its vendor's, and
/// not from before the endpoint existed (a replay sends older ones on purpose). A disabled
/// endpoint still gets its deliveries; they wait until it is enabled again.
pub(super) fn wants(endpoint: &WebhookEndpoint, event: &RelayedEvent) -> bool {
    event.message.created_at >= endpoint.created_at && subscribed(endpoint, event)
}

impl App {
    /// The fan-out: each relayed event after the cursor becomes one delivery per endpoint that
    /// wants it, in the transaction that moves the cursor. Returns how many events it took (a
    /// full batch: more may wait).
    pub async fn fan_out_webhooks(&self) -> AppResult<usize> {
        let now = self.now();
        let events = self
            .unhandled_events(CONSUMER, crate::outbox::CONSUMER_BATCH)
            .await?;
        let Some(last) = events.last().map(|e| e.position) else {
            return Ok(0);
        };
        let endpoints = self.store.webhook_endpoints(None).await?;
        let mut deliveries = Vec::new();
        for event in &events {
            // Serialized once per event, however many endpoints want it.
            let mut body = None;
            for endpoint in endpoints.iter().filter(|e| wants(e, event)) {
                let body = match &body {
                    Some(b) => String::clone(b),
                    None => body.insert(event_body(event)?).clone(),
                };
                deliveries.push(new_delivery(
                    endpoint.id,
                    format!("evt_{}", event.position),
                    &event.message.topic,
                    &event.message.key,
                    Some(event.position),
                    body,
                    now,
                ));
            }
        }
        let taken = events.len();
        self.write(move |tx| {
            Box::pin(async move {
                queue(tx, &deliveries, now).await?;
                tx.advance_cursor(CONSUMER, last, now).await?;
                Ok(taken)
            })
        })
        .await
    }

    /// Wakes the deliver job of every (endpoint, key) with a delivery due: covers a job that
    /// finished just as a delivery was added, and deliveries retried or replayed.
    pub async fn sweep_webhooks(&self) -> AppResult<()> {
        let now = self.now();
        let due = self.store.due_webhook_keys(now, 1_000).await?;
        if due.is_empty() {
            return Ok(());
        }
        self.write(move |tx| {
            Box::pin(async move {
                for (endpoint, key) in &due {
                    tx.wake_job(&deliver_job(*endpoint, key, now), now).await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// The deliver job: sends one endpoint's pending deliveries for one key, oldest first.
    pub(crate) async fn deliver_webhooks(&self, job_key: &str) -> AppResult<JobEnd> {
        let (endpoint, key) = job_key
            .split_once('/')
            .and_then(|(e, k)| Some((e.parse::<Uuid>().ok()?, k.to_owned())))
            .ok_or_else(|| {
                AppError::Internal(anyhow::anyhow!("not a deliver job key: {job_key}"))
            })?;
        let started = std::time::Instant::now();
        for _ in 0..SENDS_PER_RUN {
            if started.elapsed() > RUN_FOR {
                break;
            }
            let Some(endpoint) = self.store.webhook_endpoint(endpoint).await? else {
                return Ok(JobEnd::Done);
            };
            if endpoint.disabled_at.is_some() {
                // Re-enabling the endpoint wakes it (through the sweep).
                return Ok(JobEnd::Done);
            }
            let Some(mut delivery) = self
                .store
                .pending_deliveries(endpoint.id, &key, 1)
                .await?
                .pop()
            else {
                return Ok(JobEnd::Done);
            };
            let now = self.now();
            if delivery.next_at > now {
                return Ok(JobEnd::Again {
                    run_at: delivery.next_at,
                });
            }
            let outcome = self.send(&endpoint, &delivery, now).await;
            let now = self.now();
            delivery.attempts += 1;
            let (failing_since, disabled) = match outcome {
                Ok((status, latency)) => {
                    delivery.state = DeliveryState::Delivered;
                    delivery.delivered_at = Some(now);
                    delivery.last_status = Some(status);
                    delivery.last_error = None;
                    delivery.last_latency_ms = Some(latency);
                    (None, None)
                }
                Err((status, error, latency)) => {
                    tracing::warn!(endpoint_id = %endpoint.id, delivery_id = %delivery.id, attempts = delivery.attempts, error = %error, "webhook delivery failed");
                    delivery.last_status = status;
                    delivery.last_error = Some(error);
                    delivery.last_latency_ms = latency;
                    match RETRY_AFTER.get(delivery.attempts as usize - 1) {
                        Some(wait) => {
                            let millis = wait * 1000;
                            let jitter = rand::rng().random_range(0..=millis / 10);
                            delivery.next_at =
                                now + chrono::Duration::milliseconds(millis + jitter);
                        }
                        None => delivery.state = DeliveryState::Dead,
                    }
                    let since = endpoint.failing_since.unwrap_or(now);
                    let disabled = (now - since >= DISABLE_AFTER)
                        .then_some((now, "every delivery failed for 5 days"));
                    (Some(since), disabled)
                }
            };
            let saved = delivery.clone();
            let id = endpoint.id;
            // A success at a healthy endpoint leaves its health as it was: one write less.
            let health_changed = failing_since != endpoint.failing_since || disabled.is_some();
            // The owner hears of a disabling in their event feed (and on any endpoint of
            // theirs that still works).
            let notice = disabled
                .map(|(at, why)| disabled_notice(&endpoint, at, why))
                .transpose()?;
            self.write(move |tx| {
                Box::pin(async move {
                    tx.put_webhook_delivery(&saved).await?;
                    if health_changed {
                        tx.set_webhook_health(id, failing_since, disabled).await?;
                    }
                    if let Some(notice) = &notice {
                        tx.enqueue(notice).await?;
                    }
                    Ok(())
                })
            })
            .await?;
            if let Some((_, why)) = disabled {
                tracing::error!(endpoint_id = %endpoint.id, url = %endpoint.url, "webhook endpoint disabled: {why}");
                return Ok(JobEnd::Done);
            }
            if delivery.state == DeliveryState::Pending {
                return Ok(JobEnd::Again {
                    run_at: delivery.next_at,
                });
            }
        }
        Ok(JobEnd::Again { run_at: self.now() })
    }

    /// One attempt: (status, latency ms) on a 2xx; else (status, what went wrong, latency).
    async fn send(
        &self,
        endpoint: &WebhookEndpoint,
        delivery: &WebhookDelivery,
        now: DateTime<Utc>,
    ) -> Result<(i32, i32), (Option<i32>, String, Option<i32>)> {
        let url = parse_url(&endpoint.url).map_err(|e| (None, e.to_string(), None))?;
        // An address written as such is not resolved, so it is checked here.
        if let Some(Ok(ip)) = url.host_str().map(|h| {
            h.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<IpAddr>()
        }) && !self.settings.allow_private_webhook_targets
            && !is_public(ip)
        {
            return Err((None, format!("{ip} is not a public address"), None));
        }
        let timestamp = now.timestamp();
        let mut signatures = vec![
            sign(
                &endpoint.secret,
                &delivery.message_id,
                timestamp,
                &delivery.body,
            )
            .map_err(|e| (None, e.to_string(), None))?,
        ];
        if let (Some(old), Some(until)) = (&endpoint.previous_secret, endpoint.previous_until)
            && until > now
        {
            signatures.push(
                sign(old, &delivery.message_id, timestamp, &delivery.body)
                    .map_err(|e| (None, e.to_string(), None))?,
            );
        }
        let client = self
            .webhook_client()
            .map_err(|e| (None, e.to_string(), None))?;
        let started = std::time::Instant::now();
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .header("user-agent", "Ordo-Webhooks/1")
            .header("webhook-id", &delivery.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signatures.join(" "))
            .body(delivery.body.clone())
            .send()
            .await;
        let latency = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
        match sent {
            Ok(res) if res.status().is_success() => Ok((i32::from(res.status().as_u16()), latency)),
            Ok(res) => Err((
                Some(i32::from(res.status().as_u16())),
                format!("answered {}", res.status()),
                Some(latency),
            )),
            Err(e) => Err((None, format!("{e}"), Some(latency))),
        }
    }

    /// The HTTP client for deliveries (built once; resolves through the public-address check).
    fn webhook_client(&self) -> AppResult<Arc<reqwest::Client>> {
        if let Some(client) = self.webhook_client.get() {
            return Ok(Arc::clone(client));
        }
        install_tls_provider();
        let client = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(PublicOnly {
                allow_private: self.settings.allow_private_webhook_targets,
            }))
            .build()
            .map_err(|e| AppError::Internal(e.into()))?;
        Ok(Arc::clone(
            self.webhook_client.get_or_init(|| Arc::new(client)),
        ))
    }
}
