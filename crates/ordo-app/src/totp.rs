//! TOTP (RFC 6238) as a second factor: enrolment, confirmation with recovery codes, removal,
//! and checking a code.
//!
//! Enrolment gives the user a secret (as an `otpauth://` URI and a QR code to scan); it counts
//! only once they confirm it with a code, which also hands out ten recovery codes — shown once,
//! stored as SHA-256, each good once. A code is accepted within one 30-second step either side
//! of now, and only once: the last step accepted is stored, and an older or equal one is
//! refused (RFC 6238, section 5.2).

use chrono::{DateTime, Utc};
use ordo_domain::ParseError;
use ordo_domain::identity::{Actor, Proof, Role, Sensitive, User};
use ordo_domain::ids::UserId;
use ordo_store::AuthFactors;
use sha2::{Digest, Sha256};
use totp_rs::{Builder, Secret, Totp};

use crate::{App, AppError, AppResult};

/// The issuer authenticator apps show beside the account.
const ISSUER: &str = "Ordo";
const RECOVERY_CODES: usize = 10;

/// What a user scans to enrol.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// The shared secret, base32 (for typing in by hand).
    pub secret: String,
    pub otpauth_uri: String,
    /// The URI as a QR code, an SVG image.
    pub qr_svg: String,
}

fn totp(secret: &str, user: &User) -> AppResult<Totp> {
    let secret = Secret::try_from_base32(secret).map_err(|e| {
        AppError::Internal(anyhow::anyhow!("a stored TOTP secret is unreadable: {e:?}"))
    })?;
    Builder::new()
        .with_secret(secret)
        .with_account_name(user.email.as_str())
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("TOTP: {e:?}")))
}

/// The time step a code is good for at `now`, if it is good (within one step either side) and
/// newer than the last step accepted. Only a confirmed secret counts, unless `enrolling`.
fn step(
    factors: &AuthFactors,
    user: &User,
    code: &str,
    now: DateTime<Utc>,
    enrolling: bool,
) -> AppResult<Option<i64>> {
    let Some(secret) = factors.totp_secret.as_deref() else {
        return Ok(None);
    };
    if !factors.totp_confirmed && !enrolling {
        return Ok(None);
    }
    let time = u64::try_from(now.timestamp()).unwrap_or(0);
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let step = totp(secret, user)?
        .check(&code, time)
        .and_then(|s| i64::try_from(s).ok());
    Ok(step.filter(|s| factors.totp_last_step.is_none_or(|last| *s > last)))
}

/// Checks a code against a user's confirmed TOTP secret (see [`step`]).
pub(crate) fn check(
    factors: &AuthFactors,
    user: &User,
    code: &str,
    now: DateTime<Utc>,
) -> AppResult<Option<i64>> {
    step(factors, user, code, now, false)
}

/// How a recovery code is stored: SHA-256 of it, without the dashes and in lower case (people
/// type them either way).
pub(crate) fn recovery_hash(code: &str) -> Vec<u8> {
    let clean: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    Sha256::digest(clean.as_bytes()).to_vec()
}

/// A new recovery code: 15 characters from an alphabet without look-alikes, in three groups.
fn new_recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut raw = [0u8; 15];
    rand::fill(&mut raw);
    let chars: Vec<char> = raw
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    chars
        .chunks(5)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

impl App {
    /// Starts TOTP enrolment (or restarts one not yet confirmed) with a new secret.
    pub async fn enrol_totp(&self, user: &User) -> AppResult<Enrolment> {
        let user = user.clone();
        let factors = self
            .store
            .auth_factors(user.id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        if factors.totp_confirmed {
            return Err(AppError::conflict(
                "totp_already_enabled",
                "you already have a TOTP second factor; remove it first to enrol a new one",
                None,
            ));
        }
        let mut raw = [0u8; 20];
        rand::fill(&mut raw);
        let secret = Secret::from(raw).to_base32();
        let uri = totp(&secret, &user)?
            .to_url()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("TOTP URI: {e:?}")))?;
        let qr_svg = qrcode::QrCode::new(uri.as_bytes())
            .map_err(|e| AppError::Internal(anyhow::anyhow!("QR code: {e}")))?
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build();
        let (stored, id) = (secret.clone(), user.id);
        self.write(move |tx| {
            Box::pin(async move { Ok(tx.set_totp(id, Some(&stored), None, None).await?) })
        })
        .await?;
        Ok(Enrolment {
            secret,
            otpauth_uri: uri,
            qr_svg,
        })
    }

    /// Confirms enrolment with a current code; returns the recovery codes, shown this once.
    /// The session counts as freshly authenticated afterwards.
    pub async fn confirm_totp(
        &self,
        user: &User,
        token: &str,
        code: &str,
    ) -> AppResult<Vec<String>> {
        let user = user.clone();
        let factors = self
            .store
            .auth_factors(user.id)
            .await?
            .ok_or(AppError::Unauthenticated)?;
        let Some(secret) = factors
            .totp_secret
            .clone()
            .filter(|_| !factors.totp_confirmed)
        else {
            return Err(AppError::conflict(
                "totp_not_enrolling",
                "start with POST /api/v1/auth/totp/enroll (or remove the factor you have)",
                None,
            ));
        };
        let now = self.now();
        let Some(step) = step(&factors, &user, code, now, true)? else {
            return Err(
                ParseError::new("invalid_totp", "that code is not valid now")
                    .at("code")
                    .into(),
            );
        };
        let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
        let hashes: Vec<Vec<u8>> = codes.iter().map(|c| recovery_hash(c)).collect();
        let (id, hash, until) = (
            user.id,
            crate::tokens::token_hash(token),
            now + self.settings.step_up_window,
        );
        self.write(move |tx| {
            Box::pin(async move {
                tx.set_totp(id, Some(&secret), Some(now), Some(&hashes))
                    .await?;
                tx.step_up_succeeded(&hash, id, until, Some(step)).await?;
                Ok(())
            })
        })
        .await?;
        self.sessions.forget(&crate::tokens::token_hash(token));
        tracing::info!(user_id = %id, "TOTP enabled");
        Ok(codes)
    }

    /// Resets another user's TOTP factor and recovery codes (an admin, with a fresh proof of
    /// identity: the user lost their phone); they enrol again at their next sign-in.
    pub async fn reset_totp(&self, actor: &Actor, proof: Proof, id: UserId) -> AppResult<()> {
        if !matches!(actor.role, Role::Admin | Role::System) {
            return Err(AppError::Forbidden(
                "only admins reset another user's second factor".into(),
            ));
        }
        self.require_fresh(actor, proof, Sensitive::ManageUsers)?;
        let user = self
            .store
            .user(id)
            .await?
            .ok_or(AppError::NotFound("user"))?;
        self.write(move |tx| {
            Box::pin(async move { Ok(tx.set_totp(id, None, None, Some(&[])).await?) })
        })
        .await?;
        self.sessions.forget_all();
        tracing::info!(user_id = %user.id, by = ?actor.user_id, "TOTP reset by an admin");
        Ok(())
    }

    /// Removes the caller's TOTP factor and recovery codes (a sensitive action: step up first).
    pub async fn remove_totp(&self, user: &User, actor: &Actor, proof: Proof) -> AppResult<()> {
        self.require_fresh(actor, proof, Sensitive::RemoveTotp)?;
        let id = user.id;
        self.write(move |tx| {
            Box::pin(async move { Ok(tx.set_totp(id, None, None, Some(&[])).await?) })
        })
        .await?;
        self.sessions.forget_all();
        tracing::info!(user_id = %id, "TOTP removed");
        Ok(())
    }
}
