//! The web UI over HTTP on both databases (the same pages in real Chromium, with axe and the
//! keyboard journeys, are `tests/browser.rs`): the storefront lists, searches and prices the
//! catalog; a shopper's cart follows them from guest to sign-in; the checkout keeps the address
//! exactly as typed; the session cookie is HttpOnly and SameSite, Secure behind TLS, renewed
//! at sign-in and revoked at sign-out; forms from other sites change nothing; the cookie reads
//! the API (a browser's live stream) but never changes anything there; the consoles show each
//! person only what is theirs; support finds a customer and resolves a stuck payment from the
//! exception queue only after confirming.

use std::collections::HashMap;

use serde_json::json;

use crate::harness::{Kind, PASSWORD, TestApp, on_both_backends, on_both_kinds};

on_both_backends!(
    the_storefront_lists_searches_and_prices_the_catalog,
    a_shopper_signs_in_checks_out_and_signs_out,
    forms_from_other_sites_change_nothing,
    the_session_cookie_reads_the_api_but_never_writes_it,
    the_consoles_show_each_person_only_theirs,
    admins_manage_users_with_their_password_again,
    admins_change_pricing_rules_after_confirming,
);
on_both_kinds!(
    support_resolves_a_stuck_payment_after_confirming,
    vendors_manage_webhooks_from_their_console,
);

/// A browser as the server sees one: cookies kept, redirects not followed, forms posted from
/// the server's own origin (as a page of the shop would).
struct Browser {
    base: String,
    client: reqwest::Client,
    cookies: HashMap<String, String>,
}

struct Answer {
    status: u16,
    location: String,
    set_cookies: Vec<String>,
    html: String,
}

impl Browser {
    fn new(app: &TestApp) -> Self {
        Self {
            base: app.base.clone(),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: HashMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Answer {
        let res = req
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let set_cookies: Vec<String> = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        for c in &set_cookies {
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        Answer {
            status,
            location,
            set_cookies,
            html: res.text().await.unwrap(),
        }
    }

    async fn get(&mut self, path: &str) -> Answer {
        let req = self.client.get(format!("{}{path}", self.base));
        self.send(req).await
    }

    /// A form posted from one of the shop's pages.
    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let req = self
            .client
            .post(format!("{}{path}", self.base))
            .header("origin", &self.base)
            .form(form);
        self.send(req).await
    }

    fn session(&self) -> Option<&String> {
        self.cookies.get("ordo_session")
    }
}

/// A new user (made by the admin through the API), by e-mail address; password [`PASSWORD`].
async fn person(app: &TestApp, role: &str, vendor_id: Option<&str>) -> String {
    let email = format!("{role}-{}@test.example", uuid::Uuid::now_v7().simple());
    app.post(
        "/api/v1/users",
        app.admin(),
        json!({ "email": email, "password": PASSWORD, "role": role, "vendor_id": vendor_id }),
    )
    .await
    .expect(201);
    email
}

async fn the_storefront_lists_searches_and_prices_the_catalog(app: TestApp) {
    app.shop(10).await;
    let mut b = Browser::new(&app);
    let res = b.client.get(format!("{}/", app.base)).send().await.unwrap();
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(res.headers()["referrer-policy"], "same-origin");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let page = b.get("/").await;
    assert_eq!(page.status, 200);
    let html = page.html;
    assert!(html.contains(r#"<html lang="en">"#));
    assert!(html.contains(r##"<a class="skip" href="#main">Skip to main content</a>"##));
    assert!(html.contains(r#"<main id="main""#));
    assert_eq!(html.matches("<h1>").count(), 1, "one h1");
    assert!(html.contains("<h1>Products</h1>"));
    assert!(html.contains("Mug ☕"), "the catalog is listed");
    assert!(html.contains("€12.50"), "{html}");

    let found = b.get("/?q=mug&currency=USD").await.html;
    assert!(found.contains("Mug ☕"));
    assert!(found.contains("$13.00"), "{found}");
    assert!(found.contains(r#"<option value="USD" selected>"#));
    let none = b.get("/?q=%3Cscript%3E").await.html;
    assert!(none.contains("No products match"), "{none}");
    assert!(!none.contains("<script>"), "what people type is escaped");
    // Filters: a price range that excludes it, one that includes it, and a bad bound.
    assert!(b.get("/?min=20").await.html.contains("No products match"));
    assert!(b.get("/?min=12&max=12.50").await.html.contains("Mug ☕"));
    let bad = b.get("/?min=cheap").await.html;
    assert!(bad.contains("<title>Error: "), "{bad}");
    assert!(bad.contains(r##"<a href="#min">Enter the lowest price as a number"##));
    // A mistyped address: a page for a browser, the one error shape for everything else.
    let missing = b
        .client
        .get(format!("{}/no-such-page", app.base))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("<h1>Page not found</h1>")
    );
    let api = b.get("/api/v1/no-such-endpoint").await;
    assert_eq!(api.status, 404);
    assert!(api.html.contains("route_not_found"));
    // German readers get German money.
    let de = b
        .client
        .get(format!("{}/", app.base))
        .header("accept-language", "de-DE,de;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(de.contains("12,50\u{a0}€"), "{de}");
}

async fn a_shopper_signs_in_checks_out_and_signs_out(app: TestApp) {
    let shop = app.shop(10).await;
    let email = person(&app, "customer", None).await;
    let products = app.get("/api/v1/products", app.admin()).await.expect(200);
    let product = products["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["variants"][0]["sku"] == shop.sku.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // A guest's cart lives in a cookie.
    let mut b = Browser::new(&app);
    let bad = b
        .post(
            "/cart/lines",
            &[("product", &product), ("sku", &shop.sku), ("quantity", "0")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.html.contains("<title>Error: "));
    assert!(
        bad.html.contains(r##"<a href="#quantity">"##),
        "{}",
        bad.html
    );
    assert!(
        !b.cookies.contains_key("ordo_cart"),
        "a refused add makes no cart"
    );
    let added = b
        .post(
            "/cart/lines",
            &[("product", &product), ("sku", &shop.sku), ("quantity", "2")],
        )
        .await;
    assert_eq!((added.status, added.location.as_str()), (303, "/cart"));
    let cart_cookie = added
        .set_cookies
        .iter()
        .find(|c| c.starts_with("ordo_cart="))
        .unwrap();
    assert!(cart_cookie.contains("HttpOnly") && cart_cookie.contains("SameSite=Lax"));
    assert!(b.get("/cart").await.html.contains(r#"value="2""#));
    // A guest may check out with an e-mail address (guests.rs), or sign in first.
    let as_guest = b.get("/checkout").await;
    assert_eq!(as_guest.status, 200);
    assert!(as_guest.html.contains(r#"href="/sign-in?next=/checkout""#));

    let wrong = b
        .post(
            "/sign-in",
            &[("email", &email), ("password", "wrong password!")],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(
        wrong
            .html
            .contains("The e-mail address or password is wrong")
    );
    assert!(b.session().is_none());
    let signed = b
        .post(
            "/sign-in",
            &[
                ("email", &email),
                ("password", PASSWORD),
                ("next", "/checkout"),
            ],
        )
        .await;
    assert_eq!(
        (signed.status, signed.location.as_str()),
        (303, "/checkout")
    );
    let session = signed
        .set_cookies
        .iter()
        .find(|c| c.starts_with("ordo_session="))
        .unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(session.contains(attr), "{session}");
    }
    assert!(!session.contains("Secure"), "plain HTTP here: {session}");
    // The guest's cart is now the customer's.
    let token = b.session().unwrap().clone();
    let cart = b.get("/checkout").await;
    assert_eq!(cart.status, 200);
    assert!(cart.html.contains("Mug ☕"), "{}", cart.html);

    // The address form: every empty field said at once, then the exact Unicode kept.
    let empty = b.post("/checkout", &[("step", "address")]).await;
    assert_eq!(empty.status, 422);
    for id in ["name", "line1", "city", "postal_code", "country"] {
        assert!(
            empty
                .html
                .contains(&format!(r##"<a href="#shipping_address-{id}">"##)),
            "{id}"
        );
    }
    let name = "Zoë Ünal 🏠";
    let line1 = "東京都港区 1-2-3 🏢";
    let saved = b
        .post(
            "/checkout",
            &[
                ("step", "address"),
                ("name", name),
                ("line1", line1),
                ("city", "Zürich"),
                ("postal_code", "8001"),
                ("country", "CH"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303);
    let unchosen = b.post("/checkout", &[("step", "pay")]).await;
    assert_eq!(unchosen.status, 422);
    assert!(unchosen.html.contains("Choose how to pay"));
    let placed = b
        .post(
            "/checkout",
            &[("step", "pay"), ("payment_method", "sandbox_card_ok")],
        )
        .await;
    assert_eq!(placed.status, 303, "{}", placed.html);
    let order_path = placed.location.clone();
    assert!(order_path.starts_with("/account/orders/"), "{order_path}");
    let page = b.get(&order_path).await;
    assert!(
        page.html.contains("your order is placed"),
        "the flash says so"
    );
    assert!(page.html.contains(name) && page.html.contains(line1));
    assert!(
        page.html
            .contains(r#"<strong class="tag tag-act">paid</strong>"#),
        "paid by the sandbox card"
    );
    // The same order through the API, with the same session (a bearer token).
    let id = order_path.rsplit('/').next().unwrap();
    let order = app
        .get(&format!("/api/v1/orders/{id}"), &token)
        .await
        .expect(200);
    assert_eq!(order["shipping_address"]["name"], name);
    assert_eq!(order["items"][0]["quantity"], 2);

    // Signing in again renews the session and revokes the old one.
    let again = b
        .post("/sign-in", &[("email", &email), ("password", PASSWORD)])
        .await;
    assert_eq!(again.status, 303);
    let renewed = b.session().unwrap().clone();
    assert_ne!(renewed, token);
    app.get("/api/v1/orders", &token).await.expect(401);
    // Signing out revokes the session, not only the cookie.
    let out = b.post("/sign-out", &[]).await;
    assert_eq!(out.status, 303);
    assert!(b.session().is_none());
    app.get("/api/v1/orders", &renewed).await.expect(401);
    assert_eq!(b.get("/account").await.location, "/sign-in?next=/account");

    // Behind TLS the cookie is Secure.
    let secure = b
        .client
        .post(format!("{}/sign-in", app.base))
        .header("origin", &app.base)
        .header("x-forwarded-proto", "https")
        .form(&[("email", email.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = secure
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("ordo_session="))
        .unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");
}

async fn forms_from_other_sites_change_nothing(app: TestApp) {
    let shop = app.shop(10).await;
    let b = Browser::new(&app);
    let form = [
        ("product", "x"),
        ("sku", shop.sku.as_str()),
        ("quantity", "1"),
    ];
    let url = format!("{}/cart/lines", app.base);
    let cross_origin = b
        .client
        .post(&url)
        .header("origin", "http://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    let cross_site = b
        .client
        .post(&url)
        .header("sec-fetch-site", "cross-site")
        .header("origin", &app.base)
        .form(&form)
        .send()
        .await
        .unwrap();
    let neither = b.client.post(&url).form(&form).send().await.unwrap();
    for res in [cross_origin, cross_site, neither] {
        assert_eq!(res.status(), 403);
        assert!(
            res.headers().get("set-cookie").is_none(),
            "no cart was made"
        );
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("This form was not sent from this shop")
        );
    }
    // Sign-out is a form too: another site cannot sign people out.
    let same_site = b
        .client
        .post(&url)
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(same_site.status(), 303, "a page of the shop may");
    assert_eq!(
        app.count("SELECT count(*) FROM carts").await,
        1,
        "only the same-origin post made a cart"
    );
}

async fn the_session_cookie_reads_the_api_but_never_writes_it(app: TestApp) {
    let customer = app.customer().await;
    let shop = app.shop(10).await;
    let placed = app.order(&customer, &shop.sku, 1, None).await.expect(201);
    let id = placed["id"].as_str().unwrap();
    let cookie = format!("ordo_session={customer}");
    let read = app
        .client
        .get(format!("{}/api/v1/orders/{id}", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200, "a page's script reads with the cookie");
    let write = app
        .client
        .post(format!("{}/api/v1/orders/{id}/actions/cancel", app.base))
        .header("cookie", &cookie)
        .header("origin", &app.base)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 401, "a cookie never authorizes a change");
    let order = app
        .get(&format!("/api/v1/orders/{id}"), &customer)
        .await
        .expect(200);
    assert_eq!(order["status"], "pending_payment");
}

async fn the_consoles_show_each_person_only_theirs(app: TestApp) {
    let mine = app.shop(10).await;
    let theirs = app.shop(10).await;
    let customer_email = person(&app, "customer", None).await;
    let customer = app.login(&customer_email, PASSWORD).await;
    let order = app.order(&customer, &theirs.sku, 1, None).await.expect(201);
    let id = order["id"].as_str().unwrap().to_owned();
    let mine_order = app.order(&customer, &mine.sku, 1, None).await.expect(201);
    let mine_id = mine_order["id"].as_str().unwrap().to_owned();

    // A vendor's console, signed in through its form.
    let vendor_email = person(&app, "vendor", Some(&mine.vendor_id)).await;
    let mut v = Browser::new(&app);
    let signed = v
        .post(
            "/sign-in",
            &[("email", &vendor_email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(signed.location, "/vendor");
    let queue = v.get("/vendor").await.html;
    assert!(
        queue.contains(&format!("/vendor/orders/{mine_id}")),
        "{queue}"
    );
    assert!(!queue.contains(&id), "another vendor's order is not listed");
    assert_eq!(v.get(&format!("/vendor/orders/{id}")).await.status, 404);
    // Unpaid: accepting is refused, and the page says why.
    let refused = v
        .post(&format!("/vendor/orders/{mine_id}/accept"), &[])
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.html.contains("There is a problem"),
        "{}",
        refused.html
    );
    let cancelled = v
        .post(
            &format!("/vendor/orders/{mine_id}/cancel"),
            &[("reason", "out of stock at the warehouse")],
        )
        .await;
    assert_eq!(cancelled.status, 303);
    let page = v.get(&format!("/vendor/orders/{mine_id}")).await.html;
    assert!(page.contains("out of stock at the warehouse"));
    assert!(page.contains("The order is cancelled."));

    // Products: a new one is in the shop at once; another vendor's SKU cannot be priced.
    let sku = format!("GIFT-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let made = v
        .post(
            "/vendor/products",
            &[("title", "Gift box 🎁"), ("sku0", &sku), ("price0", "9,99")],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.html);
    assert!(v.get("/").await.html.contains("Gift box 🎁"));
    assert!(v.get("/vendor/products").await.html.contains("€9.99"));
    let bad = v
        .post(
            "/vendor/products",
            &[("title", "Nope"), ("sku0", &sku), ("price0", "1")],
        )
        .await;
    assert_eq!(bad.status, 422, "a SKU is unique");
    // Several variants, priced in another currency; a row left empty is skipped, and an
    // error names the row it is about.
    let (small, large) = (format!("{sku}-S"), format!("{sku}-L"));
    let scarf_form = |large_price: &'static str| {
        vec![
            ("title", "Scarf 🧣".to_owned()),
            ("currency", "CHF".to_owned()),
            ("sku0", small.clone()),
            ("name0", "Small".to_owned()),
            ("price0", "19.90".to_owned()),
            ("sku2", large.clone()),
            ("name2", "Large".to_owned()),
            ("price2", large_price.to_owned()),
            ("threshold", "3".to_owned()),
        ]
    };
    let wrong = v
        .post("/vendor/products", &borrowed(&scarf_form("twenty")))
        .await;
    assert_eq!(wrong.status, 422);
    assert!(
        wrong
            .html
            .contains(r##"<a href="#variants-2-prices-0-amount">"##),
        "{}",
        wrong.html
    );
    assert!(
        wrong.html.contains(r#"value="Large""#),
        "what was typed is kept"
    );
    let scarf = v
        .post("/vendor/products", &borrowed(&scarf_form("24,50")))
        .await;
    assert_eq!(scarf.status, 303, "{}", scarf.html);
    let products = app
        .get(
            &format!("/api/v1/products?vendor_id={}", mine.vendor_id),
            &mine.token,
        )
        .await
        .expect(200);
    let scarf = products["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == "Scarf 🧣")
        .expect("the scarf")
        .clone();
    let variants = scarf["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    assert_eq!(variants[1]["sku"], large.as_str());
    assert_eq!(variants[1]["title"], "Large");
    assert_eq!(variants[1]["prices"][0]["amount"], 2450);
    assert_eq!(variants[1]["prices"][0]["currency"], "CHF");
    assert_eq!(variants[1]["low_stock_threshold"], 3);
    // A price in another currency on the price list.
    let usd = v
        .post(
            &format!("/vendor/products/{sku}"),
            &[("change", "price"), ("price", "11"), ("currency", "USD")],
        )
        .await;
    assert_eq!(usd.status, 303, "{}", usd.html);
    let listed = v.get("/vendor/products").await.html;
    assert!(listed.contains("€9.99, $11.00"), "{listed}");
    let not_mine = v
        .post(
            &format!("/vendor/products/{}", theirs.sku),
            &[("change", "price"), ("price", "1.00")],
        )
        .await;
    assert_eq!(not_mine.status, 422);
    assert!(not_mine.html.contains("There is a problem"));

    // A customer may not open the vendor console.
    let mut c = Browser::new(&app);
    c.post(
        "/sign-in",
        &[("email", &customer_email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(c.get("/vendor").await.status, 403);
    let orders = c.get("/account").await.html;
    assert!(orders.contains(&id) && orders.contains(&mine_id));
}

async fn support_resolves_a_stuck_payment_after_confirming(kind: Kind) {
    let settings = ordo_app::Settings {
        payments: ordo_app::payments::PaymentSettings {
            capture: ordo_app::payments::CapturePolicy::Manual,
            attempts: 1,
            ..Default::default()
        },
        ..ordo_app::Settings::default()
    };
    let Some(app) = TestApp::spawn_with(kind, settings).await else {
        return;
    };
    let shop = app.shop(10).await;
    let customer_email = person(&app, "customer", None).await;
    let customer = app.login(&customer_email, PASSWORD).await;
    // (Made before the clock moves: an admin's fresh sign-in lasts minutes.)
    let support_email = person(&app, "support", None).await;
    let order = app
        .order_paying(&customer, &shop.sku, 1, Some("sandbox_card_capture_fails"))
        .await
        .expect(201);
    let id = order["id"].as_str().unwrap().to_owned();
    app.post(
        &format!("/api/v1/orders/{id}/payments/capture"),
        &shop.token,
        json!({}),
    )
    .await
    .expect(200);
    app.advance(chrono::Duration::minutes(5));
    app.run_jobs().await;

    let mut s = Browser::new(&app);
    let signed = s
        .post(
            "/sign-in",
            &[("email", &support_email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(signed.location, "/support");
    let home = s.get("/support").await.html;
    let start = home
        .find("/support/exceptions/")
        .expect("the stuck payment is listed");
    let item = home[start..].split('"').next().unwrap().to_owned();
    assert!(home.contains("Payment capture failed"), "{home}");

    // Finding the customer by e-mail leads to their page and the order.
    let found = s.get(&format!("/support?q={customer_email}")).await;
    assert_eq!(found.status, 303);
    let theirs = s.get(&found.location).await.html;
    assert!(
        theirs.contains(&format!("/support/orders/{id}")),
        "{theirs}"
    );
    let missing = s.get("/support?q=nobody%40nowhere.example").await;
    assert_eq!(missing.status, 422);
    // By part of the name they ship to ("Zoë Ünal 🏠"), in any case: a list to pick from.
    let named = s.get("/support?q=%C3%BCNAL").await;
    assert_eq!(named.status, 200, "{}", named.html);
    let customer_page = found.location.clone();
    assert!(
        named
            .html
            .contains(&format!(r#"<a href="{customer_page}">Zoë Ünal 🏠</a>"#)),
        "{}",
        named.html
    );
    assert!(named.html.contains(&customer_email));
    let short = s.get("/support?q=z").await;
    assert_eq!(short.status, 422);
    assert!(
        short.html.contains("at least two letters"),
        "{}",
        short.html
    );

    // Mark as paid needs a note; then a confirmation page that changes nothing; then done.
    let resolve = format!("{item}/resolve");
    let no_note = s.post(&resolve, &[("resolution", "mark_paid")]).await;
    assert_eq!(no_note.status, 422);
    assert!(
        no_note.html.contains(r##"<a href="#note-mark_paid">"##),
        "{}",
        no_note.html
    );
    let asked = s
        .post(
            &resolve,
            &[("resolution", "mark_paid"), ("note", "transfer 4711")],
        )
        .await;
    assert_eq!(asked.status, 200);
    assert!(asked.html.contains("Are you sure?"));
    assert!(asked.html.contains("Yes, mark as paid"));
    let open = app
        .get("/api/v1/exceptions?status=open", app.admin())
        .await
        .expect(200);
    assert_eq!(
        open["data"].as_array().unwrap().len(),
        1,
        "nothing changed yet"
    );
    let done = s
        .post(
            &resolve,
            &[
                ("resolution", "mark_paid"),
                ("note", "transfer 4711"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!((done.status, done.location.as_str()), (303, item.as_str()));
    let page = s.get(&item).await.html;
    assert!(page.contains("The exception is resolved.") && page.contains("transfer 4711"));
    let payment = app
        .get(&format!("/api/v1/orders/{id}/payments"), app.admin())
        .await
        .expect(200)["data"][0]
        .clone();
    assert_eq!(payment["status"], "paid", "{payment}");
    // Resolving again is refused, and said so.
    let again = s
        .post(
            &resolve,
            &[("resolution", "dismiss"), ("note", "x"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(again.status, 422);
    assert!(again.html.contains("resolved already"));

    // Internal notes: written by support, read by staff, never shown to the customer.
    let order_page = format!("/support/orders/{id}");
    let empty = s
        .post(&format!("{order_page}/note"), &[("note", "  ")])
        .await;
    assert_eq!(empty.status, 422);
    assert!(
        empty
            .html
            .contains(r##"<a href="#note">write the note</a>"##),
        "{}",
        empty.html
    );
    let noted = s
        .post(
            &format!("{order_page}/note"),
            &[(
                "note",
                "Customer called: paid by transfer 4711.\nSecond line ✓",
            )],
        )
        .await;
    assert_eq!(noted.status, 303);
    let staff_view = s.get(&order_page).await.html;
    assert!(staff_view.contains("Customer called: paid by transfer 4711.\nSecond line ✓"));
    assert!(
        staff_view.contains(&support_email),
        "the note says who wrote it"
    );
    // The customer's page shows the newest notes on their orders, each leading to its order.
    let customer_view = s.get(&customer_page).await.html;
    assert!(customer_view.contains("Second line ✓"), "{customer_view}");
    assert!(customer_view.contains(&format!("/support/orders/{id}#notes")));

    // Customers do not get in, and never see the note.
    let mut c = Browser::new(&app);
    c.post(
        "/sign-in",
        &[("email", &customer_email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(c.get("/support").await.status, 403);
    let theirs = c.get(&format!("/account/orders/{id}")).await.html;
    assert!(!theirs.contains("transfer 4711"), "a note is staff only");
    let refused = c
        .post(&format!("{order_page}/note"), &[("note", "let me in")])
        .await;
    assert_eq!(refused.status, 403);
    let events = app.events(&customer, &id).await;
    assert!(
        !events.iter().any(|e| e.to_string().contains("4711")),
        "nor in the order's log"
    );
    // The note's event reaches the staff's feed only.
    app.app.relay_once().await.expect("relay");
    let feed = |token: String| {
        let app = &app;
        async move {
            app.get("/api/v1/events?after=0&limit=100", &token)
                .await
                .expect(200)["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["type"] == "order.note_added")
                .cloned()
                .collect::<Vec<_>>()
        }
    };
    let staff_feed = feed(app.admin().to_owned()).await;
    assert_eq!(staff_feed.len(), 1, "{staff_feed:?}");
    assert_eq!(staff_feed[0]["data"]["order_id"], id.as_str());
    assert!(
        staff_feed[0]["data"]["body"]
            .as_str()
            .unwrap()
            .contains("4711")
    );
    assert!(
        feed(customer.clone()).await.is_empty(),
        "not the customer's"
    );
    assert!(
        feed(shop.token.clone()).await.is_empty(),
        "not the vendor's"
    );
}

async fn admins_manage_users_with_their_password_again(app: TestApp) {
    let admin_email = person(&app, "admin", None).await;
    // (Made before the clock moves: the harness's admin session is fresh only for minutes.)
    let customer = person(&app, "customer", None).await;
    let mut a = Browser::new(&app);
    let signed = a
        .post(
            "/sign-in",
            &[("email", &admin_email), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(signed.location, "/admin");
    assert!(a.get("/admin").await.html.contains(&admin_email));
    // Move past the sign-in's fresh window: sensitive actions now ask for the password.
    app.advance(chrono::Duration::minutes(30));
    let email = format!("new-{}@test.example", uuid::Uuid::now_v7().simple());
    let form = |password: &'static str| {
        vec![
            ("email", email.clone()),
            ("new_password", "their first password".to_owned()),
            ("role", "support".to_owned()),
            ("password", password.to_owned()),
        ]
    };
    let asked = a.post("/admin/users", &borrowed(&form(""))).await;
    assert_eq!(asked.status, 422);
    assert!(
        asked
            .html
            .contains(r##"<a href="#password">This needs your password again"##),
        "{}",
        asked.html
    );
    let wrong = a
        .post("/admin/users", &borrowed(&form("not my password")))
        .await;
    assert_eq!(wrong.status, 422);
    let users_named = format!("SELECT count(*) FROM users WHERE email = '{email}'");
    assert_eq!(app.count(&users_named).await, 0, "nothing was created");
    let made = a.post("/admin/users", &borrowed(&form(PASSWORD))).await;
    assert_eq!(made.status, 303, "{}", made.html);
    let user_page = made.location.clone();
    assert!(user_page.starts_with("/admin/users/"));
    assert_eq!(app.count(&users_named).await, 1);
    // Disabled: their sign-in stops working.
    let disabled = a
        .post(&user_page, &[("change", "disable"), ("password", "")])
        .await;
    assert_eq!(disabled.status, 303, "fresh for a while after the step-up");
    assert!(a.get(&user_page).await.html.contains("disabled"));
    app.request(
        reqwest::Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({ "email": email, "password": "their first password" })),
    )
    .await
    .expect_error(401, "invalid_credentials");
    // Jobs and pricing pages answer; others may not open admin pages.
    assert_eq!(a.get("/admin/jobs").await.status, 200);
    assert_eq!(a.get("/admin/pricing").await.status, 200);
    let bad = a
        .post("/admin/pricing", &[("rules", "{ nope"), ("password", "")])
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.html.contains("not valid JSON"));
    let mut c = Browser::new(&app);
    c.post("/sign-in", &[("email", &customer), ("password", PASSWORD)])
        .await;
    assert_eq!(c.get("/admin").await.status, 403);
}

async fn admins_change_pricing_rules_after_confirming(app: TestApp) {
    let admin_email = person(&app, "admin", None).await;
    let customer = person(&app, "customer", None).await;
    let tax = app
        .post(
            "/api/v1/tax-rules",
            app.admin(),
            json!({ "country": "MT", "rate": "18", "mode": "inclusive", "name": "MT VAT ✓" }),
        )
        .await
        .expect(200);
    let promo = app
        .post(
            "/api/v1/promotions",
            app.admin(),
            json!({ "name": "Spring 🌷", "code": "SPRING", "percent": "10", "usage_limit": 5 }),
        )
        .await
        .expect(201);
    let book = || async { app.get("/api/v1/pricing", app.admin()).await.expect(200) };
    let mut a = Browser::new(&app);
    a.post(
        "/sign-in",
        &[("email", &admin_email), ("password", PASSWORD)],
    )
    .await;
    let page = a.get("/admin/pricing").await.html;
    assert!(
        page.contains("<td>MT VAT ✓</td>") && page.contains("<td>18 %</td>"),
        "{page}"
    );
    assert!(page.contains("<td>in the price</td>"));
    assert!(page.contains("<td>Spring 🌷</td>") && page.contains("<td>SPRING</td>"));
    assert!(page.contains("<td>0 of 5</td>") && page.contains("10 % off"));

    // Deleting the tax rule: a page that says what happens, and nothing changes yet.
    let delete = format!("/admin/pricing/tax/{}/delete", tax["id"].as_str().unwrap());
    let asked = a.post(&delete, &[]).await;
    assert_eq!(asked.status, 200);
    assert!(
        asked.html.contains("Delete the tax rule?")
            && asked.html.contains("Checkouts stop charging this tax")
    );
    assert_eq!(book().await["tax"].as_array().unwrap().len(), 1);
    // Past the sign-in's fresh window it needs the password; a wrong one changes nothing.
    app.advance(chrono::Duration::minutes(30));
    let no_password = a
        .post(&delete, &[("confirm", "yes"), ("password", "")])
        .await;
    assert_eq!(no_password.status, 422);
    assert!(
        no_password.html.contains(r##"<a href="#password">"##),
        "{}",
        no_password.html
    );
    let wrong = a
        .post(&delete, &[("confirm", "yes"), ("password", "not mine")])
        .await;
    assert_eq!(wrong.status, 422);
    assert_eq!(book().await["tax"].as_array().unwrap().len(), 1);
    let deleted = a
        .post(&delete, &[("confirm", "yes"), ("password", PASSWORD)])
        .await;
    assert_eq!(
        (deleted.status, deleted.location.as_str()),
        (303, "/admin/pricing")
    );
    assert!(book().await["tax"].as_array().unwrap().is_empty());
    let after = a.get("/admin/pricing").await.html;
    assert!(after.contains("The pricing rules are changed") && after.contains("No tax rules"));
    // Gone now: the same form finds nothing.
    assert_eq!(a.post(&delete, &[("confirm", "yes")]).await.status, 404);

    // The promotion off (fresh from the password just given), then on again.
    let promo_id = promo["id"].as_str().unwrap();
    let off = a
        .post(
            &format!("/admin/pricing/promotions/{promo_id}/off"),
            &[("confirm", "yes"), ("password", "")],
        )
        .await;
    assert_eq!(off.status, 303, "{}", off.html);
    assert_eq!(book().await["promotions"][0]["active"], false);
    assert!(a.get("/admin/pricing").await.html.contains("Switch on…"));
    let wrong_way = a
        .post(
            &format!("/admin/pricing/promotions/{promo_id}/off"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(
        wrong_way.status, 404,
        "it is off already: no such action on the page"
    );
    let on = a
        .post(
            &format!("/admin/pricing/promotions/{promo_id}/on"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(on.status, 303);
    assert_eq!(book().await["promotions"][0]["active"], true);

    // New rules from their forms: a wrong one says where and keeps what was typed.
    let bad_tax = a
        .post(
            "/admin/pricing/new/tax",
            &[
                ("name", "LU TVA"),
                ("country", "LU"),
                ("rate", "lots"),
                ("mode", "inclusive"),
            ],
        )
        .await;
    assert_eq!(bad_tax.status, 422);
    assert!(
        bad_tax.html.contains(r##"<a href="#tax-rate">"##),
        "{}",
        bad_tax.html
    );
    assert!(bad_tax.html.contains(r#"value="LU TVA""#) && bad_tax.html.contains("<details open>"));
    let tax = a
        .post(
            "/admin/pricing/new/tax",
            &[
                ("name", "LU TVA"),
                ("country", "lu"),
                ("rate", "17 %"),
                ("mode", "inclusive"),
                ("tax_class", "standard"),
            ],
        )
        .await;
    assert_eq!(tax.status, 303, "{}", tax.html);
    let rules = book().await;
    assert_eq!(rules["tax"][0]["country"], "LU");
    assert_eq!(rules["tax"][0]["rate"], "17");
    let bad_rate = a
        .post(
            "/admin/pricing/new/shipping",
            &[
                ("name", "LU parcel"),
                ("countries", "LU, BE"),
                ("price", "4,9O"),
                ("currency", "EUR"),
            ],
        )
        .await;
    assert_eq!(bad_rate.status, 422);
    assert!(
        bad_rate
            .html
            .contains(r##"<a href="#shipping-price-amount">"##)
    );
    let rate = a
        .post(
            "/admin/pricing/new/shipping",
            &[
                ("name", "LU parcel"),
                ("countries", "LU, BE"),
                ("price", "4,90"),
                ("currency", "EUR"),
                ("free_over", "50"),
            ],
        )
        .await;
    assert_eq!(rate.status, 303, "{}", rate.html);
    let shipping = &book().await["shipping"][0];
    assert_eq!(shipping["countries"], json!(["LU", "BE"]));
    assert_eq!(shipping["price"]["amount"], 490);
    assert_eq!(shipping["free_over"]["amount"], 5000);
    let both = a
        .post(
            "/admin/pricing/new/promotion",
            &[
                ("name", "Autumn"),
                ("percent", "5"),
                ("amount", "3"),
                ("currency", "EUR"),
            ],
        )
        .await;
    assert_eq!(both.status, 422);
    assert_eq!(book().await["promotions"].as_array().unwrap().len(), 1);
    let autumn = a
        .post(
            "/admin/pricing/new/promotion",
            &[
                ("name", "Autumn 🍂"),
                ("code", "autumn"),
                ("amount", "3,50"),
                ("currency", "EUR"),
                ("usage_limit", "100"),
            ],
        )
        .await;
    assert_eq!(autumn.status, 303, "{}", autumn.html);
    let fx = a
        .post(
            "/admin/pricing/new/fx",
            &[
                ("from", "EUR"),
                ("to", "CHF"),
                ("rate", "0.95"),
                ("rounding", "half_even"),
            ],
        )
        .await;
    assert_eq!(fx.status, 303, "{}", fx.html);
    let page = a.get("/admin/pricing").await.html;
    assert!(page.contains("<td>LU parcel</td>") && page.contains("<td>Autumn 🍂</td>"));
    assert!(page.contains("<td>1 EUR = 0.95 CHF</td>") && page.contains("<td>half to even</td>"));
    assert_eq!(
        a.post("/admin/pricing/new/discounts", &[]).await.status,
        404
    );

    // Nobody else gets in.
    let mut c = Browser::new(&app);
    c.post("/sign-in", &[("email", &customer), ("password", PASSWORD)])
        .await;
    let made = c
        .post(
            "/admin/pricing/new/tax",
            &[
                ("name", "X"),
                ("country", "LU"),
                ("rate", "1"),
                ("mode", "inclusive"),
            ],
        )
        .await;
    assert_eq!(made.status, 403);
    let refused = c
        .post(
            &format!("/admin/pricing/promotions/{promo_id}/off"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(book().await["promotions"][0]["active"], true);
}

/// A form of owned values, as `Browser::post` takes it.
fn borrowed<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn vendors_manage_webhooks_from_their_console(kind: Kind) {
    let settings = ordo_app::Settings {
        // The endpoint below is on this machine.
        allow_private_webhook_targets: true,
        ..ordo_app::Settings::default()
    };
    let Some(app) = TestApp::spawn_with(kind, settings).await else {
        return;
    };
    let shop = app.shop(10).await;
    let vendor_email = person(&app, "vendor", Some(&shop.vendor_id)).await;
    let mut v = Browser::new(&app);
    v.post(
        "/sign-in",
        &[("email", &vendor_email), ("password", PASSWORD)],
    )
    .await;
    assert!(
        v.get("/vendor/webhooks")
            .await
            .html
            .contains("No endpoints yet.")
    );
    let bad = v
        .post(
            "/vendor/webhooks",
            &[("url", "not a url"), ("events", "order.*")],
        )
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.html.contains(r##"<a href="#url">"##), "{}", bad.html);
    // Nothing listens there: the test message fails, and the page says so.
    let made = v
        .post(
            "/vendor/webhooks",
            &[
                ("url", "http://127.0.0.1:9/hook"),
                ("events", "order.*, stock.low"),
            ],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.html);
    assert!(made.html.contains("whsec_"), "the secret, shown once");
    let listed = v.get("/vendor/webhooks").await.html;
    assert!(!listed.contains("whsec_"), "and never again");
    let start = listed
        .find("/vendor/webhooks/")
        .expect("the endpoint is listed");
    let endpoint = listed[start..].split('"').next().unwrap().to_owned();
    assert!(listed.contains("order.*, stock.low"));
    let tested = v.post(&format!("{endpoint}/test"), &[]).await;
    assert_eq!(tested.status, 303);
    app.run_jobs().await;
    let page = v.get(&endpoint).await.html;
    assert!(page.contains("webhook.test"), "{page}");
    // Another vendor's staff cannot open it.
    let other = app.shop(10).await;
    let other_email = person(&app, "vendor", Some(&other.vendor_id)).await;
    let mut o = Browser::new(&app);
    o.post(
        "/sign-in",
        &[("email", &other_email), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(o.get(&endpoint).await.status, 404);
    for action in ["pause", "rotate", "delete"] {
        let refused = o
            .post(&format!("{endpoint}/{action}"), &[("confirm", "yes")])
            .await;
        assert_eq!(refused.status, 404, "{action}");
    }
    let refused = o
        .post(
            &endpoint,
            &[("url", "http://127.0.0.1:9/x"), ("events", "*")],
        )
        .await;
    assert_eq!(refused.status, 404);

    // Changing it: a bad URL keeps what was typed and says what is wrong; then a good change.
    let bad = v
        .post(
            &endpoint,
            &[("url", "ftp://nowhere"), ("events", "order.paid")],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.html);
    assert!(bad.html.contains(r##"<a href="#url">"##) && bad.html.contains("ftp://nowhere"));
    let changed = v
        .post(
            &endpoint,
            &[
                ("url", "http://127.0.0.1:9/hooks/ordo"),
                ("events", "order.paid\norder.shipped"),
                ("description", "ERP ✓"),
            ],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.html);
    let page = v.get(&endpoint).await.html;
    assert!(page.contains("The endpoint is changed."));
    assert!(
        page.contains("http://127.0.0.1:9/hooks/ordo")
            && page.contains("order.paid, order.shipped")
    );

    // Paused and resumed: the API sees the same endpoint.
    let id = endpoint.rsplit('/').next().unwrap();
    let api = format!("/api/v1/webhook-endpoints/{id}");
    assert_eq!(v.post(&format!("{endpoint}/pause"), &[]).await.status, 303);
    let paused = v.get(&endpoint).await.html;
    assert!(paused.contains("Deliveries are paused") && paused.contains("Resume deliveries"));
    assert_eq!(
        app.get(&api, &shop.token).await.expect(200)["disabled"],
        true
    );
    assert_eq!(v.post(&format!("{endpoint}/resume"), &[]).await.status, 303);
    assert_eq!(
        app.get(&api, &shop.token).await.expect(200)["disabled"],
        false
    );

    // A new secret, shown once, different from the first.
    let rotated = v.post(&format!("{endpoint}/rotate"), &[]).await;
    assert_eq!(rotated.status, 200);
    let secret = |html: &str| {
        let at = html.find("whsec_").expect("a secret");
        html[at..].split('<').next().unwrap().to_owned()
    };
    assert_ne!(secret(&rotated.html), secret(&made.html));
    assert!(!v.get(&endpoint).await.html.contains("whsec_"));

    // Deleting asks first, and changes nothing until confirmed.
    let asked = v.post(&format!("{endpoint}/delete"), &[]).await;
    assert_eq!(asked.status, 200);
    assert!(
        asked.html.contains("Delete this endpoint?")
            && asked.html.contains("Yes, delete the endpoint")
    );
    app.get(&api, &shop.token).await.expect(200);
    let deleted = v
        .post(&format!("{endpoint}/delete"), &[("confirm", "yes")])
        .await;
    assert_eq!(
        (deleted.status, deleted.location.as_str()),
        (303, "/vendor/webhooks")
    );
    assert!(
        v.get("/vendor/webhooks")
            .await
            .html
            .contains("No endpoints yet.")
    );
    assert_eq!(app.get(&api, &shop.token).await.status.as_u16(), 404);
    assert_eq!(v.post(&format!("{endpoint}/launch"), &[]).await.status, 404);
}
