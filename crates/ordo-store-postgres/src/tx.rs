//! PostgreSQL's write path: each unit of work runs in its own transaction on a pooled
//! connection. Concurrent units commit in parallel and PostgreSQL groups their WAL flushes, so
//! no batching is needed here; row locks (`FOR UPDATE`) keep concurrent units apart.

use std::cell::Cell;

use chrono::{DateTime, Utc};
use ordo_store::{AuthChange, Job, Outcome, StoreError, StoreResult, TxWork};
use sqlx::types::Json;
use sqlx::{Pool, Transaction};

use crate::{Db, map_err};

/// The writer is the pool itself.
pub(crate) type Writer = Pool<Db>;

pub(crate) async fn transact(pool: &Writer, work: TxWork) -> StoreResult<Outcome> {
    let tx = pool.begin().await.map_err(map_err)?;
    let mut tx = PgTx {
        tx,
        failed: Cell::new(false),
    };
    if work(&mut tx).await.is_err() {
        // Dropping the transaction rolls it back.
        return Ok(Outcome::RolledBack);
    }
    if tx.failed.get() {
        // PostgreSQL has already abandoned this transaction; its COMMIT would quietly roll back.
        return Err(ordo_store::went_on_after_a_failure());
    }
    tx.tx.commit().await.map_err(commit_failed)?;
    Ok(Outcome::Committed)
}

/// A failed COMMIT. PostgreSQL answers a refused commit (a deferred constraint, a
/// serialization failure) with an error of class 23 or 40 and has then rolled back: nothing
/// changed. Any other failure — the connection lost, the server shut down or crashed while
/// committing — leaves the outcome unknown: the commit may have become durable just before.
pub(crate) fn commit_failed(e: sqlx::Error) -> StoreError {
    let refused = matches!(&e, sqlx::Error::Database(db)
        if db.code().is_some_and(|c| c.starts_with("23") || c.starts_with("40")));
    if refused {
        map_err(e)
    } else {
        StoreError::OutcomeUnknown(e.into())
    }
}

pub(crate) struct PgTx {
    pub(crate) tx: Transaction<'static, Db>,
    /// A statement failed: the unit must end with `Err` (see `ordo_store::went_on_after_a_failure`).
    pub(crate) failed: Cell<bool>,
}

impl PgTx {
    /// Writes a job with one of the job statements (they share their parameters); returns
    /// the rows written.
    pub(crate) async fn put_job(
        &mut self,
        sql: &'static str,
        job: &Job,
        at: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let done = sqlx::query(sql)
            .bind(job.id)
            .bind(&job.kind)
            .bind(&job.key)
            .bind(Json(&job.payload))
            .bind(job.run_at)
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected())
    }

    pub(crate) fn fail(&self, e: sqlx::Error) -> StoreError {
        self.failed.set(true);
        map_err(e)
    }

    /// Tells every node of an auth change when (and only if) this transaction commits:
    /// PostgreSQL delivers a NOTIFY at commit. The payload is an id, never more.
    pub(crate) async fn notify(&mut self, change: &AuthChange) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::AUTH_CHANNEL)
            .bind(crate::encode_auth_change(change))
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }
}
