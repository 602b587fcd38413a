//! What support works with through the API, on both databases: customers found by a name they
//! ship to (the start of any word, any case, any script; each customer and name once; staff
//! only), and internal notes on orders (staff write and read them; customers, vendors and
//! carriers never; bad notes change nothing).

use serde_json::{Value, json};

use crate::harness::{TestApp, address, on_both_backends};

on_both_backends!(
    support_finds_customers_by_a_name_they_ship_to,
    staff_write_and_read_internal_notes_on_orders,
);

/// Places an order shipped to `name` for `token`'s customer.
async fn order_to(app: &TestApp, token: &str, sku: &str, name: &str) -> Value {
    let mut to = address();
    to["name"] = json!(name);
    app.post(
        "/api/v1/orders",
        token,
        json!({ "currency": "EUR", "items": [{ "sku": sku, "quantity": 1 }], "shipping_address": to }),
    )
    .await
    .expect(201)
}

/// The (customer id, name) pairs a search finds, in order.
async fn found(app: &TestApp, token: &str, q: &str) -> Vec<(String, String)> {
    app.get(&format!("/api/v1/customers?q={}", urlencode(q)), token)
        .await
        .expect(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["customer_id"].as_str().unwrap().to_owned(),
                c["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn urlencode(q: &str) -> String {
    let url = reqwest::Url::parse_with_params("http://x/", &[("q", q)]).unwrap();
    url.query().unwrap().trim_start_matches("q=").to_owned()
}

async fn support_finds_customers_by_a_name_they_ship_to(app: TestApp) {
    let shop = app.shop(20).await;
    let (juergen, juergen_token) = app.user("customer", None).await;
    let (anna, anna_token) = app.user("customer", None).await;
    order_to(&app, &juergen_token, &shop.sku, "Jürgen  Müller").await;
    // The same name twice is found once; a second name is found on its own.
    order_to(&app, &juergen_token, &shop.sku, "Jürgen  Müller").await;
    order_to(&app, &juergen_token, &shop.sku, "Büro Ünal").await;
    order_to(&app, &anna_token, &shop.sku, "Anna Müller-Lüdenscheidt").await;
    // A name with a repeated word matches once per customer and name.
    order_to(&app, &anna_token, &shop.sku, "Anna Anna").await;
    let (_, support) = app.user("support", None).await;

    let jm = (juergen.clone(), "Jürgen  Müller".to_owned());
    let amm = (anna.clone(), "Anna Müller-Lüdenscheidt".to_owned());
    assert_eq!(
        found(&app, &support, "müller").await,
        [jm.clone(), amm.clone()]
    );
    assert_eq!(
        found(&app, &support, "  MÜLL ").await,
        [jm.clone(), amm.clone()]
    );
    assert_eq!(found(&app, &support, "jürgen mü").await, [jm]);
    assert_eq!(
        found(&app, &support, "ünal").await,
        [(juergen.clone(), "Büro Ünal".to_owned())]
    );
    assert_eq!(
        found(&app, &support, "anna").await,
        [(anna.clone(), "Anna Anna".to_owned()), amm.clone()]
    );
    // Only the start of a word: the middle of one finds nothing.
    assert!(found(&app, &support, "üller").await.is_empty());
    assert_eq!(found(&app, app.admin(), "MÜLLER").await.len(), 2);
    let one = app
        .get("/api/v1/customers?q=m%C3%BCller&limit=1", &support)
        .await
        .expect(200);
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert!(one["data"][0]["email"].as_str().unwrap().contains('@'));

    // Too short, or missing: a clear error.
    app.get("/api/v1/customers?q=m", &support)
        .await
        .expect_error(400, "query_too_short");
    app.get("/api/v1/customers?q=%20%20", &support)
        .await
        .expect_error(400, "query_too_short");
    app.get("/api/v1/customers", &support)
        .await
        .expect_error(400, "query_too_short");
    // Staff only.
    app.get("/api/v1/customers?q=m%C3%BCller", &juergen_token)
        .await
        .expect_error(403, "forbidden");
    app.get("/api/v1/customers?q=m%C3%BCller", &shop.token)
        .await
        .expect_error(403, "forbidden");
}

async fn staff_write_and_read_internal_notes_on_orders(app: TestApp) {
    let shop = app.shop(5).await;
    let (_, customer) = app.user("customer", None).await;
    let order = order_to(&app, &customer, &shop.sku, "Zoë").await;
    let id = order["id"].as_str().unwrap();
    let notes = format!("/api/v1/orders/{id}/notes");
    let (support_id, support) = app.user("support", None).await;

    assert_eq!(
        app.get(&notes, &support).await.expect(200)["data"],
        json!([])
    );
    let note = app
        .post(
            &notes,
            &support,
            json!({ "body": "  Customer called: leave it with the neighbour.\nThanks ✓ " }),
        )
        .await
        .expect(201);
    assert_eq!(
        note["body"],
        "Customer called: leave it with the neighbour.\nThanks ✓"
    );
    assert_eq!(note["order_id"], id);
    assert_eq!(note["author"]["role"], "support");
    assert_eq!(note["author"]["user_id"], support_id.as_str());
    app.post(&notes, app.admin(), json!({ "body": "Refund agreed." }))
        .await
        .expect(201);
    let listed = app.get(&notes, app.admin()).await.expect(200)["data"].clone();
    let bodies: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        [
            "Customer called: leave it with the neighbour.\nThanks ✓",
            "Refund agreed."
        ],
        "oldest first"
    );

    // Bad notes are refused and change nothing.
    app.post(&notes, &support, json!({ "body": " \n " }))
        .await
        .expect_error(400, "note_required");
    app.post(&notes, &support, json!({ "body": "a\u{0}b" }))
        .await
        .expect_error(400, "invalid_note");
    app.post(&notes, &support, json!({ "body": "x".repeat(2_001) }))
        .await
        .expect_error(400, "invalid_note");
    app.post(&notes, &support, json!({ "text": "typo" }))
        .await
        .expect(400);
    app.post(
        &format!("/api/v1/orders/{}/notes", uuid::Uuid::now_v7()),
        &support,
        json!({ "body": "lost" }),
    )
    .await
    .expect_error(404, "not_found");
    assert_eq!(
        app.get(&notes, &support).await.expect(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The customer and the vendor of the order neither read nor write them.
    for token in [&customer, &shop.token] {
        app.get(&notes, token).await.expect_error(403, "forbidden");
        app.post(&notes, token, json!({ "body": "let me in" }))
            .await
            .expect_error(403, "forbidden");
    }
    let events = app.events(&customer, id).await;
    assert!(!events.iter().any(|e| e.to_string().contains("neighbour")));
}
