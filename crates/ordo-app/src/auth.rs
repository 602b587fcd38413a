//! Logins and tokens.
//!
//! Passwords are hashed with Argon2id (the crate's defaults: 19 MiB, 2 passes), on dedicated
//! threads so a login never stalls other requests. A token is 32 random bytes shown once to the
//! client; the store keeps only its SHA-256, so a database copy holds no usable token, and
//! logout revokes it for good.
//!
//! Checking a token must not cost a database round trip on every request, so live sessions are
//! remembered in memory for [`crate::Settings::session_cache_ttl`] (never past their own
//! expiry). Logout, a step-up or a change to a user forgets the session at once on the node that
//! made it, and every other node behind the same PostgreSQL hears of it by LISTEN/NOTIFY
//! ([`App::follow_auth_changes`]) within moments. A check that read a session from the
//! database while it was being revoked never puts it back in memory ([`SessionCache`]).
//!
//! Step-up: sensitive actions (the one list is `ordo_domain::identity::Sensitive`) need a
//! session that is freshly authenticated — by its login, or by `POST /auth/step-up` with the
//! password or, for a user with a TOTP second factor, a TOTP or recovery code — within
//! [`crate::Settings::step_up_window`].

use std::sync::{Arc, OnceLock};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Utc};
use ordo_domain::ParseError;
use ordo_domain::identity::{Actor, EmailAddress, Password, Proof, Role, Sensitive, User};
use ordo_store::{AuthChange, Session};

use crate::jobs::{Handler, JobFuture, JobKind, always, purge_older_than};
use crate::tokens::new_token;
pub use crate::tokens::token_hash;
use crate::{App, AppError, AppResult};

/// Tokens start with this, so a leaked one is recognisable to secret scanners.
pub const TOKEN_PREFIX: &str = "ordo_";

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginGrant {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    /// Until when the new session counts as freshly authenticated.
    pub fresh_until: Option<DateTime<Utc>>,
    pub user: User,
    /// The customer's cart after a guest cart was merged into it at login.
    pub cart_id: Option<ordo_domain::ids::CartId>,
}

/// Argon2 needs 19 MiB and tens of milliseconds of CPU per hash. Hashes run on tokio's
/// blocking threads, at most one per core at a time (a semaphore): a burst of logins then costs
/// bounded memory (cores x 19 MiB) and cannot take more CPU than it would anyway, leaving the
/// order path its share; the rest wait their turn. Nothing here can fail to start silently: a
/// hash that cannot run is an error to its caller.
async fn on_hashing_thread<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> AppResult<T> {
    static TURNS: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    let turns = TURNS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    });
    let _turn = turns
        .acquire()
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password hashing is closed: {e}")))?;
    tokio::task::spawn_blocking(job)
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("a password hash stopped: {e}")))
}

pub async fn hash_password(password: &Password) -> AppResult<String> {
    let password = password.clone();
    on_hashing_thread(move || {
        Argon2::default()
            .hash_password(password.expose().as_bytes())
            .map(|h| h.to_string())
    })
    .await?
    .map_err(|e| AppError::Internal(anyhow::anyhow!("argon2: {e}")))
}

pub(crate) async fn verify_password(password: String, hash: String) -> AppResult<bool> {
    on_hashing_thread(move || {
        let parsed =
            PasswordHash::new(&hash).map_err(|e| anyhow::anyhow!("stored hash unreadable: {e}"))?;
        Ok::<_, anyhow::Error>(
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
        )
    })
    .await?
    .map_err(AppError::Internal)
}

/// Who is calling: the user behind a live session, as the use cases see them.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    pub actor: Actor,
    /// Until when the session counts as freshly authenticated (for sensitive actions).
    pub proof: Proof,
    /// The user's role must have a TOTP second factor (`--require-totp-for`) and they have
    /// none yet: until they enrol, they may only manage their own login.
    pub must_enrol_totp: bool,
    /// Failed step-ups in this session so far.
    step_up_failures: i32,
}

/// Failed step-ups one session may make; after that it must log in again.
const SESSION_STEP_UP_LIMIT: i32 = 5;
/// Failed step-ups across a user's sessions before they are locked out for a while.
const USER_STEP_UP_LIMIT: i32 = 10;
/// How long that lockout lasts.
const STEP_UP_LOCKOUT: chrono::Duration = chrono::Duration::minutes(15);

/// What a caller proves themselves with again (exactly one).
#[derive(Debug, Clone, Default)]
pub struct StepUpInput {
    pub password: Option<String>,
    pub totp: Option<String>,
    pub recovery_code: Option<String>,
}

/// Live sessions by token hash, remembered for a moment, that a revocation can never race:
/// every forgetting bumps an epoch, and a session read from the database is kept only if no
/// forgetting happened since the read began (checked after keeping it, so one that lands
/// between the check and the keeping is undone too).
pub(crate) struct SessionCache {
    live: moka::sync::Cache<Vec<u8>, ordo_store::LiveSession>,
    epoch: std::sync::atomic::AtomicU64,
}

impl SessionCache {
    pub fn new(ttl: std::time::Duration) -> Arc<Self> {
        Arc::new(Self {
            live: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .time_to_live(ttl)
                .build(),
            epoch: std::sync::atomic::AtomicU64::new(0),
        })
    }

    fn get(&self, hash: &[u8]) -> Option<ordo_store::LiveSession> {
        self.live.get(hash)
    }

    /// Where forgetting stands: take it before reading a session from the database.
    fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Keeps a session read from the database since `epoch`, unless something was forgotten
    /// meanwhile (the read may predate a revocation).
    fn keep(&self, hash: &[u8], live: ordo_store::LiveSession, epoch: u64) {
        self.live.insert(hash.to_vec(), live);
        if self.epoch() != epoch {
            self.live.invalidate(hash);
        }
    }

    /// Forgets one session (after its change is written).
    pub fn forget(&self, hash: &[u8]) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.live.invalidate(hash);
    }

    /// Forgets every session (a user changed: which sessions are theirs is not known here).
    pub fn forget_all(&self) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.live.invalidate_all();
    }
}

impl App {
    /// Logs in. A customer who brings a guest cart's token gets that cart merged into theirs.
    /// A login is a fresh proof of identity for the step-up window — for a user with a TOTP
    /// second factor only if they sent a valid code with it.
    pub async fn login(
        &self,
        email: &str,
        password: String,
        totp: Option<&str>,
        cart_token: Option<&str>,
    ) -> AppResult<LoginGrant> {
        // An unparseable e-mail is just a failed login: no hint about which part was wrong.
        let creds = match EmailAddress::parse(email) {
            Ok(email) => self.store.credentials(&email).await?,
            Err(_) => None,
        };
        let Some(creds) = creds else {
            // Spend the same time as a real check so response times do not reveal which
            // e-mail addresses have accounts.
            let _ = verify_password(password, DUMMY_HASH.to_owned()).await;
            return Err(AppError::BadCredentials);
        };
        if !verify_password(password, creds.password_hash).await? {
            return Err(AppError::BadCredentials);
        }
        let factors = self
            .store
            .auth_factors(creds.user.id)
            .await?
            .ok_or(AppError::BadCredentials)?;
        if factors.disabled {
            return Err(AppError::BadCredentials);
        }
        let now = self.now();
        let window = now + self.settings.step_up_window;
        let (fresh_until, totp_step) = match (factors.totp_confirmed, totp) {
            (false, _) => (Some(window), None),
            (true, None) => (None, None),
            (true, Some(code)) => match crate::totp::check(&factors, &creds.user, code, now)? {
                Some(step) => (Some(window), Some(step)),
                None => return Err(AppError::BadCredentials),
            },
        };
        let token = new_token(TOKEN_PREFIX);
        let session = Session {
            token_hash: token_hash(&token),
            user_id: creds.user.id,
            created_at: now,
            expires_at: now + self.settings.session_ttl,
            fresh_until,
        };
        let stored = session.clone();
        let guest = match cart_token {
            Some(t) if creds.user.role == Role::Customer => {
                self.store.cart_by_token(&token_hash(t)).await?
            }
            _ => None,
        };
        let customer = creds.user.id;
        let cart_id = self
            .write(move |tx| {
                Box::pin(async move {
                    tx.insert_session(&stored).await?;
                    if let (Some(step), Some(until)) = (totp_step, stored.fresh_until)
                        && !tx
                            .step_up_succeeded(&stored.token_hash, customer, until, Some(step))
                            .await?
                    {
                        // That code was used already: a replayed code proves nothing.
                        return Err(AppError::BadCredentials);
                    }
                    crate::carts::merge_at_login(tx, customer, guest, now).await
                })
            })
            .await?;
        Ok(LoginGrant {
            token,
            expires_at: session.expires_at,
            fresh_until: session.fresh_until,
            user: creds.user,
            cart_id,
        })
    }

    /// The caller behind a bearer token, or 401.
    pub async fn authenticate(&self, token: &str) -> AppResult<Principal> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(AppError::Unauthenticated);
        }
        let hash = token_hash(token);
        let now = self.now();
        let live = match self.sessions.get(&hash) {
            Some(live) if live.expires_at > now => live,
            _ => {
                let epoch = self.sessions.epoch();
                let live = self
                    .store
                    .session_user(&hash, now)
                    .await?
                    .ok_or(AppError::Unauthenticated)?;
                self.sessions.keep(&hash, live.clone(), epoch);
                live
            }
        };
        Ok(Principal {
            actor: Actor::of(&live.user),
            proof: Proof::until(live.fresh_until),
            must_enrol_totp: !live.totp && self.settings.require_totp_for.contains(&live.user.role),
            step_up_failures: live.step_up_failures,
            user: live.user,
        })
    }

    pub async fn logout(&self, token: &str) -> AppResult<()> {
        let (hash, now) = (token_hash(token), self.now());
        let revoked = hash.clone();
        self.write(move |tx| Box::pin(async move { Ok(tx.revoke_session(&revoked, now).await?) }))
            .await?;
        // Forgotten once the revocation is written: a check that read the session before
        // then cannot keep it (see `SessionCache`).
        self.sessions.forget(&hash);
        Ok(())
    }

    /// Refuses a sensitive action without a fresh proof of identity (401 `step_up_required`).
    pub(crate) fn require_fresh(
        &self,
        actor: &Actor,
        proof: Proof,
        what: Sensitive,
    ) -> AppResult<()> {
        if actor.role == Role::System || proof.is_fresh(self.now()) {
            Ok(())
        } else {
            Err(AppError::StepUpRequired {
                action: what,
                window: self.settings.step_up_window,
            })
        }
    }

    /// Proves the caller's identity again: their password, or — once they have a TOTP second
    /// factor — a current TOTP code or one of their recovery codes. Success makes the session
    /// fresh until the returned time; failures are counted per session and per user, and too
    /// many lock step-ups out (429 with `Retry-After`).
    pub async fn step_up(
        &self,
        caller: &Principal,
        token: &str,
        input: StepUpInput,
    ) -> AppResult<chrono::DateTime<chrono::Utc>> {
        let given = [&input.password, &input.totp, &input.recovery_code]
            .iter()
            .filter(|f| f.is_some())
            .count();
        if given != 1 {
            return Err(ParseError::new(
                "one_factor_required",
                "send exactly one of password, totp or recovery_code",
            )
            .into());
        }
        let user = caller.user.id;
        let factors = self
            .store
            .auth_factors(user)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let now = self.now();
        if let Some(until) = factors.step_up_locked_until.filter(|u| *u > now) {
            return Err(AppError::Locked {
                code: "step_up_locked",
                message: "too many failed step-ups: try again later".into(),
                retry_after: Some((until - now).num_seconds().max(1) as u64),
            });
        }
        if caller.step_up_failures >= SESSION_STEP_UP_LIMIT {
            return Err(AppError::Locked {
                code: "step_up_locked",
                message: "too many failed step-ups in this session: log in again".into(),
                retry_after: None,
            });
        }
        let mut totp_step = None;
        let mut recovery = None;
        let proven = if let Some(password) = input.password {
            if factors.totp_confirmed {
                return Err(ParseError::new(
                    "totp_required",
                    "your account has a TOTP second factor: step up with a TOTP code (or a recovery code)",
                )
                .at("totp")
                .into());
            }
            verify_password(password, factors.password_hash.clone()).await?
        } else if let Some(code) = input.totp {
            totp_step = crate::totp::check(&factors, &caller.user, &code, now)?;
            totp_step.is_some()
        } else if let Some(code) = input.recovery_code {
            recovery = Some(crate::totp::recovery_hash(&code));
            factors.totp_confirmed
        } else {
            false
        };
        let hash = token_hash(token);
        let until = now + self.settings.step_up_window;
        let lock_until =
            (factors.step_up_failures + 1 >= USER_STEP_UP_LIMIT).then_some(now + STEP_UP_LOCKOUT);
        let succeeded = self
            .write(move |tx| {
                Box::pin(async move {
                    let mut ok = proven;
                    if ok && let Some(code) = &recovery {
                        ok = tx.use_recovery_code(user, code, now).await?;
                    }
                    if ok {
                        ok = tx.step_up_succeeded(&hash, user, until, totp_step).await?;
                    }
                    if !ok {
                        tx.step_up_failed(&hash, user, lock_until).await?;
                    }
                    Ok(ok)
                })
            })
            .await?;
        self.sessions.forget(&token_hash(token));
        if succeeded {
            tracing::info!(user_id = %user, "stepped up");
            Ok(until)
        } else {
            tracing::warn!(user_id = %user, "step-up failed");
            Err(AppError::StepUpFailed)
        }
    }

    /// Follows auth changes made on other nodes (revoked sessions, step-ups, changed or
    /// disabled users) and forgets what this node's session cache knew of them, so each takes
    /// effect here within moments instead of after the cache's time to live. Returns when the
    /// store has no other nodes (SQLite) or the stream ends.
    pub async fn follow_auth_changes(&self) -> AppResult<()> {
        use futures_util::StreamExt;
        let Some(mut changes) = self.store.auth_changes().await? else {
            return Ok(());
        };
        while let Some(change) = changes.next().await {
            match change {
                AuthChange::Session(hash) => self.sessions.forget(&hash),
                AuthChange::User(_) | AuthChange::All => self.sessions.forget_all(),
            }
        }
        Ok(())
    }
}

/// An Argon2id hash of a random password, used to equalise timing for unknown e-mails.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$8l8Ry5gkAVUkvm7OwobGLqzmuE8GVXUwEmO7Qy0Mf7E";

/// Expired or revoked sessions are cleared out by a recurring job, a day after they ended (kept
/// that long for an audit of late use).
pub(crate) const JOBS: &[Handler] = &[Handler::recurring(
    JobKind::PurgeSessions,
    always,
    purge_sessions,
)];

fn purge_sessions<'a>(app: &'a App, _: &'a ordo_store::Job) -> JobFuture<'a> {
    purge_older_than(app, ordo_store::Purge::Sessions, chrono::Duration::days(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> ordo_store::LiveSession {
        ordo_store::LiveSession {
            user: User {
                id: ordo_domain::ids::UserId::new(),
                email: EmailAddress::parse("ada@example.com").unwrap(),
                role: Role::Customer,
                vendor_id: None,
            },
            totp: false,
            expires_at: DateTime::<Utc>::MAX_UTC,
            fresh_until: None,
            step_up_failures: 0,
        }
    }

    /// The race a token check and a logout run, step by step: the check reads the session from
    /// the database (taking the epoch first), the logout's revocation is written and forgets
    /// it, then the check tries to keep what it read — which must not come back.
    #[test]
    fn a_session_read_before_a_revocation_is_not_kept_after_it() {
        let cache = SessionCache::new(std::time::Duration::from_secs(30));
        let read_began = cache.epoch();
        cache.forget(b"token");
        cache.keep(b"token", live(), read_began);
        assert!(cache.get(b"token").is_none(), "a revoked session came back");

        // Any forgetting meanwhile counts (a user's change forgets every session).
        let read_began = cache.epoch();
        cache.forget_all();
        cache.keep(b"other", live(), read_began);
        assert!(cache.get(b"other").is_none());
    }

    /// Without a forgetting meanwhile, a session read is kept; forgetting it later drops it.
    #[test]
    fn a_session_read_with_nothing_forgotten_is_kept_until_forgotten() {
        let cache = SessionCache::new(std::time::Duration::from_secs(30));
        let read_began = cache.epoch();
        cache.keep(b"token", live(), read_began);
        assert!(cache.get(b"token").is_some());
        cache.forget(b"token");
        assert!(cache.get(b"token").is_none());
    }
}
