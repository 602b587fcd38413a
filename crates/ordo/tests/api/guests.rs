//! Guest checkout through the API, on both databases: a guest's cart (its `Cart-Token`) checks
//! out with an e-mail address and pays; the orders belong to that address's guest account (the
//! same one next time) and open by the answer's unguessable `track_url`; an address with a real
//! account, a missing address or a wrong link places or shows nothing; registering with the
//! address claims the orders only with one of its links. From its link a guest cancels an
//! unpaid order, never a paid one.

use serde_json::{Value, json};

use crate::harness::{PASSWORD, TestApp, on_both_backends};

on_both_backends!(
    a_guest_checks_out_pays_and_follows_the_order_by_its_link,
    registering_claims_guest_orders_only_with_their_link,
);

async fn check_out(app: &TestApp, cart: &str, token: &str, body: Value) -> crate::harness::Res {
    app.cart_call(
        reqwest::Method::POST,
        &format!("/api/v1/carts/{cart}/checkout"),
        None,
        Some(token),
        Some(body),
    )
    .await
}

async fn a_guest_checks_out_pays_and_follows_the_order_by_its_link(app: TestApp) {
    let shop = app.shop(10).await;
    let email = format!("guest-{}@example.com", uuid::Uuid::now_v7().simple());

    // No address: refused, nothing placed.
    let (cart, token) = app.guest_cart(&shop.sku, 2).await;
    check_out(
        &app,
        &cart,
        &token,
        json!({ "payment_method": "sandbox_card_ok" }),
    )
    .await
    .expect_error(400, "email_required");
    check_out(&app, &cart, &token, json!({ "email": "not an address" }))
        .await
        .expect_error(400, "invalid_email");
    // An address with a real account: its owner signs in.
    let existing = format!("customer-{}@example.com", uuid::Uuid::now_v7().simple());
    app.post(
        "/api/v1/users",
        app.admin(),
        json!({ "email": existing, "password": PASSWORD, "role": "customer" }),
    )
    .await
    .expect(201);
    check_out(&app, &cart, &token, json!({ "email": existing }))
        .await
        .expect_error(409, "email_has_account");
    assert_eq!(app.stock(&shop).await, (10, 0, 10), "nothing was reserved");

    // The guest's checkout: paid with the sandbox's card, a link to follow it.
    let done = check_out(
        &app,
        &cart,
        &token,
        json!({ "email": email, "payment_method": "sandbox_card_ok" }),
    )
    .await
    .expect(201);
    let order = &done["orders"][0];
    assert_eq!(order["status"], "paid");
    assert_eq!(done["payment"]["status"], "paid");
    let track = done["track_url"].as_str().unwrap().to_owned();
    assert!(
        track.starts_with("/track/ordo_track_") && track.len() > 70,
        "{track}"
    );
    let guest_id = order["customer_id"].as_str().unwrap().to_owned();
    // The cart is spent: checking it out again places nothing.
    check_out(&app, &cart, &token, json!({ "email": email }))
        .await
        .expect_error(409, "cart_closed");

    // The link opens the order's page; a wrong one opens nothing.
    let page = app
        .client
        .get(format!("{}{track}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200, "redirected to the order's page");
    assert!(page.url().path().ends_with(order["id"].as_str().unwrap()));
    let html = page.text().await.unwrap();
    assert!(html.contains("Zoë Ünal 🏠"), "the address as typed");
    assert!(html.contains("tag-act\">paid<"), "{html}");
    let forged = app
        .client
        .get(format!("{}/track/ordo_track_0000", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 404);

    // A second guest checkout with the same address joins the same guest account.
    let (cart2, token2) = app.guest_cart(&shop.sku, 1).await;
    let again = check_out(
        &app,
        &cart2,
        &token2,
        json!({ "email": email.to_uppercase() }),
    )
    .await
    .expect(201);
    assert_eq!(again["orders"][0]["customer_id"], guest_id.as_str());
    assert_ne!(
        again["track_url"], done["track_url"],
        "one link per checkout"
    );

    // From its link the guest cancels the unpaid order (its stock goes back at once); the paid
    // one needs an account's password, and the link alone cancels nothing.
    let forms = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cancel = |track: &str, order: &str| {
        let url = format!("{}{track}/orders/{order}/cancel", app.base);
        forms
            .post(url)
            .header("origin", &app.base)
            .form(&[("reason", "ordered twice")])
            .send()
    };
    let unpaid = again["orders"][0]["id"].as_str().unwrap();
    let unpaid_track = again["track_url"].as_str().unwrap();
    let app_ref = &app;
    let page = |path: String| async move {
        let res = app_ref
            .client
            .get(format!("{}{path}", app_ref.base))
            .send()
            .await;
        res.unwrap().text().await.unwrap()
    };
    let html = page(format!("{unpaid_track}/orders/{unpaid}")).await;
    assert!(html.contains("Cancel order"), "{html}");
    assert_eq!(app.stock(&shop).await.1, 1, "the unpaid order holds one");
    // Another checkout's link does not reach it.
    assert_eq!(cancel(&track, unpaid).await.unwrap().status(), 404);
    let res = cancel(unpaid_track, unpaid).await.unwrap();
    assert_eq!(res.status(), 303);
    let cancelled = app
        .get(&format!("/api/v1/orders/{unpaid}"), app.admin())
        .await
        .expect(200);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancel_reason"], "ordered twice");
    assert_eq!(app.stock(&shop).await.1, 0, "its stock is back");
    let paid = order["id"].as_str().unwrap();
    let paid_page = page(format!("{track}/orders/{paid}")).await;
    assert!(paid_page.contains("needs an account"), "{paid_page}");
    assert!(!paid_page.contains("Cancel order<"));
    let refused = cancel(&track, paid).await.unwrap();
    assert_eq!(refused.status(), 422);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("create an account to cancel it")
    );
    let still = app
        .get(&format!("/api/v1/orders/{paid}"), app.admin())
        .await
        .expect(200);
    assert_eq!(still["status"], "paid");
    // A guest account cannot sign in: it has no password until it is claimed.
    app.request(
        reqwest::Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "email": email, "password": PASSWORD })),
    )
    .await
    .expect_error(401, "invalid_credentials");
}

async fn registering_claims_guest_orders_only_with_their_link(app: TestApp) {
    let shop = app.shop(10).await;
    let email = format!("guest-{}@example.com", uuid::Uuid::now_v7().simple());
    let (cart, token) = app.guest_cart(&shop.sku, 1).await;
    let done = check_out(&app, &cart, &token, json!({ "email": email }))
        .await
        .expect(201);
    let link = done["track_url"]
        .as_str()
        .unwrap()
        .trim_start_matches("/track/")
        .to_owned();
    let register = |link: String| {
        let (base, email) = (app.base.clone(), email.clone());
        async move {
            let form = [
                ("email", email.as_str()),
                ("password", PASSWORD),
                ("confirm", PASSWORD),
                ("link", link.as_str()),
            ];
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap()
                .post(format!("{base}/register"))
                .header("origin", &base)
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    // The address alone proves nothing.
    let refused = register(String::new()).await;
    assert_eq!(refused.status(), 422);
    assert!(refused.text().await.unwrap().contains("placed as a guest"));
    let claimed = register(link.clone()).await;
    assert_eq!(claimed.status(), 303);
    assert_eq!(claimed.headers()["location"], "/account");
    // Now an ordinary customer: signs in, and the guest order is theirs.
    let customer = app.login(&email, PASSWORD).await;
    let orders = app.get("/api/v1/orders", &customer).await.expect(200);
    assert_eq!(orders["data"][0]["id"], done["orders"][0]["id"]);
    // Claimed once: the address now has an account, for registration and for guest checkout.
    let again = register(link).await;
    assert_eq!(again.status(), 422);
    let (cart2, token2) = app.guest_cart(&shop.sku, 1).await;
    check_out(&app, &cart2, &token2, json!({ "email": email }))
        .await
        .expect_error(409, "email_has_account");
}
