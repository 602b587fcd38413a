//! Jobs, shared by both backends: the row mappings (used by their writes too) and
//! the reads of [`ordo_store::jobs`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_store::{Job, JobCounts, JobEnd, JobState, JobStore, Purge, StoreResult};
use sqlx::{AssertSqlSafe, QueryBuilder};
use uuid::Uuid;

use super::{Cols, SqlStore, corrupt, sql};
use crate::{Db, map_err};

/// The columns [`job_from_row`] reads.
pub(crate) const JOB_COLUMNS: &str =
    "id, kind, key, payload, state, run_at, attempts, last_error, created_at";

pub(crate) fn job_from_row(row: &impl Cols) -> StoreResult<Job> {
    let state = row.text("state")?;
    Ok(Job {
        id: row.uuid("id")?,
        kind: row.text("kind")?,
        key: row.text("key")?,
        payload: row.json("payload")?,
        state: JobState::parse(&state).map_err(|e| corrupt("job state", e))?,
        run_at: row.time("run_at")?,
        attempts: row.int32("attempts")?,
        last_error: row.opt_text("last_error")?,
        created_at: row.time("created_at")?,
    })
}

/// The statement that ends a claimed job, and its values: (state, run_at, last_error,
/// reset attempts).
pub(crate) fn job_end(end: &JobEnd) -> (&'static str, Option<DateTime<Utc>>, Option<&str>, bool) {
    match end {
        JobEnd::Done => (JobState::Done.as_str(), None, None, false),
        JobEnd::Retry { run_at, error } => {
            (JobState::Queued.as_str(), Some(*run_at), Some(error), false)
        }
        JobEnd::Dead { error } => (JobState::Dead.as_str(), None, Some(error), false),
        JobEnd::Again { run_at } => (JobState::Queued.as_str(), Some(*run_at), None, true),
    }
}

/// The DELETE for one kind of purge.
pub(crate) fn purge_sql(what: Purge) -> &'static str {
    match what {
        Purge::IdempotencyKeys => sql::PURGE_IDEMPOTENCY_KEYS,
        Purge::Sessions => sql::PURGE_SESSIONS,
        Purge::Jobs => sql::PURGE_JOBS,
        Purge::DeadJobs => sql::PURGE_DEAD_JOBS,
        Purge::Outbox => sql::PURGE_OUTBOX,
    }
}

#[async_trait]
impl JobStore for SqlStore {
    async fn jobs(
        &self,
        state: Option<JobState>,
        kind: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let mut qb: QueryBuilder<Db> =
            QueryBuilder::new(format!("SELECT {JOB_COLUMNS} FROM jobs WHERE 1 = 1"));
        if let Some(state) = state {
            qb.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(kind) = kind {
            qb.push(" AND kind = ").push_bind(kind.to_owned());
        }
        qb.push(" ORDER BY created_at DESC, id DESC LIMIT ")
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter().map(job_from_row).collect()
    }

    async fn job(&self, id: Uuid) -> StoreResult<Option<Job>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(job_from_row).transpose()
    }

    async fn job_counts(&self) -> StoreResult<JobCounts> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n, \
             SUM(CASE WHEN last_error IS NOT NULL THEN 1 ELSE 0 END) AS failed \
             FROM jobs GROUP BY state",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        let mut counts = JobCounts::default();
        for r in &rows {
            let n = r.int("n")?;
            match JobState::parse(&r.text("state")?).map_err(|e| corrupt("job state", e))? {
                JobState::Queued => {
                    counts.queued = n;
                    counts.retrying = r.opt_int("failed")?.unwrap_or(0);
                }
                JobState::Running => counts.running = n,
                JobState::Done => counts.done = n,
                JobState::Dead => counts.dead = n,
            }
        }
        Ok(counts)
    }
}
