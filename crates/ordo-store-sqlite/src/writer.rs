//! The one writer: a thread that owns SQLite's write connection and commits in groups.
//!
//! SQLite takes one writer at a time, and with `synchronous = FULL` each commit waits for an
//! fsync. Committing every placement on its own would cap Ordo at the disk's fsync rate and
//! leave the CPU idle. So units of work queue on a channel, and the thread runs every unit that
//! is waiting inside one transaction, each in its own SAVEPOINT (a unit that fails is rolled back
//! alone), then commits once and answers every caller of the batch. Nobody is answered before
//! the COMMIT that holds their changes has returned, so an acknowledged write is on disk. When
//! only one unit waits, the batch is that unit and nothing waits for company: batching costs no
//! latency when idle and grows with load.
//!
//! The units are the use cases' own async code (see `ordo_store::write`). They await nothing but
//! their transaction, whose methods here run synchronously on this thread through SQLite's C
//! API, so each unit finishes in a single poll, without an async runtime and without a thread
//! hop per statement (sqlx's SQLite driver sends every statement to a worker thread and back,
//! which measured ~20 µs a statement here against ~2 µs inline).

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use anyhow::Context as _;
use ordo_store::{Outcome, StoreError, StoreResult, TxWork};
use tokio::sync::oneshot;

use crate::tx::{SqliteTx, map_rusqlite_err};

/// Units committed together at most; bounds how long the first caller of a batch waits.
const MAX_BATCH: usize = 256;

enum Job {
    Unit {
        work: TxWork,
        reply: oneshot::Sender<StoreResult<Outcome>>,
    },
    /// Checkpoint the WAL into the main file and stop.
    Close(oneshot::Sender<()>),
}

/// A handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Opens the write connection on `path` (already created and migrated) and starts the thread.
    pub(crate) fn start(path: &Path, busy_timeout: Duration) -> anyhow::Result<Self> {
        let conn = rusqlite::Connection::open(path)
            .with_context(|| format!("Failed to open {} for writing", path.display()))?;
        conn.busy_timeout(busy_timeout)?;
        // WAL lets readers work beside the writer; FULL fsyncs the WAL at every commit, which is
        // what makes an acknowledgement a promise (see docs/benchmarks.md, durability).
        // temp_store = MEMORY keeps each unit's SAVEPOINT sub-journal in memory: it only ever
        // serves to roll one unit back inside the open transaction, so a file for it bought
        // nothing but a pwrite per page changed (13 % of the writer thread's time under the
        // checkout benchmark).
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
             PRAGMA temp_store = MEMORY;",
        )?;
        conn.set_prepared_statement_cache_capacity(64);
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("ordo-sqlite-writer".into())
            .spawn(move || run(SqliteTx::new(conn), &queue))
            .context("Failed to start the SQLite writer thread")?;
        Ok(Self { jobs })
    }

    /// Runs `work` in the next batch and answers once that batch is committed.
    pub(crate) async fn transact(&self, work: TxWork) -> StoreResult<Outcome> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job::Unit { work, reply })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Checkpoints and stops the thread; later writes fail as unavailable.
    pub(crate) async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.jobs.send(Job::Close(reply)).is_ok() {
            let _ = done.await;
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable(anyhow::anyhow!("the SQLite writer has stopped"))
}

fn run(mut tx: SqliteTx, queue: &mpsc::Receiver<Job>) {
    let mut next = queue.recv().ok();
    while let Some(job) = next.take() {
        match job {
            Job::Close(reply) => {
                if let Err(e) = tx.conn().execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
                    tracing::warn!(error = %e, "final WAL checkpoint failed");
                }
                let _ = reply.send(());
                return;
            }
            Job::Unit { work, reply } => {
                next = batch(&mut tx, work, reply, queue);
            }
        }
        if next.is_none() {
            next = queue.recv().ok();
        }
    }
}

type Reply = oneshot::Sender<StoreResult<Outcome>>;

/// Runs one batch, starting with `work`, taking further waiting units until the queue is empty
/// or the batch is full; commits; answers. Returns a job that must not join this batch (a
/// close), if one was taken.
fn batch(
    tx: &mut SqliteTx,
    work: TxWork,
    reply: Reply,
    queue: &mpsc::Receiver<Job>,
) -> Option<Job> {
    if let Err(e) = tx.conn().execute_batch("BEGIN IMMEDIATE") {
        let _ = reply.send(Err(map_rusqlite_err(e)));
        return None;
    }
    let mut answered: Vec<(Reply, Outcome)> = Vec::new();
    let mut held = None;
    let mut unit = Some((work, reply));
    while let Some((work, reply)) = unit.take() {
        match run_unit(tx, work) {
            Ok(outcome) => answered.push((reply, outcome)),
            Err(e) => {
                let _ = reply.send(Err(e));
            }
        }
        if tx.conn().is_autocommit() {
            // SQLite abandoned the whole transaction (disk full, I/O error): every unit of this
            // batch is lost, and none of them has been answered yet.
            fail(
                answered,
                "the batch's transaction was rolled back by SQLite",
            );
            return held;
        }
        if answered.len() >= MAX_BATCH {
            break;
        }
        match queue.try_recv() {
            Ok(Job::Unit { work, reply }) => unit = Some((work, reply)),
            Ok(close) => held = Some(close),
            Err(_) => {}
        }
    }
    match tx.conn().execute_batch("COMMIT") {
        Ok(()) => {
            for (reply, outcome) in answered {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "group commit failed");
            let _ = tx.conn().execute_batch("ROLLBACK");
            fail(answered, "the batch's commit failed");
        }
    }
    held
}

fn fail(answered: Vec<(Reply, Outcome)>, why: &'static str) {
    for (reply, outcome) in answered {
        let _ = reply.send(match outcome {
            // It asked to be undone, and it was.
            Outcome::RolledBack => Ok(Outcome::RolledBack),
            Outcome::Committed => Err(StoreError::Unavailable(anyhow::anyhow!(why))),
        });
    }
}

/// Runs one unit in its own savepoint: released if the work returns `Ok`, rolled back to if it
/// returns `Err`, fails, or breaks the rules (awaits something else, panics).
fn run_unit(tx: &mut SqliteTx, work: TxWork) -> StoreResult<Outcome> {
    tx.conn()
        .execute_batch("SAVEPOINT unit")
        .map_err(map_rusqlite_err)?;
    tx.take_failed();
    let polled = {
        let mut future = work(tx);
        let mut cx = Context::from_waker(Waker::noop());
        std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx)))
    };
    let result = match polled {
        Ok(Poll::Ready(Ok(()))) if tx.take_failed() => Err(ordo_store::went_on_after_a_failure()),
        Ok(Poll::Ready(Ok(()))) => Ok(Outcome::Committed),
        Ok(Poll::Ready(Err(_))) => Ok(Outcome::RolledBack),
        Ok(Poll::Pending) => Err(StoreError::Other(anyhow::anyhow!(
            "a unit of work awaited something other than its transaction"
        ))),
        Err(_) => Err(StoreError::Other(anyhow::anyhow!(
            "a unit of work panicked"
        ))),
    };
    let end = if result.as_ref().is_ok_and(|o| *o == Outcome::Committed) {
        "RELEASE unit"
    } else {
        "ROLLBACK TO unit; RELEASE unit"
    };
    if !tx.conn().is_autocommit() {
        tx.conn().execute_batch(end).map_err(map_rusqlite_err)?;
    }
    result
}
