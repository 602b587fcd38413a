//! Users, their sessions, sign-in factors and step-up, guest accounts: the records of this
//! aggregate and what the store does with them.

use std::pin::Pin;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::identity::{EmailAddress, User};
use ordo_domain::ids::{UserId, VendorId};

use crate::StoreResult;

/// A user with their password hash, only ever used to check a login.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: User,
    pub password_hash: String,
}

/// A login session. Only the SHA-256 of the bearer token is stored, so a copy of the database
/// does not hand out working tokens.
#[derive(Debug, Clone)]
pub struct Session {
    pub token_hash: Vec<u8>,
    pub user_id: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Until when the session counts as freshly authenticated (step-up); `None`: not fresh.
    pub fresh_until: Option<DateTime<Utc>>,
}

/// A live session as a request sees it.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub user: User,
    /// Whether the user has a confirmed TOTP second factor.
    pub totp: bool,
    pub expires_at: DateTime<Utc>,
    pub fresh_until: Option<DateTime<Utc>>,
    /// Failed step-ups in this session so far.
    pub step_up_failures: i32,
}

/// What a user proves who they are with, and how their step-ups went: only ever read to
/// check a step-up.
#[derive(Debug, Clone)]
pub struct AuthFactors {
    pub password_hash: String,
    /// Disabled users cannot log in (and their sessions stop working).
    pub disabled: bool,
    /// The TOTP secret (base32), once enrolment started.
    pub totp_secret: Option<String>,
    /// Set once the user proved they hold the secret: from then on TOTP is their second factor.
    pub totp_confirmed: bool,
    pub totp_last_step: Option<i64>,
    /// Failed step-ups across all the user's sessions since the last success or lockout.
    pub step_up_failures: i32,
    pub step_up_locked_until: Option<DateTime<Utc>>,
}

/// A change to who may do what, made on one node, that every other node must learn of at once
/// (their session caches would otherwise trust it for a while).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthChange {
    /// One session revoked or stepped up (its token hash).
    Session(Vec<u8>),
    /// A user's role, vendor or status changed: every session of theirs.
    User(UserId),
    /// Notifications may have been missed (the listener reconnected): forget everything.
    All,
}

/// Reads: users, their sessions, sign-in factors and step-up, guest accounts.
#[async_trait]
pub trait IdentityStore: Send + Sync {
    async fn credentials(&self, email: &EmailAddress) -> StoreResult<Option<Credentials>>;
    async fn user(&self, id: UserId) -> StoreResult<Option<User>>;
    /// The live (unexpired, unrevoked) session a token hash names, of a user not disabled.
    async fn session_user(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<LiveSession>>;
    /// A user's factors and step-up record, for checking a step-up.
    async fn auth_factors(&self, user: UserId) -> StoreResult<Option<AuthFactors>>;
    /// Every user, by e-mail, after `after_email`, with whether each is disabled.
    async fn users(&self, after_email: Option<&str>, limit: u32) -> StoreResult<Vec<(User, bool)>>;
    /// Changes to sessions and users committed by other nodes, as they happen (PostgreSQL's
    /// LISTEN/NOTIFY). `None` where there is only ever one node (SQLite).
    async fn auth_changes(
        &self,
    ) -> StoreResult<Option<Pin<Box<dyn futures_util::Stream<Item = AuthChange> + Send>>>>;
    /// Whether a user is a guest account: `None` if not, `Some(claimed)` if it is (claimed:
    /// its owner registered and set a password).
    async fn guest_account(&self, user: UserId) -> StoreResult<Option<bool>>;
    /// The enabled users who work for a vendor.
    async fn vendor_staff(&self, vendor: VendorId) -> StoreResult<Vec<User>>;
}

/// Writes within one transaction: users, their sessions, sign-in factors and step-up, guest
/// accounts.
#[async_trait]
pub trait IdentityTx: Send {
    async fn insert_user(
        &mut self,
        user: &User,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn insert_session(&mut self, session: &Session) -> StoreResult<()>;
    /// Marks a session revoked; returns whether a live one was found.
    async fn revoke_session(&mut self, token_hash: &[u8], at: DateTime<Utc>) -> StoreResult<bool>;
    /// A step-up succeeded: the session is fresh until `fresh_until` and the failure counts
    /// start again. With a TOTP step, the step is recorded only if it is later than the last
    /// one accepted; returns false (and changes nothing) when it is not (a code used twice).
    async fn step_up_succeeded(
        &mut self,
        token_hash: &[u8],
        user: UserId,
        fresh_until: DateTime<Utc>,
        totp_step: Option<i64>,
    ) -> StoreResult<bool>;
    /// A step-up failed: counted on the session and the user; the user is locked out of
    /// step-ups until `lock_until` when given (and their count starts again).
    async fn step_up_failed(
        &mut self,
        token_hash: &[u8],
        user: UserId,
        lock_until: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;
    /// Sets (or clears, with `None`) a user's TOTP secret and when it was confirmed; with
    /// `recovery`, replaces their recovery codes (SHA-256 of each).
    async fn set_totp(
        &mut self,
        user: UserId,
        secret: Option<&str>,
        confirmed_at: Option<DateTime<Utc>>,
        recovery: Option<&[Vec<u8>]>,
    ) -> StoreResult<()>;
    /// Uses one recovery code; false if it is unknown or used.
    async fn use_recovery_code(
        &mut self,
        user: UserId,
        code_hash: &[u8],
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Changes a user's role and vendor and disables or enables them; false if there is none.
    async fn update_user(
        &mut self,
        user: &User,
        disabled_at: Option<DateTime<Utc>>,
    ) -> StoreResult<bool>;
    /// Marks a new user as a guest account (no usable password until it is claimed).
    async fn insert_guest_account(&mut self, user: UserId, at: DateTime<Utc>) -> StoreResult<()>;
    /// Claims an unclaimed guest account: its password set. `false` if it was claimed already.
    async fn claim_guest_account(
        &mut self,
        user: UserId,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;
}
