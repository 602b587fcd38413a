//! Jobs on PostgreSQL: the writes of [`ordo_store::jobs`] in one transaction. The reads
//! and row mappings are shared with SQLite (`ordo-store/shared/sql_store/jobs.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_store::{Job, JobEnd, JobTx, Purge, StoreResult};
use uuid::Uuid;

use crate::sql_store::jobs::{job_end, job_from_row, purge_sql};
use crate::sql_store::sql;
use crate::tx::PgTx;

#[async_trait]
impl JobTx for PgTx {
    async fn enqueue_job(&mut self, job: &Job, at: DateTime<Utc>) -> StoreResult<bool> {
        Ok(self.put_job(sql::ENQUEUE_JOB, job, at).await? == 1)
    }

    async fn wake_job(&mut self, job: &Job, at: DateTime<Utc>) -> StoreResult<()> {
        self.put_job(sql::WAKE_JOB, job, at).await?;
        Ok(())
    }

    async fn hurry_job(&mut self, kind: &str, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(sql::HURRY_JOB)
            .bind(at)
            .bind(kind)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn retry_job(&mut self, id: Uuid, at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(sql::RETRY_JOB)
            .bind(at)
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn claim_jobs(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> StoreResult<Vec<Job>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql::CLAIM_JOBS.as_str()))
            .bind(now)
            .bind(lease_until)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(job_from_row).collect()
    }

    async fn finish_job(
        &mut self,
        id: uuid::Uuid,
        end: &JobEnd,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let (state, run_at, error, reset) = job_end(end);
        sqlx::query(sql::FINISH_JOB)
            .bind(state)
            .bind(run_at)
            .bind(error)
            .bind(reset)
            .bind(at)
            .bind(id)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn purge(&mut self, what: Purge, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let done = sqlx::query(purge_sql(what))
            .bind(before)
            .bind(i64::from(limit))
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected())
    }
}
