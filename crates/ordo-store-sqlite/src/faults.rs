//! Fault switches for tests: all off, reachable only through `SqliteStore::faults` (in-process
//! tests), never from the command line or the environment. They are compiled into every build,
//! so the binary the process tests run is the one that ships; off, each costs the writer one
//! few atomic loads per batch (one per unit's savepoint end).
//!
//! Each switch makes the writer thread meet, at one exact step, the error SQLite would return
//! there on a broken disk, so the tests can hold the writer to its promises (see [`crate::writer`])
//! at steps a real disk fault cannot be aimed at. A full disk, which can be made for real, is
//! tested that way instead (`crates/ordo/tests/faults.rs`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

/// The switches; all off by default.
pub struct Faults {
    /// The next batch waits until this many units are queued, then runs them together.
    gather: AtomicUsize,
    /// A savepoint end (RELEASE / ROLLBACK TO) fails with an I/O error after this many more
    /// succeed; `usize::MAX` when off.
    savepoint_end_fails_after: AtomicUsize,
    /// The next COMMIT fails with an I/O error.
    commit_fails: AtomicBool,
    /// The writer thread panics just before the next COMMIT.
    panic_before_commit: AtomicBool,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            gather: AtomicUsize::new(0),
            savepoint_end_fails_after: AtomicUsize::new(usize::MAX),
            commit_fails: AtomicBool::new(false),
            panic_before_commit: AtomicBool::new(false),
        }
    }
}

impl Faults {
    /// The next batch will be exactly the next `units` units (the writer waits for them).
    pub fn gather_next_batch(&self, units: usize) {
        self.gather.store(units, Ordering::SeqCst);
    }

    /// The savepoint end after the next `succeeding` ones fails (once).
    pub fn fail_savepoint_end_after(&self, succeeding: usize) {
        self.savepoint_end_fails_after
            .store(succeeding, Ordering::SeqCst);
    }

    /// The next COMMIT fails.
    pub fn fail_next_commit(&self) {
        self.commit_fails.store(true, Ordering::SeqCst);
    }

    /// The writer thread panics before the next COMMIT.
    pub fn panic_before_next_commit(&self) {
        self.panic_before_commit.store(true, Ordering::SeqCst);
    }

    /// Blocks until the batch being started has the units it was told to gather.
    pub(crate) fn gather<J>(&self, queue: &mpsc::Receiver<J>, backlog: &mut VecDeque<J>) {
        let want = self.gather.swap(0, Ordering::SeqCst);
        while backlog.len() + 1 < want {
            match queue.recv() {
                Ok(job) => backlog.push_back(job),
                Err(_) => return,
            }
        }
    }

    pub(crate) fn savepoint_end_error(&self) -> Option<rusqlite::Error> {
        let before = self
            .savepoint_end_fails_after
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match n {
                usize::MAX => None,
                0 => Some(usize::MAX),
                n => Some(n - 1),
            })
            .ok()?;
        (before == 0).then(|| io_error("injected: the savepoint could not be ended"))
    }

    pub(crate) fn commit_error(&self) -> Option<rusqlite::Error> {
        self.commit_fails
            .swap(false, Ordering::SeqCst)
            .then(|| io_error("injected: the commit's fsync failed"))
    }

    pub(crate) fn before_commit(&self) {
        if self.panic_before_commit.swap(false, Ordering::SeqCst) {
            panic!("injected: the writer broke before its commit");
        }
    }
}

/// The error SQLite returns when the disk fails under it.
fn io_error(what: &str) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR_FSYNC),
        Some(what.to_owned()),
    )
}
