//! Secret tokens: session tokens and guest cart tokens. A token is 32 random bytes shown once to
//! its holder; the store keeps only its SHA-256, so a copy of the database hands out no working
//! token.

use sha2::{Digest, Sha256};

/// A new secret token: `prefix` then 64 hex digits (the prefix makes a leaked token
/// recognisable to secret scanners).
pub fn new_token(prefix: &str) -> String {
    let mut raw = [0u8; 32];
    rand::fill(&mut raw);
    format!("{prefix}{}", hex::encode(raw))
}

/// The hash of a token, as stored.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}
