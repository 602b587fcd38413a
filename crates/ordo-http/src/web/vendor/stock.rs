//! A vendor's stock per SKU and location, its adjustments (who, why) and the low-stock list.

use super::*;

/// One location's stock of a SKU.
pub struct LevelRow {
    pub location: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

/// One recorded adjustment: who, why, what came of it.
pub struct AdjustmentRow {
    pub when: String,
    pub delta: String,
    pub reason: String,
    pub note: String,
    pub who: String,
    pub on_hand_after: i64,
}

#[derive(Template)]
#[template(path = "web/vendor/stock.html")]
struct StockPage {
    page: Page,
    errors: Errors,
    sku: String,
    low: Vec<(String, i64, i64)>,
    levels: Vec<LevelRow>,
    adjustments: Vec<AdjustmentRow>,
    /// What the adjustment form carried, shown again with its errors.
    typed: AdjustForm,
}

#[derive(Deserialize, Default)]
pub struct StockQuery {
    pub sku: Option<String>,
}

/// `GET /vendor/stock`: the low-stock list, and one SKU's stock per location with its
/// adjustments (`?sku=`).
pub async fn stock(
    State(app): State<App>,
    visitor: Visitor,
    Flash(flash): Flash,
    Query(q): Query<StockQuery>,
) -> Response {
    let sku = q.sku.unwrap_or_default().trim().to_owned();
    stock_page(
        &app,
        &visitor,
        &sku,
        AdjustForm::default(),
        Errors::default(),
        flash,
    )
    .await
}

async fn stock_page(
    app: &App,
    visitor: &Visitor,
    sku: &str,
    typed: AdjustForm,
    mut errors: Errors,
    flash: Option<String>,
) -> Response {
    let actor = match vendor_only(app, visitor, "/vendor/stock") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let low = match app.low_stock(&actor, actor.vendor_id).await {
        Ok(l) => l
            .into_iter()
            .map(|l| (l.sku.to_string(), l.available, l.threshold))
            .collect(),
        Err(_) => Vec::new(),
    };
    let page = Page::new(app, visitor, "Stock");
    let (mut levels, mut adjustments) = (Vec::new(), Vec::new());
    if !sku.is_empty() {
        match tokio::try_join!(app.stock(&actor, sku), app.stock_adjustments(&actor, sku)) {
            Ok((stock, adjusted)) => {
                levels = stock
                    .locations
                    .iter()
                    .map(|l| LevelRow {
                        location: l.code.to_string(),
                        on_hand: l.level.on_hand,
                        reserved: l.level.reserved,
                        available: l.level.on_hand - l.level.reserved,
                    })
                    .collect();
                adjustments = adjusted
                    .iter()
                    .map(|a| AdjustmentRow {
                        when: page.date(&a.at),
                        delta: format!("{:+}", a.delta),
                        reason: a.reason.as_str().to_owned(),
                        note: a.note.clone().unwrap_or_default(),
                        who: a.actor.role.to_string(),
                        on_hand_after: a.on_hand_after,
                    })
                    .collect();
            }
            Err(AppError::NotFound(_)) => {
                errors.push("sku", format!("You sell no SKU “{sku}”"));
            }
            Err(e) => return failure(app, visitor, e),
        }
    }
    let body = StockPage {
        page: page.with_errors(&errors).with_flash(flash),
        errors,
        sku: sku.to_owned(),
        low,
        levels,
        adjustments,
        typed,
    };
    render_form(&body, &body.errors)
}

#[derive(Deserialize, Default)]
pub struct AdjustForm {
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub delta: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub note: String,
}

/// `POST /vendor/stock/{sku}`: adjusts a SKU's units on hand at a location, saying why.
pub async fn adjust(
    State(app): State<App>,
    visitor: Visitor,
    Path(sku): Path<String>,
    Form(f): Form<AdjustForm>,
) -> Response {
    let actor = match vendor_only(&app, &visitor, "/vendor/stock") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let Ok(delta) = f.delta.trim().parse::<i64>() else {
        let errors = Errors::one(
            "delta",
            "Enter the change in units as a whole number: 5 adds five, -2 takes two away",
        );
        return stock_page(&app, &visitor, &sku, f, errors, None).await;
    };
    let input = ordo_app::inventory::AdjustStock {
        location: Some(f.location.trim().to_owned()).filter(|l| !l.is_empty()),
        delta,
        reason: f.reason.clone(),
        note: Some(f.note.trim().to_owned()).filter(|n| !n.is_empty()),
    };
    match app.adjust_stock(&actor, &sku, input).await {
        Ok(_) => see_other(
            &format!("/vendor/stock?sku={}", urlencoded(&sku)),
            Some("adjusted"),
        ),
        Err(e) => {
            let errors = Errors::of(e, "delta");
            stock_page(&app, &visitor, &sku, f, errors, None).await
        }
    }
}

/// A SKU made safe for a query string (SKUs are letters, digits and a few marks).
fn urlencoded(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.~".contains(c) {
                c.to_string()
            } else {
                format!("%{:02X}", c as u32)
            }
        })
        .collect()
}
