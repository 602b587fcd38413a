//! Jobs on SQLite: the writes of [`ordo_store::jobs`] in one transaction. The reads
//! and row mappings are shared with PostgreSQL (`ordo-store/shared/sql_store/jobs.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_store::{Job, JobEnd, JobTx, Purge, StoreResult};
use rusqlite::params;
use uuid::Uuid;

use crate::sql_store::jobs::{job_end, job_from_row, purge_sql};
use crate::sql_store::sql;
use crate::tx::{SqliteTx, ts};

#[async_trait]
impl JobTx for SqliteTx {
    async fn enqueue_job(&mut self, job: &Job, at: DateTime<Utc>) -> StoreResult<bool> {
        Ok(self.put_job(sql::ENQUEUE_JOB, job, at)? == 1)
    }

    async fn wake_job(&mut self, job: &Job, at: DateTime<Utc>) -> StoreResult<()> {
        self.put_job(sql::WAKE_JOB, job, at)?;
        Ok(())
    }

    async fn hurry_job(&mut self, kind: &str, at: DateTime<Utc>) -> StoreResult<()> {
        self.execute(sql::HURRY_JOB, params![ts(&at), kind])?;
        Ok(())
    }

    async fn retry_job(&mut self, id: Uuid, at: DateTime<Utc>) -> StoreResult<bool> {
        Ok(self.execute(sql::RETRY_JOB, params![ts(&at), id])? == 1)
    }

    async fn claim_jobs(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        self.query(
            &sql::CLAIM_JOBS,
            params![ts(&now), ts(&lease_until), i64::from(limit)],
            |r| job_from_row(r),
        )
    }

    async fn finish_job(&mut self, id: Uuid, end: &JobEnd, at: DateTime<Utc>) -> StoreResult<()> {
        let (state, run_at, error, reset) = job_end(end);
        self.execute(
            sql::FINISH_JOB,
            params![state, run_at.as_ref().map(ts), error, reset, ts(&at), id],
        )?;
        Ok(())
    }

    async fn purge(&mut self, what: Purge, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        Ok(self.execute(purge_sql(what), params![ts(&before), i64::from(limit)])? as u64)
    }
}
