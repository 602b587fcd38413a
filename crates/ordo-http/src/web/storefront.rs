//! The storefront: the product list with text search and prices in the chosen currency.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use ordo_app::App;
use ordo_domain::money::{Currency, Money};
use serde::Deserialize;

use super::{Page, render};

/// Products the storefront lists at most (search narrows them).
const SHOWN: u32 = 200;

#[derive(Deserialize, Default)]
pub struct Search {
    pub q: Option<String>,
    pub currency: Option<String>,
}

/// One product as the list shows it.
pub struct Card {
    pub title: String,
    /// Its lowest price in the chosen currency, formatted for the reader.
    pub price: Option<String>,
    /// More than one price: "from".
    pub from: bool,
    pub variants: usize,
}

#[derive(Template)]
#[template(path = "web/storefront/index.html")]
struct Index {
    page: Page,
    q: String,
    currency: String,
    currencies: Vec<String>,
    products: Vec<Card>,
}

/// `GET /`: every product (up to 200), or those whose title holds the search words.
pub async fn index(State(app): State<App>, Query(s): Query<Search>) -> Response {
    let q = s.q.unwrap_or_default().trim().to_owned();
    let currency = s
        .currency
        .as_deref()
        .and_then(|c| Currency::parse(c).ok())
        .unwrap_or_else(|| Currency::parse("EUR").expect("EUR"));
    let products = match app.products(None, SHOWN).await {
        Ok(p) => p,
        Err(e) => {
            tracing::error!(error = %e, "the storefront could not read the catalog");
            Vec::new()
        }
    };
    let words: Vec<String> = q
        .to_lowercase()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let products = products
        .into_iter()
        .filter(|p| {
            let title = p.title.as_str().to_lowercase();
            words.iter().all(|w| title.contains(w.as_str()))
        })
        .map(|p| {
            let prices: Vec<i64> = p
                .variants
                .iter()
                .flat_map(|v| v.prices.iter())
                .filter(|m| m.currency == currency)
                .map(|m| m.amount)
                .collect();
            let lowest = prices.iter().min().copied();
            Card {
                title: p.title.as_str().to_owned(),
                price: lowest.map(|amount| Money { amount, currency }.format_for("en")),
                from: prices.iter().any(|a| Some(*a) != lowest),
                variants: p.variants.len(),
            }
        })
        .collect();
    let title = if q.is_empty() {
        "Products".to_owned()
    } else {
        format!("Products matching “{q}”")
    };
    render(&Index {
        page: Page::new(&app, title),
        q,
        currency: currency.code().to_owned(),
        currencies: ["EUR", "USD", "GBP", "JPY", "CHF"]
            .map(str::to_owned)
            .to_vec(),
        products,
    })
}
