//! Logins and tokens.
//!
//! Passwords are hashed with Argon2id (the crate's defaults: 19 MiB, 2 passes), on dedicated
//! threads so a login never stalls other requests. A token is 32 random bytes shown once to the
//! client; the store keeps only its SHA-256, so a database copy holds no usable token, and
//! logout revokes it for good.
//!
//! Checking a token must not cost a database round trip on every request, so live sessions are
//! remembered in memory for [`crate::Settings::session_cache_ttl`] (never past their own expiry). Logout
//! on this node forgets the session at once; another node behind the same PostgreSQL may keep
//! accepting a revoked token for at most that long.

use std::sync::{Arc, Mutex, OnceLock, mpsc};

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Utc};
use ordo_domain::identity::{Actor, EmailAddress, Password, Role, User};
use ordo_store::Session;

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
    pub user: User,
    /// The customer's cart after a guest cart was merged into it at login.
    pub cart_id: Option<ordo_domain::ids::CartId>,
}

/// Argon2 needs 19 MiB and tens of milliseconds of CPU per hash. Hashes run on a fixed set of
/// threads, one per core, and queue for them: a burst of logins then costs bounded memory
/// (cores x 19 MiB, instead of one allocation per blocking thread, which the allocator keeps)
/// and cannot take more CPU than it would take anyway, leaving the order path its share.
fn on_hashing_thread<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> impl Future<Output = AppResult<T>> {
    type Job = Box<dyn FnOnce() + Send>;
    static POOL: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        for i in 0..threads {
            let queue = Arc::clone(&queue);
            let _ = std::thread::Builder::new()
                .name(format!("ordo-argon2-{i}"))
                .spawn(move || {
                    loop {
                        let next = queue.lock().map(|q| q.recv());
                        match next {
                            Ok(Ok(job)) => job(),
                            _ => return,
                        }
                    }
                });
        }
        Mutex::new(jobs)
    });
    let (reply, answer) = tokio::sync::oneshot::channel();
    let sent = pool.lock().is_ok_and(|jobs| {
        jobs.send(Box::new(move || {
            let _ = reply.send(job());
        }))
        .is_ok()
    });
    async move {
        if !sent {
            return Err(AppError::Internal(anyhow::anyhow!(
                "the hashing threads are gone"
            )));
        }
        answer
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("a password hash was dropped")))
    }
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

async fn verify_password(password: String, hash: String) -> AppResult<bool> {
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

impl App {
    /// Logs in. A customer who brings a guest cart's token gets that cart merged into theirs.
    pub async fn login(
        &self,
        email: &str,
        password: String,
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
        let token = new_token(TOKEN_PREFIX);
        let now = self.now();
        let session = Session {
            token_hash: token_hash(&token),
            user_id: creds.user.id,
            created_at: now,
            expires_at: now + self.settings.session_ttl,
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
                    crate::carts::merge_at_login(tx, customer, guest, now).await
                })
            })
            .await?;
        Ok(LoginGrant {
            token,
            expires_at: session.expires_at,
            user: creds.user,
            cart_id,
        })
    }

    /// The actor behind a bearer token, or 401.
    pub async fn authenticate(&self, token: &str) -> AppResult<(User, Actor)> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(AppError::Unauthenticated);
        }
        let hash = token_hash(token);
        let now = self.now();
        if let Some((user, expires_at)) = self.sessions.get(&hash)
            && expires_at > now
        {
            let actor = Actor::of(&user);
            return Ok((user, actor));
        }
        let (user, expires_at) = self
            .store
            .session_user(&hash, now)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        self.sessions.insert(hash, (user.clone(), expires_at));
        let actor = Actor::of(&user);
        Ok((user, actor))
    }

    pub async fn logout(&self, token: &str) -> AppResult<()> {
        let (hash, now) = (token_hash(token), self.now());
        self.sessions.invalidate(&hash);
        self.write(move |tx| Box::pin(async move { Ok(tx.revoke_session(&hash, now).await?) }))
            .await?;
        Ok(())
    }
}

/// An Argon2id hash of a random password, used to equalise timing for unknown e-mails.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$8l8Ry5gkAVUkvm7OwobGLqzmuE8GVXUwEmO7Qy0Mf7E";
