//! Identity, shared by both backends: the row mappings (used by their writes too) and
//! the reads of [`ordo_store::identity`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::identity::{EmailAddress, Role, User};
use ordo_domain::ids::{UserId, VendorId};
use ordo_store::{AuthChange, AuthFactors, Credentials, IdentityStore, LiveSession, StoreResult};
use sqlx::QueryBuilder;

use super::{Cols, SqlStore, corrupt};
use crate::{Db, map_err};

pub(crate) fn user_from_row(row: &impl Cols) -> StoreResult<User> {
    let role = row.text("role")?;
    Ok(User {
        id: UserId(row.uuid("id")?),
        email: EmailAddress::parse(&row.text("email")?).map_err(|e| corrupt("email", e))?,
        role: role.parse::<Role>().map_err(|e| corrupt("role", e))?,
        vendor_id: row.opt_uuid("vendor_id")?.map(VendorId),
    })
}

pub(crate) fn parse_role(role: &str) -> StoreResult<Role> {
    if role == Role::System.as_str() {
        Ok(Role::System)
    } else {
        role.parse().map_err(|e| corrupt("role", e))
    }
}

#[async_trait]
impl IdentityStore for SqlStore {
    async fn credentials(&self, email: &EmailAddress) -> StoreResult<Option<Credentials>> {
        let row = sqlx::query(
            "SELECT id, email, role, vendor_id, password_hash FROM users WHERE email = $1",
        )
        .bind(email.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.map(|r| {
            Ok(Credentials {
                user: user_from_row(&r)?,
                password_hash: r.text("password_hash")?,
            })
        })
        .transpose()
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = sqlx::query("SELECT id, email, role, vendor_id FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn session_user(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<LiveSession>> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.role, u.vendor_id, u.totp_confirmed_at, s.expires_at, \
             s.fresh_until, s.step_up_failures FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
             AND u.disabled_at IS NULL",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.map(|r| {
            Ok(LiveSession {
                user: user_from_row(&r)?,
                totp: r.opt_time("totp_confirmed_at")?.is_some(),
                expires_at: r.time("expires_at")?,
                fresh_until: r.opt_time("fresh_until")?,
                step_up_failures: r.int32("step_up_failures")?,
            })
        })
        .transpose()
    }

    async fn auth_factors(&self, user: UserId) -> StoreResult<Option<AuthFactors>> {
        let row = sqlx::query(
            "SELECT password_hash, disabled_at, totp_secret, totp_confirmed_at, totp_last_step, \
             step_up_failures, step_up_locked_until FROM users WHERE id = $1",
        )
        .bind(user.0)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.map(|r| {
            Ok(AuthFactors {
                password_hash: r.text("password_hash")?,
                disabled: r.opt_time("disabled_at")?.is_some(),
                totp_secret: r.opt_text("totp_secret")?,
                totp_confirmed: r.opt_time("totp_confirmed_at")?.is_some(),
                totp_last_step: r.opt_int("totp_last_step")?,
                step_up_failures: r.int32("step_up_failures")?,
                step_up_locked_until: r.opt_time("step_up_locked_until")?,
            })
        })
        .transpose()
    }

    async fn users(&self, after_email: Option<&str>, limit: u32) -> StoreResult<Vec<(User, bool)>> {
        let mut qb: QueryBuilder<Db> =
            QueryBuilder::new("SELECT id, email, role, vendor_id, disabled_at FROM users");
        if let Some(after) = after_email {
            qb.push(" WHERE email > ").push_bind(after.to_owned());
        }
        qb.push(" ORDER BY email LIMIT ")
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        rows.iter()
            .map(|r| Ok((user_from_row(r)?, r.opt_time("disabled_at")?.is_some())))
            .collect()
    }

    async fn auth_changes(
        &self,
    ) -> StoreResult<Option<std::pin::Pin<Box<dyn futures_util::Stream<Item = AuthChange> + Send>>>>
    {
        crate::auth_changes(&self.writer).await
    }

    async fn guest_account(&self, user: UserId) -> StoreResult<Option<bool>> {
        let row = sqlx::query(
            "SELECT CAST(CASE WHEN claimed_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS claimed \
             FROM guest_accounts WHERE user_id = $1",
        )
        .bind(user.0)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.map(|r| Ok(r.int("claimed")? != 0)).transpose()
    }

    async fn vendor_staff(&self, vendor: VendorId) -> StoreResult<Vec<User>> {
        let rows = sqlx::query(
            "SELECT id, email, role, vendor_id FROM users \
             WHERE vendor_id = $1 AND disabled_at IS NULL ORDER BY email",
        )
        .bind(vendor.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(user_from_row).collect()
    }
}
