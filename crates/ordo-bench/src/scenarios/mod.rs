//! The scenarios, and what they share: the server under test, progress bars, the ceiling.

pub mod ceiling;
pub mod checkout;
pub mod events;
pub mod flash_sale;
pub mod pages;
pub mod payments;
pub mod peak_updates;
pub mod read;

use std::time::Duration;

pub use ceiling::Ceiling;

use crate::report::{Report, Target};
use crate::server::{Backend, Server, TargetArgs};

/// One run: the server under test and how it was reached.
pub struct Run {
    pub server: Server,
    pub target: TargetArgs,
}

impl Run {
    pub fn backend_name(&self) -> &'static str {
        match self.server.backend {
            Backend::Sqlite => "sqlite (WAL, synchronous=FULL)",
            Backend::Postgres => "postgres",
        }
    }

    /// Adds the server's peak resident memory (when the bench started it).
    pub fn memory(&self, report: &mut Report) {
        if let Some(mib) = self.server.peak_rss_mib() {
            report.figure(
                "Ordo peak resident memory",
                mib,
                "MiB",
                Some(Target::AtMost(256.0)),
            );
        }
    }
}

/// Where the CPU went between two samples, per unit of work: the evidence for what holds a
/// rate back (client and server share the cores; the SQLite writer is one thread).
pub fn cpu_figures(
    report: &mut Report,
    before: crate::server::CpuSample,
    after: crate::server::CpuSample,
    units: f64,
    unit: &str,
    seconds: f64,
) {
    if units <= 0.0 || after.server <= 0.0 {
        return;
    }
    let per_unit = |a: f64, b: f64| (a - b) / units * 1e6;
    report.figure(
        &format!("Ordo CPU per {unit}"),
        per_unit(after.server, before.server),
        "µs",
        None,
    );
    report.figure(
        &format!("bench client CPU per {unit}"),
        per_unit(after.bench, before.bench),
        "µs",
        None,
    );
    if after.writer > 0.0 && seconds > 0.0 {
        report.figure(
            "SQLite writer thread busy",
            (after.writer - before.writer) / seconds * 100.0,
            "%",
            None,
        );
    }
}

pub use crate::progress::{bar, spinner};

/// Sends `count` POSTs at once, spread over `connections` HTTP/2 connections, and returns each
/// answer (in request order) with how long after the start it completed. Every request is
/// spawned before the first is released, so all of them are in flight together.
pub async fn burst(
    api: &crate::api::Api,
    count: usize,
    connections: usize,
    what: &str,
    request: impl Fn(usize) -> (String, String, serde_json::Value),
) -> Vec<(crate::api::Answer, Duration)> {
    let clients: Vec<crate::api::Api> = (0..connections.max(1))
        .map(|_| api.with_client(crate::api::http2()))
        .collect();
    let progress = bar(count as u64, what);
    let (go, ready) = tokio::sync::watch::channel(None::<std::time::Instant>);
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let (token, path, body) = request(i);
            let client = clients[i % clients.len()].clone();
            let (mut ready, progress) = (ready.clone(), progress.clone());
            tokio::spawn(async move {
                let _ = ready.wait_for(Option::is_some).await;
                let start = (*ready.borrow()).expect("released");
                let answer = client.post(&token, &path, &body).await;
                progress.inc(1);
                (answer, start.elapsed())
            })
        })
        .collect();
    // Open every connection first, so the burst measures requests, not handshakes.
    for client in &clients {
        let _ = client.get("", "/../../healthz").await;
    }
    let _ = go.send(Some(std::time::Instant::now()));
    let mut answers = Vec::with_capacity(count);
    for task in tasks {
        answers.push(task.await.expect("a request task"));
    }
    progress.finish();
    answers
}

/// What a [`rush`] did.
pub struct Rush {
    /// Orders placed per second, warm-up not counted.
    pub rate: f64,
    /// Orders placed in all, warm-up included.
    pub all: usize,
    /// Latency of the counted placements.
    pub latency: crate::report::Latency,
    /// Counted placements whose answer says `paid`.
    pub paid: usize,
}

/// Places orders as fast as `customers` can for `seconds` (after a second's warm-up), each
/// with `payment_method` when one is given.
pub async fn rush(
    api: &crate::api::Api,
    customers: &[String],
    skus: &std::sync::Arc<Vec<String>>,
    seconds: u64,
    payment_method: Option<&str>,
) -> Rush {
    use std::sync::Arc;
    use std::time::Instant;
    let start = Instant::now();
    let counted_from = start + Duration::from_secs(1);
    let end = counted_from + Duration::from_secs(seconds);
    let method = payment_method.map(str::to_owned);
    let workers: Vec<_> = customers
        .iter()
        .map(|token| {
            let (api, skus, token, method) =
                (api.clone(), Arc::clone(skus), token.clone(), method.clone());
            tokio::spawn(async move {
                let (mut all, mut paid) = (0, 0);
                let mut latency = crate::report::Latency::default();
                while Instant::now() < end {
                    let mut order = crate::api::random_order(&skus);
                    if let Some(m) = &method {
                        order["payment_method"] = serde_json::json!(m);
                    }
                    let answer = api.post(&token, "/orders", &order).await;
                    if answer.status.as_u16() == 201 {
                        all += 1;
                        if Instant::now() >= counted_from {
                            latency.record(answer.latency);
                            paid += usize::from(answer.body["status"] == "paid");
                        }
                    }
                }
                (all, paid, latency)
            })
        })
        .collect();
    let mut rush = Rush {
        rate: 0.0,
        all: 0,
        latency: crate::report::Latency::default(),
        paid: 0,
    };
    for w in workers {
        if let Ok((all, paid, latency)) = w.await {
            rush.all += all;
            rush.paid += paid;
            rush.latency.add(&latency);
        }
    }
    rush.rate = rush.latency.count() as f64 / seconds as f64;
    rush
}

/// The median of `values` (0 for none).
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// What an open-loop run measured: per request kind, latency from when each request was due;
/// per answer kind (`200`, `404 not_found`, `599 transport`…), how many.
#[derive(Default)]
pub struct OpenLoop {
    pub latency: std::collections::BTreeMap<&'static str, crate::report::Latency>,
    pub answers: std::collections::BTreeMap<String, u64>,
    /// Seconds from the first due time to the last answer.
    pub offered_for: f64,
}

impl OpenLoop {
    /// What every open-loop run reports last: all `total` offered were answered, none in error.
    pub fn report_answers(&self, report: &mut Report, total: u64) {
        report.figure(
            "answered",
            self.answers.values().sum::<u64>() as f64,
            "answers",
            Some(Target::Exactly(total as f64)),
        );
        report.figure(
            "errors",
            self.errors() as f64,
            "answers",
            Some(Target::Exactly(0.0)),
        );
    }

    /// Answers that were not a success.
    pub fn errors(&self) -> u64 {
        self.answers
            .iter()
            .filter(|(k, _)| !k.starts_with('2') && !k.starts_with('3'))
            .map(|(_, n)| n)
            .sum()
    }
}

/// Offers `rate` requests a second for `seconds`, open loop: request *i* is due at
/// `start + i / rate` whether or not earlier ones have answered, and its latency runs from when
/// it was due — a slow answer shows in the figures instead of quietly lowering the rate (no
/// coordinated omission). `request(i)` sends the *i*-th and says what kind it was.
pub async fn open_loop<F, Fut>(
    rate: u64,
    seconds: u64,
    what: &str,
    request: F,
) -> anyhow::Result<OpenLoop>
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = (&'static str, crate::api::Answer)> + Send + 'static,
{
    use std::sync::{Arc, Mutex};
    use std::time::Instant;
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let tally = Arc::new(Mutex::new(OpenLoop::default()));
    let progress = bar(total, what);
    let start = Instant::now() + Duration::from_millis(100);
    let mut requests = Vec::with_capacity(total as usize);
    for i in 0..total {
        let due = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        let (sent, tally, progress) = (request(i), Arc::clone(&tally), progress.clone());
        requests.push(tokio::spawn(async move {
            let (kind, answer) = sent.await;
            let late = due.elapsed();
            let mut t = tally.lock().expect("tally");
            *t.answers.entry(answer.kind()).or_default() += 1;
            t.latency.entry(kind).or_default().record(late);
            progress.inc(1);
        }));
    }
    for r in requests {
        r.await?;
    }
    progress.finish();
    let mut done = Arc::try_unwrap(tally)
        .map_err(|_| anyhow::anyhow!("requests still hold the tally"))?
        .into_inner()
        .expect("tally");
    done.offered_for = start.elapsed().as_secs_f64();
    Ok(done)
}

/// The notes `load` left in the folder the server runs on (or, with `--url`, the one named by
/// `--data-dir`): how many orders and customers; `null` when there are none.
pub fn notes(run: &Run) -> serde_json::Value {
    run.server
        .data_dir
        .as_ref()
        .or(run.target.data_dir.as_ref())
        .and_then(|d| std::fs::read_to_string(d.join("bench-load.json")).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(serde_json::Value::Null)
}
