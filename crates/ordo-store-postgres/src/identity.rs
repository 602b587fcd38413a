//! Identity on PostgreSQL: the writes of [`ordo_store::identity`] in one transaction. The reads
//! and row mappings are shared with SQLite (`ordo-store/shared/sql_store/identity.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::identity::User;
use ordo_domain::ids::UserId;
use ordo_store::{AuthChange, IdentityTx, Session, StoreResult};

use crate::sql_store::sql;
use crate::tx::PgTx;

#[async_trait]
impl IdentityTx for PgTx {
    async fn insert_user(
        &mut self,
        user: &User,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(sql::INSERT_USER)
            .bind(user.id.0)
            .bind(user.email.as_str())
            .bind(password_hash)
            .bind(user.role.as_str())
            .bind(user.vendor_id.map(|v| v.0))
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn insert_session(&mut self, s: &Session) -> StoreResult<()> {
        sqlx::query(sql::INSERT_SESSION)
            .bind(&s.token_hash)
            .bind(s.user_id.0)
            .bind(s.created_at)
            .bind(s.expires_at)
            .bind(s.fresh_until)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn revoke_session(&mut self, token_hash: &[u8], at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(sql::REVOKE_SESSION)
            .bind(at)
            .bind(token_hash)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        self.notify(&AuthChange::Session(token_hash.to_vec()))
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn step_up_succeeded(
        &mut self,
        token_hash: &[u8],
        user: UserId,
        fresh_until: DateTime<Utc>,
        totp_step: Option<i64>,
    ) -> StoreResult<bool> {
        if let Some(step) = totp_step {
            let done = sqlx::query(sql::USER_TOTP_STEP)
                .bind(step)
                .bind(user.0)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| self.fail(e))?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
        }
        sqlx::query(sql::SESSION_FRESH)
            .bind(fresh_until)
            .bind(token_hash)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        sqlx::query(sql::USER_STEP_UP_RESET)
            .bind(user.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        self.notify(&AuthChange::Session(token_hash.to_vec()))
            .await?;
        Ok(true)
    }

    async fn step_up_failed(
        &mut self,
        token_hash: &[u8],
        user: UserId,
        lock_until: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        sqlx::query(sql::SESSION_STEP_UP_FAILED)
            .bind(token_hash)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        let user_update = match lock_until {
            Some(until) => sqlx::query(sql::USER_STEP_UP_LOCKED)
                .bind(until)
                .bind(user.0),
            None => sqlx::query(sql::USER_STEP_UP_FAILED).bind(user.0),
        };
        user_update
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn set_totp(
        &mut self,
        user: UserId,
        secret: Option<&str>,
        confirmed_at: Option<DateTime<Utc>>,
        recovery: Option<&[Vec<u8>]>,
    ) -> StoreResult<()> {
        sqlx::query(sql::SET_TOTP)
            .bind(secret)
            .bind(confirmed_at)
            .bind(user.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        if let Some(codes) = recovery {
            sqlx::query(sql::DELETE_RECOVERY_CODES)
                .bind(user.0)
                .execute(&mut *self.tx)
                .await
                .map_err(|e| self.fail(e))?;
            for code in codes {
                sqlx::query(sql::INSERT_RECOVERY_CODE)
                    .bind(user.0)
                    .bind(code)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(|e| self.fail(e))?;
            }
        }
        Ok(())
    }

    async fn use_recovery_code(
        &mut self,
        user: UserId,
        code_hash: &[u8],
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(sql::USE_RECOVERY_CODE)
            .bind(at)
            .bind(user.0)
            .bind(code_hash)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn update_user(
        &mut self,
        user: &User,
        disabled_at: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        let done = sqlx::query(sql::UPDATE_USER)
            .bind(user.role.as_str())
            .bind(user.vendor_id.map(|v| v.0))
            .bind(disabled_at)
            .bind(user.id.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        self.notify(&AuthChange::User(user.id)).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_guest_account(&mut self, user: UserId, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(sql::INSERT_GUEST_ACCOUNT)
            .bind(user.0)
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    async fn claim_guest_account(
        &mut self,
        user: UserId,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let claimed = sqlx::query(sql::CLAIM_GUEST_ACCOUNT)
            .bind(at)
            .bind(user.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        if claimed.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(sql::SET_PASSWORD)
            .bind(password_hash)
            .bind(user.0)
            .execute(&mut *self.tx)
            .await
            .map_err(|e| self.fail(e))?;
        Ok(true)
    }
}
