//! The web UI, over HTTP on both databases (the browser tests come with the pages' forms): the
//! storefront lists the catalog as HTML for anyone, searches it, and shows prices in the
//! chosen currency, in one accessible layout (language, skip link, main landmark, one `h1`).

use crate::harness::{TestApp, on_both_backends};

on_both_backends!(the_storefront_lists_searches_and_prices_the_catalog,);

async fn page(app: &TestApp, path: &str) -> (u16, String, String) {
    let res = app
        .client
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    (status, kind, res.text().await.unwrap())
}

async fn the_storefront_lists_searches_and_prices_the_catalog(app: TestApp) {
    app.shop(10).await;
    let (status, kind, html) = page(&app, "/").await;
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/html"), "{kind}");
    assert!(html.contains(r#"<html lang="en">"#));
    assert!(html.contains(r##"<a class="skip" href="#main">Skip to main content</a>"##));
    assert!(html.contains(r#"<main id="main""#));
    assert_eq!(html.matches("<h1>").count(), 1, "one h1");
    assert!(html.contains("<h1>Products</h1>"));
    assert!(html.contains("Mug ☕"), "the catalog is listed");
    assert!(html.contains("€12.50"), "{html}");

    let (_, _, found) = page(&app, "/?q=mug&currency=USD").await;
    assert!(found.contains("Mug ☕"));
    assert!(found.contains("$13.00"), "{found}");
    assert!(found.contains(r#"<option value="USD" selected>"#));
    let (_, _, none) = page(&app, "/?q=%3Cscript%3E").await;
    assert!(none.contains("No products match"), "{none}");
    assert!(!none.contains("<script>"), "what people type is escaped");
}
