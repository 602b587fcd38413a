//! Parse, don't validate — also when a value comes from JSON: every checked type reads through
//! its parser (a request body, a stored document, an import file), so a bad value is refused
//! with the parser's own reason, and a good one reads back as it was written.

use ordo_domain::catalog::{LocationCode, Name, Sku};
use ordo_domain::identity::{EmailAddress, Role};
use ordo_domain::inventory::{AdjustmentReason, Quantity, StockDeduction};
use ordo_domain::money::Currency;
use ordo_domain::pricing::{Percent, TaxClass};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// `bad` is refused with a message that contains `reason`; `good` reads and writes back as is.
fn reads_through_its_parser<T: DeserializeOwned + serde::Serialize>(
    good: &Value,
    bad: &Value,
    reason: &str,
) {
    let err = serde_json::from_value::<T>(bad.clone())
        .err()
        .unwrap_or_else(|| {
            panic!(
                "{bad} was read into {} unchecked",
                std::any::type_name::<T>()
            )
        });
    assert!(err.to_string().contains(reason), "{bad}: {err}");
    let value: T = serde_json::from_value(good.clone()).unwrap();
    assert_eq!(&serde_json::to_value(value).unwrap(), good);
}

#[test]
fn a_sku_is_parsed_when_read_from_json() {
    reads_through_its_parser::<Sku>(&json!("NL-JKT-M"), &json!("has space"), "a SKU is 1 to 64");
    reads_through_its_parser::<Sku>(&json!("A.B_c-1"), &json!(""), "a SKU is 1 to 64");
}

#[test]
fn a_name_is_parsed_when_read_from_json() {
    reads_through_its_parser::<Name>(&json!("Nordlicht 🌲"), &json!("  "), "must not be empty");
    reads_through_its_parser::<Name>(&json!("Ünal"), &json!("bell\u{7}"), "control characters");
}

#[test]
fn a_location_code_is_parsed_when_read_from_json() {
    reads_through_its_parser::<LocationCode>(
        &json!("berlin-1"),
        &json!("Berlin"),
        "a location code is",
    );
}

#[test]
fn an_email_address_is_parsed_when_read_from_json() {
    reads_through_its_parser::<EmailAddress>(
        &json!("ada@customer.example"),
        &json!("ada-at-example"),
        "is not an e-mail address",
    );
}

#[test]
fn a_quantity_is_parsed_when_read_from_json() {
    reads_through_its_parser::<Quantity>(&json!(3), &json!(0), "quantity must be between 1 and");
    reads_through_its_parser::<Quantity>(
        &json!(10_000),
        &json!(10_001),
        "quantity must be between 1 and",
    );
}

#[test]
fn decimals_classes_and_currencies_are_parsed_when_read_from_json() {
    reads_through_its_parser::<Percent>(&json!("8.875"), &json!("101"), "is not a percentage");
    reads_through_its_parser::<TaxClass>(&json!("reduced"), &json!("Reduced"), "a tax class is");
    reads_through_its_parser::<Currency>(&json!("EUR"), &json!("eur"), "ISO 4217");
}

#[test]
fn names_of_enums_are_parsed_one_way() {
    assert_eq!(
        "at_payment".parse::<StockDeduction>().unwrap(),
        StockDeduction::AtPayment
    );
    assert_eq!(
        AdjustmentReason::parse("damage").unwrap().as_str(),
        "damage"
    );
    let err = AdjustmentReason::parse("theft").unwrap_err();
    assert_eq!(err.code, "invalid_reason");
    assert!(err.message.contains("receipt, correction, damage"), "{err}");
    // `system` is a role Ordo acts in, never one a user may be given.
    assert_eq!(Role::parse("system").unwrap(), Role::System);
    assert_eq!(Role::of_user("system").unwrap_err().code, "invalid_role");
    assert_eq!(Role::of_user("support").unwrap(), Role::Support);
}
