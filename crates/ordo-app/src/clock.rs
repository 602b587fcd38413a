//! The one clock of the use cases, as a port: the system's in production, a hand-moved one in
//! tests, so a test of an expiry moves time instead of waiting for it.

use std::sync::Mutex;

use chrono::{DateTime, SubsecRound, Utc};

/// Where the use cases read the time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved (for tests; it is a real clock, not a stand-in for
/// one of Ordo's own parts).
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// Starts at the system's time now.
    pub fn starting_now() -> Self {
        Self(Mutex::new(Utc::now().trunc_subsecs(6)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
