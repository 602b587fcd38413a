//! What an order is and what may happen to it.
//!
//! This crate owns Ordo's vocabulary: typed ids, money, users and roles, addresses, the catalog,
//! stock allocation and the order state machine. It is pure — no tokio, no sqlx, no axum — so
//! every rule here can be tested without a database, and every layer above parses its input into
//! these types once, at the edge ("parse, don't validate").

/// The one way an enum and its names meet: `as_str`, `Display`, `FromStr`, `parse` (an error
/// with `$code` listing the names) and `ALL`, from one table of variant => name. Used by every
/// enum that travels as a name (statuses, actions, roles, reasons…), here and in the crates
/// above.
#[macro_export]
macro_rules! names {
    ($ty:ty, $code:literal { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$(<$ty>::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self { $(<$ty>::$variant => $name),* }
            }

            pub fn parse(s: &str) -> Result<Self, $crate::ParseError> {
                <$ty>::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let all: Vec<_> = <$ty>::ALL.iter().map(|v| v.as_str()).collect();
                    $crate::ParseError::new($code, format!("'{s}' is not one of: {}", all.join(", ")))
                })
            }
        }

        impl ::std::fmt::Display for $ty {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $ty {
            type Err = $crate::ParseError;
            fn from_str(s: &str) -> Result<Self, $crate::ParseError> {
                <$ty>::parse(s)
            }
        }
    };
}

/// A parsed type that travels as a string: serde reads it through its parser
/// (`#[serde(try_from = "String", into = "String")]`), so a bad value in a request body or a
/// stored document is refused, never taken in unchecked.
macro_rules! string_form {
    ($($ty:ty),* $(,)?) => {$(
        impl From<$ty> for String {
            fn from(v: $ty) -> String {
                v.to_string()
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::ParseError;
            fn try_from(s: String) -> Result<Self, $crate::ParseError> {
                Self::parse(&s)
            }
        }
    )*};
}
pub(crate) use string_form;

pub mod address;
pub mod cart;
pub mod catalog;
pub mod identity;
pub mod ids;
pub mod inventory;
pub mod money;
pub mod order;
pub mod payment;
pub mod pricing;

/// A value that failed to parse, with the name of the offending field so the API can point at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// Machine-readable reason, e.g. `invalid_currency`.
    pub code: &'static str,
    /// Human-readable explanation, safe to show to the client.
    pub message: String,
    /// The input field at fault (dotted path), filled in by whoever knows it.
    pub field: Option<String>,
}

impl ParseError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    /// Names the field at fault; the innermost caller that knows the path sets it.
    #[must_use]
    pub fn at(mut self, field: impl Into<String>) -> Self {
        if self.field.is_none() {
            self.field = Some(field.into());
        }
        self
    }
}

/// Whether `raw` is a short machine code: 1–40 characters of lower-case letters, digits, `-`
/// and `_` (location codes, tax classes).
pub(crate) fn is_code_token(raw: &str) -> bool {
    (1..=40).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Refuses control characters: they have no place in names or addresses, they break terminals
/// and labels, and PostgreSQL cannot store NUL in text at all. Everything else — any script,
/// any emoji — is kept exactly as typed.
pub(crate) fn check_text(
    value: &str,
    max_chars: usize,
    code: &'static str,
) -> Result<(), ParseError> {
    if value.trim().is_empty() {
        return Err(ParseError::new(code, "must not be empty"));
    }
    if value.chars().count() > max_chars {
        return Err(ParseError::new(
            code,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ParseError::new(code, "must not contain control characters"));
    }
    Ok(())
}
