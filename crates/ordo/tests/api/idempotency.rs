//! Idempotency keys on every write that creates or moves something, on both databases: the
//! first request with a key is done and answered; the same request again (its fields in another
//! order) gets the very same status and body with `Idempotent-Replayed: true` and changes
//! nothing; the same key with another body is a 409 `idempotency_key_reused`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{Auth, TestApp, address, on_both_backends, order_body};

on_both_backends!(
    every_creating_write_is_done_once_per_key,
    a_guest_retrying_a_cart_gets_it_once_with_a_fresh_token,
    keys_are_kept_for_a_day_then_forgotten,
    a_bad_key_is_refused_and_changes_nothing,
);

/// JSON text with every object's fields in reverse order: the same request, spelt differently.
fn reversed(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut fields: Vec<_> = map.iter().collect();
            fields.sort_by(|a, b| b.0.cmp(a.0));
            let inner: Vec<String> = fields
                .into_iter()
                .map(|(k, v)| format!("{}:{}", Value::String(k.clone()), reversed(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(reversed).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

/// One write to try: who sends it, its body, another body for the reused-key check, and a read
/// (as the same caller) that must not change when the write is replayed.
struct Case<'a> {
    name: &'a str,
    method: Method,
    path: String,
    token: &'a str,
    body: Value,
    other: Value,
    check: Option<String>,
}

async fn every_creating_write_is_done_once_per_key(app: TestApp) {
    let admin = app.admin().to_owned();
    let shop = app.shop(100).await;
    let customer = app.customer().await;
    let cart = app
        .post("/api/v1/carts", &customer, json!({ "currency": "EUR" }))
        .await
        .expect(201);
    let cart_path = format!("/api/v1/carts/{}", cart["id"].as_str().unwrap());
    let order = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    let order_path = format!("/api/v1/orders/{}", order["id"].as_str().unwrap());
    let sku = &shop.sku;
    let vendor = &shop.vendor_id;
    let cases = vec![
        Case {
            name: "vendor",
            method: Method::POST,
            path: "/api/v1/vendors".into(),
            token: &admin,
            body: json!({ "name": "Idem Outfitters" }),
            other: json!({ "name": "Other Outfitters" }),
            check: Some("/api/v1/vendors".into()),
        },
        Case {
            name: "location",
            method: Method::POST,
            path: format!("/api/v1/vendors/{vendor}/locations"),
            token: &shop.token,
            body: json!({ "code": "north", "name": "North depot", "priority": 2 }),
            other: json!({ "code": "south", "name": "South depot" }),
            check: Some(format!("/api/v1/vendors/{vendor}/locations")),
        },
        Case {
            name: "product",
            method: Method::POST,
            path: "/api/v1/products".into(),
            token: &shop.token,
            body: json!({ "vendor_id": vendor, "title": "Idem mug ☕",
                "variants": [{ "sku": format!("{sku}-MUG"), "prices": [{ "currency": "EUR", "amount": 900 }] }] }),
            other: json!({ "vendor_id": vendor, "title": "Idem cup",
                "variants": [{ "sku": format!("{sku}-CUP"), "prices": [{ "currency": "EUR", "amount": 700 }] }] }),
            check: Some(format!("/api/v1/products?vendor_id={vendor}")),
        },
        Case {
            name: "stock adjustment",
            method: Method::POST,
            path: format!("/api/v1/inventory/{sku}/adjustments"),
            token: &shop.token,
            body: json!({ "delta": 5, "reason": "receipt", "note": "pallet 7" }),
            other: json!({ "delta": 6, "reason": "receipt" }),
            check: Some(format!("/api/v1/inventory/{sku}")),
        },
        Case {
            name: "stock count",
            method: Method::PUT,
            path: format!("/api/v1/inventory/{sku}"),
            token: &shop.token,
            body: json!({ "on_hand": 120 }),
            other: json!({ "on_hand": 130 }),
            check: Some(format!("/api/v1/inventory/{sku}/adjustments")),
        },
        Case {
            name: "promotion",
            method: Method::POST,
            path: "/api/v1/promotions".into(),
            token: &admin,
            body: json!({ "code": "idem5", "name": "Five off", "percent": "5" }),
            other: json!({ "code": "idem6", "name": "Six off", "percent": "6" }),
            check: Some("/api/v1/pricing".into()),
        },
        Case {
            name: "tax rule",
            method: Method::POST,
            path: "/api/v1/tax-rules".into(),
            token: &admin,
            body: json!({ "country": "AT", "rate": "20", "mode": "inclusive", "name": "AT VAT" }),
            other: json!({ "country": "BE", "rate": "21", "mode": "inclusive", "name": "BE VAT" }),
            check: Some("/api/v1/pricing".into()),
        },
        Case {
            name: "shipping rate",
            method: Method::POST,
            path: "/api/v1/shipping-rates".into(),
            token: &admin,
            // Ships the test address's country (CH), so the orders below still have a rate.
            body: json!({ "name": "Alpine parcel", "countries": ["AT", "CH"], "price": { "amount": 600, "currency": "EUR" } }),
            other: json!({ "name": "BE parcel", "countries": ["BE"], "price": { "amount": 700, "currency": "EUR" } }),
            check: Some("/api/v1/pricing".into()),
        },
        Case {
            name: "fx rate",
            method: Method::PUT,
            path: "/api/v1/fx-rates".into(),
            token: &admin,
            body: json!({ "from": "EUR", "to": "CHF", "rate": "0.94" }),
            other: json!({ "from": "EUR", "to": "CHF", "rate": "0.95" }),
            check: Some("/api/v1/pricing".into()),
        },
        Case {
            name: "user",
            method: Method::POST,
            path: "/api/v1/users".into(),
            token: &admin,
            body: json!({ "email": "idem@test.example", "password": "a long password", "role": "support" }),
            other: json!({ "email": "idem2@test.example", "password": "a long password", "role": "support" }),
            check: None,
        },
        Case {
            name: "cart",
            method: Method::POST,
            path: "/api/v1/carts".into(),
            token: &customer,
            body: json!({ "currency": "EUR", "lines": [{ "sku": sku, "quantity": 1 }] }),
            other: json!({ "currency": "EUR", "lines": [{ "sku": sku, "quantity": 2 }] }),
            check: Some(cart_path.clone()),
        },
        Case {
            name: "cart line",
            method: Method::POST,
            path: format!("{cart_path}/lines"),
            token: &customer,
            body: json!({ "sku": sku, "quantity": 2 }),
            other: json!({ "sku": sku, "quantity": 3 }),
            check: Some(cart_path.clone()),
        },
        Case {
            name: "order",
            method: Method::POST,
            path: "/api/v1/orders".into(),
            token: &customer,
            body: order_body(sku, 1),
            other: order_body(sku, 2),
            check: Some("/api/v1/orders?limit=100".into()),
        },
        Case {
            name: "order action",
            method: Method::POST,
            path: format!("{order_path}/actions/cancel"),
            token: &customer,
            body: json!({ "reason": "changed my mind" }),
            other: json!({ "reason": "found it cheaper" }),
            check: Some(format!("{order_path}/events")),
        },
        Case {
            name: "checkout",
            method: Method::POST,
            path: format!("{cart_path}/checkout"),
            token: &customer,
            body: json!({ "shipping_address": address() }),
            other: json!({}),
            check: Some("/api/v1/orders?limit=100".into()),
        },
    ];
    for case in cases {
        let name = case.name;
        let key = uuid::Uuid::now_v7().to_string();
        let call = |body: String| {
            app.call(
                case.method.clone(),
                &case.path,
                Auth::Bearer(case.token),
                Some(&key),
                Some(body),
            )
        };
        let first = call(case.body.to_string()).await;
        assert!(
            first.status.is_success(),
            "{name}: {} {}",
            first.status,
            first.body
        );
        assert_eq!(first.headers["idempotent-replayed"], "false", "{name}");
        let before = match &case.check {
            Some(path) => app.get(path, case.token).await.expect(200),
            None => Value::Null,
        };
        let replay = call(reversed(&case.body)).await;
        assert_eq!(replay.status, first.status, "{name}: {}", replay.body);
        assert_eq!(
            replay.body, first.body,
            "{name}: a replay answers what the first did"
        );
        assert_eq!(replay.headers["idempotent-replayed"], "true", "{name}");
        if let Some(path) = &case.check {
            assert_eq!(
                app.get(path, case.token).await.expect(200),
                before,
                "{name}: a replay changes nothing"
            );
        }
        let err = call(case.other.to_string())
            .await
            .expect_error(409, "idempotency_key_reused");
        assert_eq!(err["field"], "Idempotency-Key", "{name}");
    }
    // The same key on another endpoint is another request too.
    let key = uuid::Uuid::now_v7().to_string();
    app.call(
        Method::POST,
        "/api/v1/vendors",
        Auth::Bearer(&admin),
        Some(&key),
        Some(json!({ "name": "Keyed once" }).to_string()),
    )
    .await
    .expect(201);
    app.call(
        Method::POST,
        "/api/v1/tax-rules",
        Auth::Bearer(&admin),
        Some(&key),
        Some(
            json!({ "country": "NL", "rate": "21", "mode": "inclusive", "name": "NL VAT" })
                .to_string(),
        ),
    )
    .await
    .expect_error(409, "idempotency_key_reused");
    // Another caller's key of the same name is theirs alone.
    let (_, other_admin) = app.user("admin", None).await;
    app.call(
        Method::POST,
        "/api/v1/vendors",
        Auth::Bearer(&other_admin),
        Some(&key),
        Some(json!({ "name": "Keyed twice" }).to_string()),
    )
    .await
    .expect(201);
}

async fn a_guest_retrying_a_cart_gets_it_once_with_a_fresh_token(app: TestApp) {
    let shop = app.shop(5).await;
    let key = uuid::Uuid::now_v7().to_string();
    let body = json!({ "currency": "EUR", "lines": [{ "sku": shop.sku, "quantity": 1 }] });
    let first = app
        .call(
            Method::POST,
            "/api/v1/carts",
            Auth::Guest,
            Some(&key),
            Some(body.to_string()),
        )
        .await
        .expect(201);
    let again = app
        .call(
            Method::POST,
            "/api/v1/carts",
            Auth::Guest,
            Some(&key),
            Some(reversed(&body)),
        )
        .await;
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let again = again.expect(201);
    assert_eq!(again["id"], first["id"], "one cart, not two");
    // The first answer never reached the guest (that is why they retried): the cart has a new
    // token, and the lost one no longer opens it.
    let (old, new) = (
        first["cart_token"].as_str().unwrap(),
        again["cart_token"].as_str().unwrap(),
    );
    assert_ne!(old, new);
    let path = format!("/api/v1/carts/{}", first["id"].as_str().unwrap());
    app.call(Method::GET, &path, Auth::CartToken(new), None, None)
        .await
        .expect(200);
    assert_eq!(
        app.call(Method::GET, &path, Auth::CartToken(old), None, None)
            .await
            .status
            .as_u16(),
        404
    );
    // Keys of a guest holding a cart token are that cart's: adding a line once.
    let line_key = uuid::Uuid::now_v7().to_string();
    for _ in 0..2 {
        app.call(
            Method::POST,
            &format!("{path}/lines"),
            Auth::CartToken(new),
            Some(&line_key),
            Some(json!({ "sku": shop.sku, "quantity": 2 }).to_string()),
        )
        .await
        .expect(200);
    }
    let cart = app
        .call(Method::GET, &path, Auth::CartToken(new), None, None)
        .await
        .expect(200);
    assert_eq!(cart["lines"][0]["quantity"], 3, "{cart}");
}

async fn keys_are_kept_for_a_day_then_forgotten(app: TestApp) {
    let admin = app.admin().to_owned();
    let key = uuid::Uuid::now_v7().to_string();
    let vendor = |name: &str| {
        app.call(
            Method::POST,
            "/api/v1/vendors",
            Auth::Bearer(&admin),
            Some(&key),
            Some(json!({ "name": name }).to_string()),
        )
    };
    vendor("Kept a day").await.expect(201);
    app.advance(chrono::Duration::hours(23));
    app.run_jobs().await;
    vendor("Another name")
        .await
        .expect_error(409, "idempotency_key_reused");
    app.advance(chrono::Duration::hours(2));
    app.run_jobs().await;
    assert_eq!(app.count("SELECT COUNT(*) FROM idempotency_keys").await, 0);
    // Forgotten: the key is free for a new request.
    let fresh = vendor("Another name").await;
    assert_eq!(fresh.headers["idempotent-replayed"], "false");
    fresh.expect(201);
}

async fn a_bad_key_is_refused_and_changes_nothing(app: TestApp) {
    let admin = app.admin().to_owned();
    let before = app.get("/api/v1/vendors", &admin).await.expect(200);
    for bad in ["", "has space", &"k".repeat(256)] {
        let err = app
            .call(
                Method::POST,
                "/api/v1/vendors",
                Auth::Bearer(&admin),
                Some(bad),
                Some(json!({ "name": "Never made" }).to_string()),
            )
            .await
            .expect_error(400, "invalid_idempotency_key");
        assert_eq!(err["field"], "Idempotency-Key");
    }
    assert_eq!(app.get("/api/v1/vendors", &admin).await.expect(200), before);
}
