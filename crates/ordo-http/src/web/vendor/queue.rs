//! The vendor's order queue: what needs the vendor first (paid and not yet accepted, accepted
//! and not yet shipped), then every order by status and payment status, a page at a time, with
//! counts that stop at "1,000+"; new orders appear live.

use super::*;

/// One part of the queue that needs the vendor.
pub struct Section {
    pub title: &'static str,
    pub count: String,
    pub orders: Vec<OrderRow>,
    pub more: Option<String>,
}

pub struct StatusChoice {
    pub value: &'static str,
    pub label: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "web/vendor/queue.html")]
struct Queue {
    page: Page,
    needs_action: Vec<Section>,
    all: Section,
    statuses: Vec<StatusChoice>,
    status: String,
    payments: Vec<StatusChoice>,
    payment: String,
    stream: String,
}

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    pub status: Option<String>,
    /// The payment status of the orders' shares (`authorized`: waiting to be captured).
    pub payment: Option<String>,
    pub after: Option<String>,
}

/// `GET /vendor`: the queue.
pub async fn queue(
    State(app): State<App>,
    visitor: Visitor,
    Flash(flash): Flash,
    Query(q): Query<QueueQuery>,
) -> Response {
    let actor = match vendor_only(&app, &visitor, "/vendor") {
        Ok(a) => a,
        Err(to) => return *to,
    };
    let page = Page::new(&app, &visitor, "Order queue").with_flash(flash);
    let status = q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse::<OrderStatus>().ok());
    let payment = q
        .payment
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|s| s.parse::<PaymentStatus>().ok());
    let section = |title: &'static str,
                   status: Option<OrderStatus>,
                   payment: Option<PaymentStatus>,
                   after: Option<String>| {
        let (app, page) = (&app, &page);
        async move {
            let (found, count) = tokio::try_join!(
                app.orders_filtered(
                    &actor,
                    status.map(|s| s.as_str()),
                    payment.map(|p| p.as_str()),
                    Some(PAGE),
                    after.as_deref()
                ),
                app.count_orders(&actor, status, payment, COUNT_CAP)
            )?;
            let orders: Vec<OrderRow> =
                found.orders.iter().map(|o| OrderRow::of(page, o)).collect();
            let more = found
                .has_more
                .then(|| orders.last().map(|o| o.id.clone()))
                .flatten();
            Ok::<_, AppError>(Section {
                title,
                count: capped(count),
                orders,
                more,
            })
        }
    };
    let loaded = tokio::try_join!(
        section(
            "Paid, waiting for you to accept",
            Some(OrderStatus::Paid),
            None,
            None
        ),
        section(
            "Accepted, waiting to ship",
            Some(OrderStatus::Processing),
            None,
            None
        ),
        section("All orders", status, payment, q.after.clone()),
    );
    let (paid, accepted, all) = match loaded {
        Ok(s) => s,
        Err(e) => return failure(&app, &visitor, e),
    };
    let head = app.feed_head().await.unwrap_or(0);
    let statuses = std::iter::once(StatusChoice {
        value: "",
        label: "Any status".into(),
        selected: status.is_none(),
    })
    .chain(
        [
            OrderStatus::PendingPayment,
            OrderStatus::Paid,
            OrderStatus::Processing,
            OrderStatus::Shipped,
            OrderStatus::Delivered,
            OrderStatus::Completed,
            OrderStatus::Cancelled,
        ]
        .into_iter()
        .map(|s| StatusChoice {
            value: s.as_str(),
            label: crate::web::Tag::order(s).text,
            selected: Some(s) == status,
        }),
    )
    .collect();
    let payments = std::iter::once(StatusChoice {
        value: "",
        label: "Any payment".into(),
        selected: payment.is_none(),
    })
    .chain(
        [
            PaymentStatus::Pending,
            PaymentStatus::Authorized,
            PaymentStatus::Paid,
            PaymentStatus::PartiallyPaid,
            PaymentStatus::PartiallyRefunded,
            PaymentStatus::Refunded,
            PaymentStatus::Voided,
            PaymentStatus::Failed,
            PaymentStatus::Expired,
        ]
        .into_iter()
        .map(|p| StatusChoice {
            value: p.as_str(),
            label: crate::web::Tag::payment(p).text,
            selected: Some(p) == payment,
        }),
    )
    .collect();
    render(&Queue {
        page,
        needs_action: vec![paid, accepted],
        all,
        statuses,
        status: status.map(|s| s.as_str().to_owned()).unwrap_or_default(),
        payments,
        payment: payment.map(|p| p.as_str().to_owned()).unwrap_or_default(),
        stream: format!("/api/v1/events?after={head}"),
    })
}
