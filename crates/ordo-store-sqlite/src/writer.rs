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
//!
//! Faults, and what each promises the callers (docs/architecture.md, "When a write fails"):
//! - a unit that fails or panics is rolled back to its savepoint alone; the rest of its batch
//!   goes on;
//! - a savepoint that cannot be ended, or a transaction SQLite abandoned, sinks the whole
//!   batch: it is rolled back and every caller in it is told nothing was saved;
//! - a COMMIT that fails leaves the outcome unknown (frames of it may be in the WAL, and after
//!   a failed fsync the kernel may have dropped or kept them: PostgreSQL's "fsyncgate"). The
//!   writer then stops for good (fail-stop): the batch's callers are told `OutcomeUnknown`,
//!   every later write is refused, readiness turns false and `ordo serve` exits non-zero, so a
//!   supervisor restarts it and SQLite's recovery at open decides what is durable. A panic in
//!   the writer's own code is treated the same way.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use anyhow::Context as _;
use ordo_store::{Outcome, StoreError, StoreResult, TxWork};
use tokio::sync::{oneshot, watch};

use crate::tx::{SqliteTx, map_rusqlite_err};

/// Units run in one batch at most (failed ones count too); bounds how long the first caller
/// of a batch waits.
const MAX_BATCH: usize = 256;

pub(crate) enum Job {
    Unit {
        work: TxWork,
        reply: oneshot::Sender<StoreResult<Outcome>>,
    },
    /// Checkpoint the WAL into the main file and stop.
    Close(oneshot::Sender<()>),
}

/// Whether the writer takes work: `None` while it does, the reason once it stopped.
type State = watch::Sender<Option<Stopped>>;

/// Why the writer stopped taking work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// Closed on purpose (shutdown).
    Closed,
    /// Fail-stopped: a commit's outcome is unknown or the writer itself broke.
    Failed(String),
}

/// A handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    state: Arc<State>,
    faults: Arc<crate::faults::Faults>,
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
        let state = Arc::new(watch::Sender::new(None));
        let writer = Self {
            jobs,
            state: Arc::clone(&state),
            faults: Arc::default(),
        };
        let thread = Thread {
            tx: SqliteTx::new(conn),
            state,
            backlog: VecDeque::new(),
            faults: Arc::clone(&writer.faults),
        };
        std::thread::Builder::new()
            .name("ordo-sqlite-writer".into())
            .spawn(move || thread.run(&queue))
            .context("Failed to start the SQLite writer thread")?;
        Ok(writer)
    }

    /// Runs `work` in the next batch and answers once that batch is committed.
    pub(crate) async fn transact(&self, work: TxWork) -> StoreResult<Outcome> {
        if let Some(stopped) = self.stopped() {
            return Err(refused(&stopped));
        }
        let (reply, answer) = oneshot::channel();
        if self.jobs.send(Job::Unit { work, reply }).is_err() {
            return Err(refused(&self.stopped().unwrap_or(Stopped::Closed)));
        }
        // A reply dropped unanswered means the writer died holding the unit, perhaps in the
        // middle of its commit: nobody can say whether it was saved.
        answer.await.map_err(|_| {
            StoreError::OutcomeUnknown(anyhow::anyhow!(
                "the SQLite writer stopped while holding this write"
            ))
        })?
    }

    /// Why the writer no longer takes work, if it does not.
    pub fn stopped(&self) -> Option<Stopped> {
        self.state.borrow().clone()
    }

    /// Resolves once the writer has fail-stopped, with the reason (never, if it closes cleanly).
    pub async fn failed(&self) -> String {
        let mut seen = self.state.subscribe();
        loop {
            if let Some(Stopped::Failed(why)) = seen.borrow_and_update().clone() {
                return why;
            }
            if seen.changed().await.is_err() {
                return std::future::pending().await;
            }
        }
    }

    /// Checkpoints and stops the thread; later writes fail as unavailable.
    pub(crate) async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.jobs.send(Job::Close(reply)).is_ok() {
            let _ = done.await;
        }
    }

    /// The test-only fault switches of this writer.
    pub fn faults(&self) -> &crate::faults::Faults {
        &self.faults
    }
}

/// The error for a write refused because the writer stopped before running it: nothing of it
/// was done, so it is safe to retry (elsewhere, or after a restart).
fn refused(stopped: &Stopped) -> StoreError {
    StoreError::Unavailable(match stopped {
        Stopped::Closed => anyhow::anyhow!("the SQLite writer has stopped"),
        Stopped::Failed(why) => anyhow::anyhow!("the SQLite writer fail-stopped: {why}"),
    })
}

type Reply = oneshot::Sender<StoreResult<Outcome>>;

/// The writer thread's own state.
struct Thread {
    tx: SqliteTx,
    state: Arc<State>,
    /// Jobs taken off the queue but not yet run (a close met inside a batch; a gathered batch
    /// in tests): served before the queue, in order.
    backlog: VecDeque<Job>,
    faults: Arc<crate::faults::Faults>,
}

/// What a batch left behind.
enum After {
    /// Go on with the next batch.
    Continue,
    /// The writer must stop taking work, for this reason.
    FailStop(String),
}

/// Units taken into a batch and waiting for its end.
type Pending = Vec<(Reply, StoreResult<Outcome>)>;

impl Thread {
    fn run(mut self, queue: &mpsc::Receiver<Job>) {
        let state = Arc::clone(&self.state);
        // A panic outside the units (they are caught one by one) leaves the connection in an
        // unknown state, perhaps mid-commit: fail-stop, exactly as a failed commit.
        let why = match std::panic::catch_unwind(AssertUnwindSafe(|| self.serve(queue))) {
            Ok(None) => {
                state.send_replace(Some(Stopped::Closed));
                return;
            }
            Ok(Some(why)) => why,
            Err(panic) => format!("the writer panicked: {}", panic_message(&*panic)),
        };
        tracing::error!(reason = %why, "the SQLite writer fail-stopped; restart Ordo to recover");
        let stopped = Stopped::Failed(why);
        state.send_replace(Some(stopped.clone()));
        // Whatever is still queued never ran: say so, so those callers may safely retry.
        let backlog = std::mem::take(&mut self.backlog);
        for job in backlog.into_iter().chain(queue.try_iter()) {
            match job {
                Job::Unit { reply, .. } => {
                    let _ = reply.send(Err(refused(&stopped)));
                }
                Job::Close(reply) => {
                    let _ = reply.send(());
                }
            }
        }
    }

    /// Serves batches until closed (`None`) or fail-stopped (`Some(reason)`).
    fn serve(&mut self, queue: &mpsc::Receiver<Job>) -> Option<String> {
        while let Some(job) = self.backlog.pop_front().or_else(|| queue.recv().ok()) {
            match job {
                Job::Close(reply) => {
                    if let Err(e) = self
                        .tx
                        .conn()
                        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
                    {
                        tracing::warn!(error = %e, "final WAL checkpoint failed");
                    }
                    let _ = reply.send(());
                    return None;
                }
                Job::Unit { work, reply } => {
                    if let After::FailStop(why) = self.batch(work, reply, queue) {
                        return Some(why);
                    }
                }
            }
        }
        None
    }

    /// Runs one batch, starting with `work`, taking further waiting units until the queue is
    /// empty or the batch is full; commits; answers.
    fn batch(&mut self, work: TxWork, reply: Reply, queue: &mpsc::Receiver<Job>) -> After {
        self.faults.gather(queue, &mut self.backlog);
        if let Err(e) = self.tx.conn().execute_batch("BEGIN IMMEDIATE") {
            // Nothing ran: a plain refusal (busy: another process holds the lock).
            let _ = reply.send(Err(map_rusqlite_err(e)));
            return After::Continue;
        }
        let mut pending: Pending = Vec::new();
        let mut unit = Some((work, reply));
        while let Some((work, reply)) = unit.take() {
            match self.run_unit(work) {
                Ok(result) => pending.push((reply, result)),
                Err(sunk) => {
                    pending.push((
                        reply,
                        Err(StoreError::Unavailable(anyhow::anyhow!("{sunk}"))),
                    ));
                    return self.abandon(pending, &sunk);
                }
            }
            if self.tx.conn().is_autocommit() {
                // SQLite abandoned the whole transaction (disk full, I/O error): every unit of
                // this batch is lost, and none of them has been answered yet.
                return self.abandon(pending, "SQLite rolled the batch's transaction back");
            }
            if pending.len() >= MAX_BATCH {
                break;
            }
            match self.backlog.pop_front().or_else(|| queue.try_recv().ok()) {
                Some(Job::Unit { work, reply }) => unit = Some((work, reply)),
                // A close waits for this batch's end, then ends the writer.
                Some(close) => self.backlog.push_front(close),
                None => {}
            }
        }
        self.commit(pending)
    }

    /// Commits the batch and answers everyone in it; a failed commit is fail-stop.
    fn commit(&mut self, pending: Pending) -> After {
        self.faults.before_commit();
        let committed = {
            let injected = self.faults.commit_error();
            match injected {
                Some(e) => Err(e),
                None => self.tx.conn().execute_batch("COMMIT"),
            }
        };
        match committed {
            Ok(()) => {
                for (reply, result) in pending {
                    let _ = reply.send(result);
                }
                After::Continue
            }
            Err(e) => {
                let why = format!("a group commit failed: {e}");
                // Stopped before anyone hears: once a caller has its answer, every reader of
                // the state (readiness, the next write) must see the stop.
                self.state.send_replace(Some(Stopped::Failed(why.clone())));
                for (reply, result) in pending {
                    let _ = reply.send(match result {
                        // Its changes were rolled back to its savepoint before the commit:
                        // whatever the commit did, none of them is in it.
                        Ok(Outcome::RolledBack) => Ok(Outcome::RolledBack),
                        Err(e) => Err(e),
                        Ok(Outcome::Committed) => {
                            Err(StoreError::OutcomeUnknown(anyhow::anyhow!("{why}")))
                        }
                    });
                }
                After::FailStop(why)
            }
        }
    }

    /// Rolls the open batch back and tells every caller in it that nothing was saved. If even
    /// the rollback fails, the connection's state is unknown: fail-stop.
    fn abandon(&mut self, pending: Pending, why: &str) -> After {
        tracing::error!(reason = why, units = pending.len(), "a batch was abandoned");
        let rolled_back = if self.tx.conn().is_autocommit() {
            Ok(())
        } else {
            self.tx.conn().execute_batch("ROLLBACK")
        };
        for (reply, result) in pending {
            let _ = reply.send(match result {
                Ok(Outcome::Committed) => Err(StoreError::Unavailable(anyhow::anyhow!(
                    "the batch holding this write was rolled back: {why}"
                ))),
                other => other,
            });
        }
        match rolled_back {
            Ok(()) => After::Continue,
            Err(e) => After::FailStop(format!("a batch could not be rolled back: {e}")),
        }
    }

    /// Runs one unit in its own savepoint: released if the work returns `Ok`, rolled back to if
    /// it returns `Err`, fails, or breaks the rules (awaits something else, panics). The outer
    /// `Err` says the savepoint could not be ended, which sinks the batch.
    fn run_unit(&mut self, work: TxWork) -> Result<StoreResult<Outcome>, String> {
        if let Err(e) = self.tx.conn().execute_batch("SAVEPOINT unit") {
            return Err(format!("a unit's savepoint could not be opened: {e}"));
        }
        self.tx.take_failed();
        let polled = {
            let mut future = work(&mut self.tx);
            let mut cx = Context::from_waker(Waker::noop());
            std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(&mut cx)))
        };
        let result = match polled {
            Ok(Poll::Ready(Ok(()))) if self.tx.take_failed() => {
                Err(ordo_store::went_on_after_a_failure())
            }
            Ok(Poll::Ready(Ok(()))) => Ok(Outcome::Committed),
            Ok(Poll::Ready(Err(_))) => Ok(Outcome::RolledBack),
            Ok(Poll::Pending) => Err(StoreError::Other(anyhow::anyhow!(
                "a unit of work awaited something other than its transaction"
            ))),
            Err(panic) => {
                let message = panic_message(&*panic);
                tracing::error!(panic = %message, "a unit of work panicked; it alone is rolled back");
                Err(StoreError::Other(anyhow::anyhow!(
                    "a unit of work panicked: {message}"
                )))
            }
        };
        if self.tx.conn().is_autocommit() {
            // SQLite ended the transaction itself; the caller sees that and sinks the batch.
            return Ok(result);
        }
        let end = if matches!(result, Ok(Outcome::Committed)) {
            "RELEASE unit"
        } else {
            "ROLLBACK TO unit; RELEASE unit"
        };
        let ended = match self.faults.savepoint_end_error() {
            Some(e) => Err(e),
            None => self.tx.conn().execute_batch(end),
        };
        match ended {
            Ok(()) => Ok(result),
            Err(e) => Err(format!(
                "a unit's savepoint could not be ended ({}): {e}",
                map_rusqlite_err_kind(&e)
            )),
        }
    }
}

/// A short name for an SQLite error, for messages.
fn map_rusqlite_err_kind(e: &rusqlite::Error) -> &'static str {
    match e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::DiskFull => {
            "disk full"
        }
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::SystemIoFailure => {
            "I/O error"
        }
        _ => "SQLite error",
    }
}

/// The message a panic was raised with, if it was a string.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned())
}
