//! Authorization, on both databases: every operation of the OpenAPI document × every kind of
//! caller × their own, someone else's and an unknown object. The operations come from the
//! document the server serves, so a new endpoint fails this test until it is given a row here.
//! And the faults an outside audit found stay fixed: a vendor's private thresholds, a 404 for
//! an unknown vendor in a path, and customers seeing staff by role and name, never by id.

use std::collections::HashMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Auth, Res, TestApp, on_both_backends};

on_both_backends!(
    every_operation_answers_every_caller_as_its_row_says,
    a_vendors_thresholds_are_for_its_staff_support_and_admins,
    an_unknown_vendor_in_a_path_is_not_found,
    customers_see_who_acted_by_role_and_name_never_by_id,
);

/// Who calls. Customer and Vendor own the `A` objects; the `B` objects belong to others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Caller {
    Guest,
    Customer,
    Vendor,
    Support,
    Admin,
    Carrier,
}

const CALLERS: [Caller; 6] = [
    Caller::Guest,
    Caller::Customer,
    Caller::Vendor,
    Caller::Support,
    Caller::Admin,
    Caller::Carrier,
];

/// What a path's object is, and whether it belongs to someone (so that another customer or
/// vendor must not find it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Object {
    None,
    Order,
    Cart,
    Sku,
    Vendor,
    /// Public catalog: anyone logged in may read any product.
    Product,
    /// Admin-only objects: no ownership below the role.
    User,
    Promotion,
    FxRate,
    TaxRule,
    ShippingRate,
}

impl Object {
    fn owned(self) -> bool {
        matches!(
            self,
            Object::Order | Object::Cart | Object::Sku | Object::Vendor
        )
    }
}

/// One row: an operation, the callers who may use it (letters: g guest, c customer, v vendor,
/// s support, a admin, r carrier; `None` skips it, with the reason), its path's object, and a
/// valid body (`{sku}`, `{vendor}` and `{uniq}` filled in), so that a caller who may use it is
/// let through and one who may not is refused as such, not for a bad body.
type Row = (
    &'static str,
    &'static str,
    Option<&'static str>,
    Object,
    Option<&'static str>,
);

#[rustfmt::skip]
const ROWS: &[Row] = &[
    ("POST", "/api/v1/auth/login", Some("gcvsar"), Object::None, Some(r#"{"email": "admin@test.example", "password": "correct horse battery"}"#)),
    // Revokes the caller's own token: it would end the matrix's sessions (tests/api/auth.rs).
    ("POST", "/api/v1/auth/logout", None, Object::None, None),
    // A private target is refused (422) after the role check: allowed callers get that far.
    ("POST", "/api/v1/webhook-endpoints", Some("va"), Object::None, Some(r#"{"url": "http://127.0.0.1:9/hook", "events": ["*"]}"#)),
    ("GET", "/api/v1/webhook-endpoints", Some("va"), Object::None, None),
    ("GET", "/api/v1/jobs", Some("sa"), Object::None, None),
    ("GET", "/api/v1/exceptions", Some("sa"), Object::None, None),
    // An exception's own operations need one: tests/api/exceptions.rs checks who may use them.
    ("GET", "/api/v1/exceptions/{id}", None, Object::None, None),
    ("POST", "/api/v1/exceptions/{id}/resolve", None, Object::None, None),
    ("POST", "/api/v1/exceptions/{id}/escalate", None, Object::None, None),
    // Needs a dead job: tests/api/jobs.rs (staff retry it, others are refused).
    ("POST", "/api/v1/jobs/{id}/retry", None, Object::None, None),
    // An endpoint's own operations: owner, other vendor, customer and support are checked in
    // tests/api/webhooks.rs (the matrix's world has no endpoint: creating one needs a target).
    ("GET", "/api/v1/webhook-endpoints/{id}", None, Object::None, None),
    ("PATCH", "/api/v1/webhook-endpoints/{id}", None, Object::None, None),
    ("DELETE", "/api/v1/webhook-endpoints/{id}", None, Object::None, None),
    ("POST", "/api/v1/webhook-endpoints/{id}/rotate-secret", None, Object::None, None),
    ("POST", "/api/v1/webhook-endpoints/{id}/test", None, Object::None, None),
    ("GET", "/api/v1/webhook-endpoints/{id}/deliveries", None, Object::None, None),
    ("POST", "/api/v1/webhook-endpoints/{id}/deliveries/{delivery_id}/retry", None, Object::None, None),
    ("POST", "/api/v1/webhook-endpoints/{id}/replay", None, Object::None, None),
    ("GET", "/api/v1/auth/me", Some("cvsar"), Object::None, None),
    ("GET", "/api/v1/auth/sensitive-actions", Some("gcvsar"), Object::None, None),
    ("POST", "/api/v1/auth/step-up", Some("cvsar"), Object::None, Some(r#"{"password": "correct horse battery"}"#)),
    ("DELETE", "/api/v1/auth/totp", Some("cvsar"), Object::None, None),
    ("POST", "/api/v1/auth/totp/confirm", Some("cvsar"), Object::None, Some(r#"{"code": "000000"}"#)),
    ("POST", "/api/v1/auth/totp/enroll", Some("cvsar"), Object::None, Some(r#"{}"#)),
    ("POST", "/api/v1/carts", Some("gc"), Object::None, Some(r#"{"currency": "EUR"}"#)),
    ("GET", "/api/v1/carts/{id}", Some("csa"), Object::Cart, None),
    // Support and admins may look into and fix a customer's cart (assisted shopping).
    ("PATCH", "/api/v1/carts/{id}", Some("csa"), Object::Cart, Some(r#"{"currency": "EUR"}"#)),
    ("POST", "/api/v1/carts/{id}/checkout", Some("c"), Object::Cart, Some(r#"{}"#)),
    ("POST", "/api/v1/carts/{id}/lines", Some("csa"), Object::Cart, Some(r#"{"sku": "{sku}", "quantity": 1}"#)),
    ("PATCH", "/api/v1/carts/{id}/lines/{sku}", Some("csa"), Object::Cart, Some(r#"{"quantity": 2}"#)),
    ("DELETE", "/api/v1/carts/{id}/lines/{sku}", Some("csa"), Object::Cart, None),
    ("PUT", "/api/v1/fx-rates", Some("a"), Object::None, Some(r#"{"from": "EUR", "to": "CHF", "rate": "0.95"}"#)),
    ("DELETE", "/api/v1/fx-rates/{id}", Some("a"), Object::FxRate, None),
    ("GET", "/api/v1/inventory/{sku}", Some("vsa"), Object::Sku, None),
    ("PUT", "/api/v1/inventory/{sku}", Some("va"), Object::Sku, Some(r#"{"on_hand": 50}"#)),
    ("GET", "/api/v1/inventory/{sku}/adjustments", Some("vsa"), Object::Sku, None),
    ("POST", "/api/v1/inventory/{sku}/adjustments", Some("va"), Object::Sku, Some(r#"{"delta": 1, "reason": "receipt"}"#)),
    ("PUT", "/api/v1/inventory/{sku}/low-stock-threshold", Some("va"), Object::Sku, Some(r#"{"low_stock_threshold": 3}"#)),
    ("GET", "/api/v1/low-stock", Some("vsa"), Object::None, None),
    ("GET", "/api/v1/order-state-machine", Some("gcvsar"), Object::None, None),
    ("GET", "/api/v1/orders", Some("cvsar"), Object::None, None),
    ("POST", "/api/v1/orders", Some("c"), Object::None, Some(r#"{"currency": "EUR", "items": [{"sku": "{sku}", "quantity": 1}], "shipping_address": {"name": "M", "line1": "1 Road", "city": "Bern", "postal_code": "3000", "country": "CH"}}"#)),
    ("GET", "/api/v1/orders/{id}", Some("cvsa"), Object::Order, None),
    ("POST", "/api/v1/orders/{id}/actions/{action}", Some("cvsa"), Object::Order, Some(r#"{}"#)),
    ("GET", "/api/v1/orders/{id}/events", Some("cvsa"), Object::Order, None),
    ("GET", "/api/v1/orders/{id}/notes", Some("sa"), Object::Order, None),
    ("POST", "/api/v1/orders/{id}/notes", Some("sa"), Object::Order, Some(r#"{"body": "Matrix note"}"#)),
    ("GET", "/api/v1/orders/{id}/notifications", Some("cvsa"), Object::Order, None),
    ("GET", "/api/v1/orders/{id}/payments", Some("cvsa"), Object::Order, None),
    // By now the own order is cancelled (the actions row): allowed callers get a 409.
    ("POST", "/api/v1/orders/{id}/payments/confirm", Some("c"), Object::Order, Some(r#"{"payment_method": "sandbox_card_declined"}"#)),
    ("POST", "/api/v1/orders/{id}/payments/authenticate", Some("c"), Object::Order, Some(r#"{"success": true}"#)),
    ("POST", "/api/v1/orders/{id}/payments/capture", Some("va"), Object::Order, Some(r#"{}"#)),
    ("POST", "/api/v1/orders/{id}/payments/void", Some("va"), Object::Order, Some(r#"{}"#)),
    ("POST", "/api/v1/orders/{id}/refunds", Some("sa"), Object::Order, Some(r#"{"amount": 100}"#)),
    // Anyone may send one (the signature, not a login, proves the provider): unsigned is a 400.
    ("POST", "/api/v1/payments/webhooks/{provider}", Some("gcvsar"), Object::None, Some(r#"{"id": "evt_1"}"#)),
    ("GET", "/api/v1/me/notification-preferences", Some("cvsar"), Object::None, None),
    ("PUT", "/api/v1/me/notification-preferences", Some("cvsar"), Object::None, Some(r#"{"locale": "de"}"#)),
    ("GET", "/api/v1/events", Some("cvsar"), Object::None, None),
    ("GET", "/api/v1/price-lists/{currency}", Some("gcvsar"), Object::None, None),
    ("PUT", "/api/v1/prices/{sku}/{currency}", Some("va"), Object::Sku, Some(r#"{"amount": 1300}"#)),
    ("DELETE", "/api/v1/prices/{sku}/{currency}", Some("va"), Object::Sku, None),
    ("GET", "/api/v1/pricing", Some("sa"), Object::None, None),
    ("GET", "/api/v1/products", Some("cvsar"), Object::None, None),
    ("POST", "/api/v1/products", Some("va"), Object::None, Some(r#"{"vendor_id": "{vendor}", "title": "Matrix mug", "variants": [{"sku": "M-{uniq}", "prices": [{"currency": "EUR", "amount": 900}]}]}"#)),
    ("GET", "/api/v1/products/{id}", Some("cvsar"), Object::Product, None),
    ("POST", "/api/v1/promotions", Some("a"), Object::None, Some(r#"{"name": "Two off", "percent": "2"}"#)),
    ("PATCH", "/api/v1/promotions/{id}", Some("a"), Object::Promotion, Some(r#"{"active": true}"#)),
    ("POST", "/api/v1/shipping-rates", Some("a"), Object::None, Some(r#"{"name": "LU parcel", "countries": ["LU"], "price": {"amount": 500, "currency": "EUR"}}"#)),
    ("DELETE", "/api/v1/shipping-rates/{id}", Some("a"), Object::ShippingRate, None),
    ("POST", "/api/v1/tax-rules", Some("a"), Object::None, Some(r#"{"country": "MT", "rate": "18", "mode": "inclusive", "name": "MT VAT"}"#)),
    ("DELETE", "/api/v1/tax-rules/{id}", Some("a"), Object::TaxRule, None),
    ("GET", "/api/v1/customers", Some("sa"), Object::None, None),
    ("GET", "/api/v1/users", Some("sa"), Object::None, None),
    ("POST", "/api/v1/users", Some("a"), Object::None, Some(r#"{"email": "m-{uniq}@test.example", "password": "a long password", "role": "support"}"#)),
    ("PATCH", "/api/v1/users/{id}", Some("a"), Object::User, Some(r#"{"disabled": false}"#)),
    ("GET", "/api/v1/vendors", Some("vsa"), Object::None, None),
    ("POST", "/api/v1/vendors", Some("a"), Object::None, Some(r#"{"name": "Matrix {uniq}"}"#)),
    ("GET", "/api/v1/vendors/{id}", Some("vsa"), Object::Vendor, None),
    ("GET", "/api/v1/vendors/{id}/locations", Some("vsa"), Object::Vendor, None),
    ("POST", "/api/v1/vendors/{id}/locations", Some("va"), Object::Vendor, Some(r#"{"code": "m-{uniq}", "name": "Matrix depot"}"#)),
    ("GET", "/api/v1/vendors/{id}/balance", Some("vsa"), Object::Vendor, None),
    ("PUT", "/api/v1/vendors/{id}/commission", Some("a"), Object::Vendor, Some(r#"{"basis_points": 1000}"#)),
    ("GET", "/api/v1/vendors/{id}/payouts", Some("vsa"), Object::Vendor, None),
    // Nothing is captured in the matrix's world: allowed callers get 409 payout_exceeds_balance.
    ("POST", "/api/v1/vendors/{id}/payouts", Some("va"), Object::Vendor, Some(r#"{"amount": 1, "currency": "EUR"}"#)),
    // Needs a payout: tests/api/payouts.rs.
    ("POST", "/api/v1/vendors/{id}/payouts/{payout_id}/paid", None, Object::None, None),
    ("GET", "/api/v1/ledger", Some("a"), Object::None, None),
];

fn letter(c: Caller) -> char {
    match c {
        Caller::Guest => 'g',
        Caller::Customer => 'c',
        Caller::Vendor => 'v',
        Caller::Support => 's',
        Caller::Admin => 'a',
        Caller::Carrier => 'r',
    }
}

/// Which object a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whose {
    Own,
    Foreign,
    Unknown,
}

struct World {
    tokens: HashMap<Caller, String>,
    ids: HashMap<&'static str, (String, String)>,
}

async fn world(app: &TestApp) -> World {
    let a = app.shop(100).await;
    let b = app.shop(100).await;
    let customer = app.customer().await;
    let other = app.customer().await;
    let (_, support) = app.user("support", None).await;
    let (_, carrier) = app.user("carrier", None).await;
    let (support_id, _) = app.user("support", None).await;
    let order_a = app.order(&customer, &a.sku, 1, None).await.expect(201);
    let order_b = app.order(&other, &b.sku, 1, None).await.expect(201);
    let cart = |token: String, sku: String| async move {
        app.post(
            "/api/v1/carts",
            &token,
            json!({ "currency": "EUR", "lines": [{ "sku": sku, "quantity": 1 }] }),
        )
        .await
        .expect(201)
    };
    let cart_a = cart(customer.clone(), a.sku.clone()).await;
    let cart_b = cart(other.clone(), b.sku.clone()).await;
    let product = |vendor: &str| {
        let vendor = vendor.to_owned();
        async move {
            let list = app
                .get(&format!("/api/v1/products?vendor_id={vendor}"), app.admin())
                .await
                .expect(200);
            list["data"][0]["id"].as_str().unwrap().to_owned()
        }
    };
    let promo = app
        .post(
            "/api/v1/promotions",
            app.admin(),
            json!({ "code": "MATRIX", "name": "Matrix", "percent": "1" }),
        )
        .await
        .expect(201);
    let tax = app
        .post(
            "/api/v1/tax-rules",
            app.admin(),
            json!({ "country": "LU", "rate": "17", "mode": "inclusive", "name": "LU VAT" }),
        )
        .await
        .expect(200);
    let fx = app
        .put(
            "/api/v1/fx-rates",
            app.admin(),
            json!({ "from": "EUR", "to": "SEK", "rate": "11.2" }),
        )
        .await
        .expect(200);
    let shipping = app
        .post(
            "/api/v1/shipping-rates",
            app.admin(),
            json!({ "name": "CH parcel", "countries": ["CH"], "price": { "amount": 700, "currency": "EUR" } }),
        )
        .await
        .expect(201);
    let id = |v: &Value| v["id"].as_str().unwrap().to_owned();
    let mut ids = HashMap::new();
    ids.insert("order", (id(&order_a), id(&order_b)));
    ids.insert("cart", (id(&cart_a), id(&cart_b)));
    ids.insert("sku", (a.sku.clone(), b.sku.clone()));
    ids.insert("vendor", (a.vendor_id.clone(), b.vendor_id.clone()));
    ids.insert(
        "product",
        (product(&a.vendor_id).await, product(&b.vendor_id).await),
    );
    ids.insert("user", (support_id.clone(), support_id));
    ids.insert("promotion", (id(&promo), id(&promo)));
    ids.insert("tax", (id(&tax), id(&tax)));
    ids.insert("fx", (id(&fx), id(&fx)));
    ids.insert("shipping", (id(&shipping), id(&shipping)));
    let mut tokens = HashMap::new();
    tokens.insert(Caller::Customer, customer);
    tokens.insert(Caller::Vendor, a.token);
    tokens.insert(Caller::Support, support);
    tokens.insert(Caller::Admin, app.admin().to_owned());
    tokens.insert(Caller::Carrier, carrier);
    World { tokens, ids }
}

/// The path with its parameters filled for `whose` object.
fn fill(path: &str, object: Object, whose: Whose, caller: Caller, w: &World) -> String {
    let unknown_id = "0190a0c4-7b5e-7c3a-9f1e-3b9d2a1c4e5f";
    let pick = |kind: &str| {
        let (own, foreign) = &w.ids[kind];
        match whose {
            Whose::Own => own.clone(),
            Whose::Foreign => foreign.clone(),
            Whose::Unknown if kind == "sku" => "NO-SUCH-SKU".to_owned(),
            Whose::Unknown => unknown_id.to_owned(),
        }
    };
    let (own_sku, _) = &w.ids["sku"];
    let id = match object {
        Object::Order => pick("order"),
        Object::Cart => pick("cart"),
        Object::Vendor => pick("vendor"),
        Object::Product => pick("product"),
        Object::User => pick("user"),
        Object::Promotion => pick("promotion"),
        Object::FxRate => pick("fx"),
        Object::TaxRule => pick("tax"),
        Object::ShippingRate => pick("shipping"),
        Object::Sku | Object::None => String::new(),
    };
    let sku = if object == Object::Sku {
        pick("sku")
    } else {
        own_sku.clone()
    };
    path.replace("{id}", &id)
        .replace("{sku}", &sku)
        // Two callers may delete a price: each its own (the shop's SKUs sell in EUR and USD).
        .replace(
            "{currency}",
            if caller == Caller::Vendor {
                "EUR"
            } else {
                "USD"
            },
        )
        .replace("{action}", "cancel")
        .replace("{provider}", "sandbox")
}

async fn call(
    app: &TestApp,
    (method, path, body): (&str, &str, Option<&str>),
    caller: Caller,
    w: &World,
) -> Res {
    let method: Method = method.parse().unwrap();
    let body = body.map(|b| {
        b.replace("{sku}", &w.ids["sku"].0)
            .replace("{vendor}", &w.ids["vendor"].0)
            .replace("{uniq}", &uuid::Uuid::now_v7().simple().to_string()[20..])
    });
    let auth = match caller {
        Caller::Guest => Auth::Guest,
        other => Auth::Bearer(&w.tokens[&other]),
    };
    app.call(method, path, auth, None, body).await
}

async fn every_operation_answers_every_caller_as_its_row_says(app: TestApp) {
    let spec = app
        .request(Method::GET, "/api/openapi.json", None, None)
        .await
        .expect(200);
    let mut operations = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                operations.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    for (method, path) in &operations {
        assert!(
            ROWS.iter().any(|(m, p, ..)| m == method && p == path),
            "{method} {path} is in the API but has no row in the authorization matrix"
        );
    }
    assert_eq!(
        operations.len(),
        ROWS.len(),
        "a row names an operation the API does not have"
    );

    let w = world(&app).await;
    let mut checked = 0;
    // Every mismatch, so one run shows them all.
    let mut wrong: Vec<String> = Vec::new();
    for (method, path, allowed, object, body) in ROWS {
        let Some(allowed) = allowed else { continue };
        for caller in CALLERS {
            let may = allowed.contains(letter(caller));
            let own = fill(path, *object, Whose::Own, caller, &w);
            if *method == "DELETE" && path.ends_with("/lines/{sku}") {
                // Each caller deletes a line that is there: the customer puts it back first.
                let lines = format!("/api/v1/carts/{}/lines", w.ids["cart"].0);
                let line = json!({ "sku": w.ids["sku"].0, "quantity": 1 });
                app.post(&lines, &w.tokens[&Caller::Customer], line)
                    .await
                    .expect(200);
            }
            let res = call(&app, (method, &own, *body), caller, &w).await;
            let status = res.status.as_u16();
            let what = format!("{method} {path} as {caller:?} (own object)");
            let fine = if may {
                ![401, 403, 404].contains(&status)
            } else if caller == Caller::Guest {
                [401, 404].contains(&status)
            } else {
                [403, 404].contains(&status)
            };
            if !fine {
                let allowed = if may { "allowed" } else { "not allowed" };
                let body = res.body.to_string();
                wrong.push(format!(
                    "{what}: {allowed}, but {status} {}",
                    &body[..body.len().min(160)]
                ));
            }
            checked += 1;
            if !may || *object == Object::None {
                continue;
            }
            // Someone else's object: only staff above the owner may reach it.
            let ownership = matches!(caller, Caller::Customer | Caller::Vendor);
            if object.owned() && ownership {
                let foreign = fill(path, *object, Whose::Foreign, caller, &w);
                let res = call(&app, (method, &foreign, *body), caller, &w).await;
                if res.status != 404 {
                    wrong.push(format!(
                        "{method} {path} as {caller:?} on another's object: {}",
                        res.status
                    ));
                }
                checked += 1;
            }
            let unknown = fill(path, *object, Whose::Unknown, caller, &w);
            let res = call(&app, (method, &unknown, *body), caller, &w).await;
            if res.status != 404 {
                wrong.push(format!(
                    "{method} {path} as {caller:?} on an unknown object: {}",
                    res.status
                ));
            }
            checked += 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {checked} calls answered wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(checked > 300, "the matrix ran {checked} calls");
}

async fn a_vendors_thresholds_are_for_its_staff_support_and_admins(app: TestApp) {
    let shop = app.shop(10).await;
    let other = app.shop(10).await;
    app.put(
        &format!("/api/v1/inventory/{}/low-stock-threshold", shop.sku),
        &shop.token,
        json!({ "low_stock_threshold": 4 }),
    )
    .await
    .expect(204);
    let customer = app.customer().await;
    let (_, support) = app.user("support", None).await;
    let threshold = |product: &Value| product["variants"][0].get("low_stock_threshold").cloned();
    let list_path = format!("/api/v1/products?vendor_id={}", shop.vendor_id);
    for (who, token, sees) in [
        ("its staff", shop.token.clone(), true),
        ("support", support, true),
        ("an admin", app.admin().to_owned(), true),
        ("a customer", customer, false),
        ("another vendor", other.token.clone(), false),
    ] {
        let product = app.get(&list_path, &token).await.expect(200)["data"][0].clone();
        assert_eq!(threshold(&product).is_some(), sees, "{who}: {product}");
        let one = app
            .get(
                &format!("/api/v1/products/{}", product["id"].as_str().unwrap()),
                &token,
            )
            .await
            .expect(200);
        assert_eq!(threshold(&one).is_some(), sees, "{who}: {one}");
    }
}

async fn an_unknown_vendor_in_a_path_is_not_found(app: TestApp) {
    app.post(
        "/api/v1/vendors/0190a0c4-7b5e-7c3a-9f1e-3b9d2a1c4e5f/locations",
        app.admin(),
        json!({ "code": "north", "name": "North" }),
    )
    .await
    .expect_error(404, "not_found");
}

async fn customers_see_who_acted_by_role_and_name_never_by_id(app: TestApp) {
    let shop = app.shop(10).await;
    let (customer_id, customer) = app.user("customer", None).await;
    let order = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    let id = order["id"].as_str().unwrap();
    app.act(app.admin(), id, "pay", json!({})).await.expect(200);
    app.act(&shop.token, id, "accept", json!({}))
        .await
        .expect(200);
    let events = app.events(&customer, id).await;
    assert_eq!(
        (
            events[0]["actor"]["name"].as_str(),
            events[0]["actor"]["user_id"].as_str()
        ),
        (Some("you"), Some(customer_id.as_str())),
        "their own step shows as theirs"
    );
    for (e, name) in events[1..]
        .iter()
        .zip(["the shop's administration", "the seller"])
    {
        assert_eq!(e["actor"]["name"], name, "{e}");
        assert!(
            e["actor"].get("user_id").is_none(),
            "a staff id reached a customer: {e}"
        );
    }
    // Staff see who did it.
    let seen_by_staff = app.events(app.admin(), id).await;
    assert!(seen_by_staff[2]["actor"]["user_id"].is_string());
}
