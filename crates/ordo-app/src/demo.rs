//! The demo data set behind `ordo serve --demo`: two vendors with a dozen products, stock in two
//! locations each, staff, customers and orders in several states — enough to click through
//! every screen and call every endpoint. Loaded through the same use cases as real data, so it
//! is also an end-to-end smoke test of them. Loading twice is a no-op.

use ordo_domain::address::AddressInput;
use ordo_domain::identity::{Actor, EmailAddress, Proof, User};
use ordo_domain::ids::VendorId;

use crate::catalog::{NewLocation, NewProduct, NewVariant};
use crate::checkout::PlaceOrder;
use crate::pricing::PricingImport;
use crate::users::NewUser;
use crate::{App, AppResult};

/// Every demo account shares this password; it is printed at start-up.
pub const PASSWORD: &str = "ordo-demo-password";

/// A demo login, for printing.
#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub email: String,
    pub role: String,
    pub note: String,
}

/// (SKU, variant title, EUR price, USD price), in minor units.
type DemoVariant = (&'static str, &'static str, i64, i64);

/// Who buys what, shipped where, in which currency, and what happens to the order afterwards.
struct DemoOrder<'a> {
    customer: &'a User,
    address: &'a AddressInput,
    currency: &'static str,
    items: &'static [(&'static str, i64)],
    then: &'static [&'static str],
}

struct DemoVendor {
    name: &'static str,
    email: &'static str,
    second: (&'static str, &'static str),
    /// (title, [(sku, variant title, EUR, USD)])
    /// (product title, its variants)
    products: &'static [(&'static str, &'static [DemoVariant])],
}

const VENDORS: &[DemoVendor] = &[
    DemoVendor {
        name: "Nordlicht Outdoor",
        email: "vendor@nordlicht.example",
        second: ("berlin", "Berlin store"),
        products: &[
            (
                "Trail Jacket",
                &[
                    ("NL-JKT-S", "S", 12900, 13900),
                    ("NL-JKT-M", "M", 12900, 13900),
                    ("NL-JKT-L", "L", 12900, 13900),
                ],
            ),
            (
                "Merino Beanie",
                &[
                    ("NL-BEANIE-GREY", "Grey", 2900, 3200),
                    ("NL-BEANIE-RED", "Red", 2900, 3200),
                ],
            ),
            ("Thermos 0.75 l", &[("NL-THERMOS", "", 3450, 3700)]),
            (
                "Hiking Socks (3 pairs)",
                &[
                    ("NL-SOCKS-39", "39–42", 1990, 2190),
                    ("NL-SOCKS-43", "43–46", 1990, 2190),
                ],
            ),
            ("Headlamp 400 lm", &[("NL-LAMP", "", 4490, 4890)]),
            ("Rain Poncho", &[("NL-PONCHO", "", 2490, 2690)]),
        ],
    },
    DemoVendor {
        name: "Sakura Tea House",
        email: "vendor@sakura.example",
        second: ("osaka", "Osaka warehouse"),
        products: &[
            ("Sencha 100 g", &[("SK-SENCHA", "", 1450, 1590)]),
            ("Matcha Ceremonial 30 g", &[("SK-MATCHA", "", 2800, 3050)]),
            (
                "Kyusu Teapot",
                &[
                    ("SK-KYUSU-BLUE", "藍 Indigo", 5900, 6400),
                    ("SK-KYUSU-WHITE", "白 White", 5900, 6400),
                ],
            ),
            ("Genmaicha 200 g", &[("SK-GENMAI", "", 1190, 1290)]),
            ("Bamboo Whisk", &[("SK-WHISK", "", 1890, 2050)]),
            ("Tea Cups (set of 4)", &[("SK-CUPS", "", 3900, 4250)]),
        ],
    },
];

impl App {
    /// Loads the demo data set unless it is already there; returns the logins to print.
    pub async fn load_demo(&self) -> AppResult<Vec<DemoLogin>> {
        let sys = Actor::system();
        let logins = demo_logins();
        if self
            .store
            .credentials(&EmailAddress::parse("admin@ordo.example")?)
            .await?
            .is_some()
        {
            return Ok(logins);
        }
        let user = |email: &str, role: &str, vendor_id: Option<VendorId>| NewUser {
            email: email.into(),
            password: PASSWORD.into(),
            role: role.into(),
            vendor_id,
        };
        self.create_user(
            &sys,
            Proof::SYSTEM,
            user("admin@ordo.example", "admin", None),
        )
        .await?;
        self.create_user(
            &sys,
            Proof::SYSTEM,
            user("support@ordo.example", "support", None),
        )
        .await?;
        let carrier = self
            .create_user(
                &sys,
                Proof::SYSTEM,
                user("carrier@parcelfast.example", "carrier", None),
            )
            .await?;

        self.import_pricing(&sys, Proof::SYSTEM, &demo_pricing())
            .await?;

        let mut skus = Vec::new();
        for v in VENDORS {
            let vendor = self.create_vendor(&sys, v.name).await?;
            self.create_user(
                &sys,
                Proof::SYSTEM,
                user(v.email, "vendor", Some(vendor.id)),
            )
            .await?;
            self.create_location(
                &sys,
                NewLocation {
                    vendor_id: vendor.id,
                    code: v.second.0.into(),
                    name: v.second.1.into(),
                    priority: 1,
                },
            )
            .await?;
            for (n, (title, variants)) in v.products.iter().enumerate() {
                let product = NewProduct {
                    vendor_id: vendor.id,
                    title: (*title).into(),
                    tax_class: None,
                    stock_deduction: None,
                    variants: variants
                        .iter()
                        .map(|(sku, vt, eur, usd)| NewVariant {
                            sku: (*sku).into(),
                            title: Some((*vt).into()),
                            prices: vec![("EUR".into(), *eur), ("USD".into(), *usd)],
                            weight_grams: Some(400),
                            low_stock_threshold: Some(5),
                        })
                        .collect(),
                };
                self.create_product(&sys, product).await?;
                for (i, (sku, ..)) in variants.iter().enumerate() {
                    // Varied levels, a few low, so stock screens have something to show.
                    let main = [40, 12, 3, 25, 8, 60][(n + i) % 6];
                    self.set_stock(&sys, sku, None, main).await?;
                    self.set_stock(&sys, sku, Some(v.second.0), main / 2)
                        .await?;
                    skus.push(*sku);
                }
            }
        }

        let ada = self
            .create_user(
                &sys,
                Proof::SYSTEM,
                user("ada@customer.example", "customer", None),
            )
            .await?;
        let wei = self
            .create_user(
                &sys,
                Proof::SYSTEM,
                user("li.wei@customer.example", "customer", None),
            )
            .await?;
        let home =
            |name: &str, line1: &str, city: &str, postal: &str, country: &str| AddressInput {
                name: name.into(),
                line1: line1.into(),
                line2: None,
                city: city.into(),
                region: None,
                postal_code: postal.into(),
                country: country.into(),
            };
        let ada_home = home(
            "Ada Lovelace 🏠",
            "12 St James's Square",
            "London",
            "SW1Y 4JH",
            "GB",
        );
        let wei_office = home(
            "李伟 🏢",
            "東京都港区六本木 6-10-1",
            "東京",
            "106-6108",
            "JP",
        );
        // (customer, address, currency, items, actions to take after placing)
        let o = |customer, address, currency, items, then| DemoOrder {
            customer,
            address,
            currency,
            items,
            then,
        };
        let plans = [
            o(
                &ada,
                &ada_home,
                "EUR",
                &[("NL-JKT-M", 1), ("NL-BEANIE-RED", 2)],
                &["pay", "accept", "ship", "deliver", "complete"],
            ),
            o(
                &ada,
                &ada_home,
                "EUR",
                &[("NL-THERMOS", 1)],
                &["pay", "accept", "ship"],
            ),
            o(
                &ada,
                &ada_home,
                "EUR",
                &[("SK-MATCHA", 2), ("SK-WHISK", 1)],
                &["pay", "accept"],
            ),
            o(&ada, &ada_home, "EUR", &[("NL-LAMP", 1)], &["pay"]),
            o(
                &wei,
                &wei_office,
                "USD",
                &[("SK-KYUSU-BLUE", 1), ("SK-CUPS", 1)],
                &[],
            ),
            o(&wei, &wei_office, "USD", &[("SK-SENCHA", 3)], &["cancel"]),
            o(
                &wei,
                &wei_office,
                "USD",
                &[("NL-SOCKS-43", 2)],
                &["pay", "accept", "ship", "deliver"],
            ),
        ];
        let admin = Actor::system();
        for DemoOrder {
            customer,
            address,
            currency,
            items,
            then: actions,
        } in plans
        {
            // Paid as a customer pays: with the provider's test card (the sandbox's unless
            // another provider is set up); by hand only when payments are off.
            let card = match self.provider.as_ref().map(|p| p.name()) {
                Some("sandbox") => Some("sandbox_card_ok"),
                Some(_) => Some("pm_card_visa"),
                None => None,
            };
            let (payment_method, actions) = match (actions.split_first(), card) {
                (Some((&"pay", rest)), Some(card)) => (Some(card.to_owned()), rest),
                _ => (None, actions),
            };
            let placed = self
                .place_order(
                    &Actor::of(customer),
                    PlaceOrder {
                        payment_method,
                        currency: currency.into(),
                        items: items.iter().map(|(s, q)| ((*s).into(), *q)).collect(),
                        shipping_address: address.clone(),
                        promo_code: None,
                    },
                )
                .await?;
            for action in actions {
                let (reason, carrier_id) = match *action {
                    "cancel" => (Some("Ordered by mistake".to_string()), None),
                    "ship" => (None, Some(carrier.id)),
                    _ => (None, None),
                };
                self.act(
                    &admin,
                    Proof::SYSTEM,
                    placed.order.id,
                    action,
                    reason,
                    carrier_id,
                )
                .await?;
            }
        }
        // A stuck payment for support to resolve (in the exception queue): a card whose
        // captures keep failing, tried as many times as Ordo would over the next hour — the
        // demo does not wait for the retries.
        if self
            .provider
            .as_ref()
            .is_some_and(|p| p.name() == "sandbox")
        {
            let placed = self
                .place_order(
                    &Actor::of(&wei),
                    PlaceOrder {
                        payment_method: Some("sandbox_card_capture_fails".into()),
                        currency: "EUR".into(),
                        items: vec![("NL-BEANIE-RED".into(), 1)],
                        shipping_address: wei_office.clone(),
                        promo_code: None,
                    },
                )
                .await?;
            self.capture_given_up(placed.order.id).await?;
        }
        tracing::info!(skus = skus.len(), "demo data loaded");
        Ok(logins)
    }
}

fn demo_logins() -> Vec<DemoLogin> {
    let l = |email: &str, role: &str, note: &str| DemoLogin {
        email: email.into(),
        role: role.into(),
        note: note.into(),
    };
    vec![
        l("admin@ordo.example", "admin", "everything"),
        l("support@ordo.example", "support", "every order; cancels"),
        l(
            "vendor@nordlicht.example",
            "vendor",
            "Nordlicht Outdoor's catalog, stock and orders",
        ),
        l(
            "vendor@sakura.example",
            "vendor",
            "Sakura Tea House's catalog, stock and orders",
        ),
        l(
            "carrier@parcelfast.example",
            "carrier",
            "orders handed to ParcelFast",
        ),
        l(
            "ada@customer.example",
            "customer",
            "five orders in different states",
        ),
        l(
            "li.wei@customer.example",
            "customer",
            "three orders, one cancelled",
        ),
    ]
}

/// The demo's pricing rules: VAT inside the price in Europe and Japan, sales tax on top in two
/// US states, shipping by zone with free shipping over 50 EUR in Europe, two FX rates (JPY and
/// GBP have no price of their own) and one limited welcome code.
fn demo_pricing() -> PricingImport {
    serde_json::from_value(serde_json::json!({
        "tax_rules": [
            {"country": "DE", "rate": "19", "mode": "inclusive", "name": "MwSt. 19%"},
            {"country": "DE", "tax_class": "shipping", "rate": "19", "mode": "inclusive", "name": "MwSt. 19% (Versand)"},
            {"country": "FR", "rate": "20", "mode": "inclusive", "name": "TVA 20%"},
            {"country": "GB", "rate": "20", "mode": "inclusive", "name": "VAT 20%"},
            {"country": "JP", "rate": "10", "mode": "inclusive", "name": "消費税 10%"},
            {"country": "US", "region": "CA", "rate": "7.25", "mode": "exclusive", "name": "CA sales tax"},
            {"country": "US", "region": "NY", "rate": "4", "mode": "exclusive", "name": "NY sales tax"}
        ],
        "shipping_rates": [
            {"name": "Europe standard", "countries": ["DE", "FR", "GB", "NL", "BE", "AT", "IT", "ES", "CH"],
             "price": {"amount": 490, "currency": "EUR"}, "free_over": {"amount": 5000, "currency": "EUR"}},
            {"name": "World", "price": {"amount": 1490, "currency": "EUR"}},
            {"name": "US ground", "countries": ["US"], "price": {"amount": 599, "currency": "USD"}},
            {"name": "World", "price": {"amount": 1990, "currency": "USD"}},
            {"name": "World", "price": {"amount": 2400, "currency": "JPY"}},
            {"name": "UK standard", "countries": ["GB"], "price": {"amount": 395, "currency": "GBP"}}
        ],
        "fx_rates": [
            {"from": "EUR", "to": "JPY", "rate": "161.235", "rounding": "half_up"},
            {"from": "EUR", "to": "GBP", "rate": "0.8571", "rounding": "half_even"}
        ],
        "promotions": [
            {"code": "WELCOME10", "name": "10% off your first order", "percent": "10", "usage_limit": 1000}
        ]
    }))
    .expect("the demo pricing rules are valid")
}
