//! Postal addresses, kept exactly as typed.
//!
//! Customers write addresses in every script and sometimes with emoji (🏠 home, 🏢 office);
//! Ordo stores and returns every field byte for byte. Only the country is normalised, because it
//! is a code: it must be an ISO 3166-1 alpha-2 code that exists.

use serde::{Deserialize, Serialize};

use crate::{ParseError, check_text};

/// A shipping or billing address. Construct it with [`Address::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub name: String,
    pub line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line2: Option<String>,
    pub city: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub postal_code: String,
    /// ISO 3166-1 alpha-2, upper case.
    pub country: String,
}

/// What a client sends; every field still unchecked. Unknown fields are refused, so a typo
/// ("postcode") is an error rather than a silently missing field.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressInput {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: String,
    pub country: String,
}

const MAX_FIELD_CHARS: usize = 200;

impl Address {
    pub fn parse(input: AddressInput) -> Result<Self, ParseError> {
        let required = |value: String, field: &str| -> Result<String, ParseError> {
            check_text(&value, MAX_FIELD_CHARS, "invalid_address").map_err(|e| e.at(field))?;
            Ok(value)
        };
        let optional = |value: Option<String>, field: &str| -> Result<Option<String>, ParseError> {
            match value {
                Some(v) if v.is_empty() => Ok(None),
                Some(v) => required(v, field).map(Some),
                None => Ok(None),
            }
        };
        let country = input.country.trim().to_ascii_uppercase();
        if !is_country_code(&country) {
            return Err(ParseError::new(
                "invalid_country",
                format!(
                    "'{}' is not an ISO 3166-1 alpha-2 country code",
                    input.country
                ),
            )
            .at("country"));
        }
        Ok(Self {
            name: required(input.name, "name")?,
            line1: required(input.line1, "line1")?,
            line2: optional(input.line2, "line2")?,
            city: required(input.city, "city")?,
            region: optional(input.region, "region")?,
            postal_code: required(input.postal_code, "postal_code")?,
            country,
        })
    }
}

/// Codes in use that ISO 3166-1 has not assigned (user-assigned codes): XK, Kosovo, as the EU,
/// SWIFT/IBAN and the big carriers use it. Everything else comes from the maintained list.
const USER_ASSIGNED: &[&str] = &["XK"];

/// Whether `code` (upper case) names a country: an ISO 3166-1 alpha-2 code, or one of the
/// [`USER_ASSIGNED`] codes in common use.
pub fn is_country_code(code: &str) -> bool {
    rust_iso3166::from_alpha2(code).is_some() || USER_ASSIGNED.contains(&code)
}

/// How a recipient's name is looked up: lower case (every script, not only ASCII), words
/// separated by one space. Support types "müller" or "Jürgen  Mü" and finds "Jürgen Müller".
pub fn name_search_form(name: &str) -> String {
    name.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The most keys one name is found by: a name of many words is still found by its first few.
const MAX_NAME_KEYS: usize = 6;

/// The keys a recipient's name is indexed under: its search form from each word on ("jürgen
/// müller", "müller"), so a prefix of any word, or of several words in order, finds it.
pub fn name_keys(name: &str) -> Vec<String> {
    let form = name_search_form(name);
    let mut keys = Vec::new();
    let mut rest = form.as_str();
    while !rest.is_empty() && keys.len() < MAX_NAME_KEYS {
        keys.push(rest.to_owned());
        rest = rest.split_once(' ').map_or("", |(_, after)| after);
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> AddressInput {
        AddressInput {
            name: "Zoë 🏠 Ünal".into(),
            line1: "東京都港区 1-2-3 🏢".into(),
            line2: Some("".into()),
            city: "Zürich".into(),
            region: None,
            postal_code: "8001".into(),
            country: "ch".into(),
        }
    }

    #[test]
    fn unicode_and_emoji_are_kept_byte_for_byte() {
        let a = Address::parse(input()).unwrap();
        assert_eq!(a.name, "Zoë 🏠 Ünal");
        assert_eq!(a.line1, "東京都港区 1-2-3 🏢");
        assert_eq!(a.line2, None);
        assert_eq!(a.country, "CH");
    }

    #[test]
    fn a_name_is_found_from_each_of_its_words() {
        assert_eq!(
            name_keys(" Jürgen  Ünal-Müller 🏠 "),
            ["jürgen ünal-müller 🏠", "ünal-müller 🏠", "🏠"]
        );
        assert_eq!(name_search_form("ZOË  ünal"), "zoë ünal");
        assert!(name_keys("   ").is_empty());
        assert_eq!(name_keys(&"a ".repeat(50)).len(), MAX_NAME_KEYS);
    }

    #[test]
    fn unknown_countries_and_control_characters_are_refused() {
        let e = Address::parse(AddressInput {
            country: "XX".into(),
            ..input()
        })
        .unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("invalid_country", Some("country"))
        );
        let e = Address::parse(AddressInput {
            city: "Zu\0rich".into(),
            ..input()
        })
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("city"));
        let e = Address::parse(AddressInput {
            line1: "  ".into(),
            ..input()
        })
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("line1"));
    }

    #[test]
    fn every_iso_country_and_kosovo_is_a_country() {
        assert_eq!(rust_iso3166::ALL_ALPHA2.len(), 249);
        for code in rust_iso3166::ALL_ALPHA2.iter().chain(["XK"].iter()) {
            assert!(is_country_code(code), "{code}");
        }
        for bad in ["XX", "UK", "de", "D", "DEU", ""] {
            assert!(!is_country_code(bad), "{bad}");
        }
    }
}
