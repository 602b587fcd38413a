//! Identity on SQLite: the writes of [`ordo_store::identity`] in one transaction. The reads
//! and row mappings are shared with PostgreSQL (`ordo-store/shared/sql_store/identity.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::identity::User;
use ordo_domain::ids::UserId;
use ordo_store::{IdentityTx, Session, StoreResult};
use rusqlite::params;

use crate::sql_store::sql;
use crate::tx::{SqliteTx, ts};

#[async_trait]
impl IdentityTx for SqliteTx {
    async fn insert_user(
        &mut self,
        user: &User,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.execute(
            sql::INSERT_USER,
            params![
                user.id.0,
                user.email.as_str(),
                password_hash,
                user.role.as_str(),
                user.vendor_id.map(|v| v.0),
                ts(&at)
            ],
        )?;
        Ok(())
    }

    async fn insert_session(&mut self, s: &Session) -> StoreResult<()> {
        self.execute(
            sql::INSERT_SESSION,
            params![
                s.token_hash,
                s.user_id.0,
                ts(&s.created_at),
                ts(&s.expires_at),
                s.fresh_until.as_ref().map(ts)
            ],
        )?;
        Ok(())
    }

    async fn revoke_session(&mut self, token_hash: &[u8], at: DateTime<Utc>) -> StoreResult<bool> {
        Ok(self.execute(sql::REVOKE_SESSION, params![ts(&at), token_hash])? > 0)
    }

    async fn step_up_succeeded(
        &mut self,
        token_hash: &[u8],
        user: UserId,
        fresh_until: DateTime<Utc>,
        totp_step: Option<i64>,
    ) -> StoreResult<bool> {
        if let Some(step) = totp_step
            && self.execute(sql::USER_TOTP_STEP, params![step, user.0])? == 0
        {
            return Ok(false);
        }
        self.execute(sql::SESSION_FRESH, params![ts(&fresh_until), token_hash])?;
        self.execute(sql::USER_STEP_UP_RESET, params![user.0])?;
        Ok(true)
    }

    async fn step_up_failed(
        &mut self,
        token_hash: &[u8],
        user: UserId,
        lock_until: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        self.execute(sql::SESSION_STEP_UP_FAILED, params![token_hash])?;
        match lock_until {
            Some(until) => self.execute(sql::USER_STEP_UP_LOCKED, params![ts(&until), user.0])?,
            None => self.execute(sql::USER_STEP_UP_FAILED, params![user.0])?,
        };
        Ok(())
    }

    async fn set_totp(
        &mut self,
        user: UserId,
        secret: Option<&str>,
        confirmed_at: Option<DateTime<Utc>>,
        recovery: Option<&[Vec<u8>]>,
    ) -> StoreResult<()> {
        self.execute(
            sql::SET_TOTP,
            params![secret, confirmed_at.as_ref().map(ts), user.0],
        )?;
        if let Some(codes) = recovery {
            self.execute(sql::DELETE_RECOVERY_CODES, params![user.0])?;
            for code in codes {
                self.execute(sql::INSERT_RECOVERY_CODE, params![user.0, code])?;
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
        Ok(self.execute(sql::USE_RECOVERY_CODE, params![ts(&at), user.0, code_hash])? == 1)
    }

    async fn update_user(
        &mut self,
        user: &User,
        disabled_at: Option<DateTime<Utc>>,
    ) -> StoreResult<bool> {
        Ok(self.execute(
            sql::UPDATE_USER,
            params![
                user.role.as_str(),
                user.vendor_id.map(|v| v.0),
                disabled_at.as_ref().map(ts),
                user.id.0
            ],
        )? == 1)
    }

    async fn insert_guest_account(&mut self, user: UserId, at: DateTime<Utc>) -> StoreResult<()> {
        self.execute(sql::INSERT_GUEST_ACCOUNT, params![user.0, ts(&at)])?;
        Ok(())
    }

    async fn claim_guest_account(
        &mut self,
        user: UserId,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        if self.execute(sql::CLAIM_GUEST_ACCOUNT, params![ts(&at), user.0])? == 0 {
            return Ok(false);
        }
        self.execute(sql::SET_PASSWORD, params![password_hash, user.0])?;
        Ok(true)
    }
}
