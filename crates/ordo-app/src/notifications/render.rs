//! Rendering a notification: the templates (built in, or the files of
//! `--notification-templates`), and what they see of an order and its money.

use super::*;

/// Templates built into Ordo, by name.
macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../../templates/notifications/", $name)))),*]
    };
}

pub(super) const EMBEDDED: &[(&str, &str)] = embedded![
    "en/layout.html",
    "en/items.txt",
    "en/items.html",
    "en/customer/order.placed.txt",
    "en/customer/order.placed.html",
    "en/customer/order.paid.txt",
    "en/customer/order.paid.html",
    "en/customer/order.shipped.txt",
    "en/customer/order.shipped.html",
    "en/customer/order.delivered.txt",
    "en/customer/order.delivered.html",
    "en/customer/order.cancelled.txt",
    "en/customer/order.cancelled.html",
    "en/customer/payment.refunded.txt",
    "en/customer/payment.refunded.html",
    "en/staff/order.placed.txt",
    "en/staff/order.placed.html",
    "en/staff/stock.low.txt",
    "en/staff/stock.low.html",
    "de/layout.html",
    "de/items.txt",
    "de/items.html",
    "de/customer/order.placed.txt",
    "de/customer/order.placed.html",
    "de/customer/order.paid.txt",
    "de/customer/order.paid.html",
    "de/customer/order.shipped.txt",
    "de/customer/order.shipped.html",
    "de/customer/order.delivered.txt",
    "de/customer/order.delivered.html",
    "de/customer/order.cancelled.txt",
    "de/customer/order.cancelled.html",
    "de/customer/payment.refunded.txt",
    "de/customer/payment.refunded.html",
    "de/staff/order.placed.txt",
    "de/staff/order.placed.html",
    "de/staff/stock.low.txt",
    "de/staff/stock.low.html",
];

/// A message, rendered.
pub(super) struct Rendered {
    pub(super) subject: String,
    pub(super) text: String,
    pub(super) html: String,
    /// For SMS and push.
    pub(super) short: String,
}

/// What a customer's or staff member's templates see.
#[derive(Serialize)]
pub(super) struct Context {
    pub(super) shop: String,
    pub(super) locale: String,
    /// The event's data, as the feed shows it.
    pub(super) event: serde_json::Value,
    pub(super) order: Option<OrderContext>,
}

#[derive(Serialize)]
pub(super) struct OrderContext {
    pub(super) id: String,
    /// Short, for subjects: the id's last 8 characters.
    pub(super) number: String,
    pub(super) status: String,
    pub(super) vendor: String,
    pub(super) items: Vec<ItemContext>,
    pub(super) subtotal: String,
    pub(super) total: String,
    pub(super) ship_to: ordo_domain::address::Address,
    pub(super) cancel_reason: Option<String>,
    pub(super) url: Option<String>,
    /// Where the order's money stands, for a cancellation or a refund to say what comes back.
    pub(super) money: MoneyContext,
}

/// An order's share of its payment, as its messages tell the customer (formatted; `None`
/// when nothing).
#[derive(Serialize, Default)]
pub(super) struct MoneyContext {
    /// Refunded, or on its way back, to the card (or account) paid with.
    pub(super) refund: Option<String>,
    /// Authorized, never taken, and released.
    pub(super) release: Option<String>,
    /// Paid outside any provider and not given back yet: people send it back by hand.
    pub(super) by_hand: Option<String>,
    /// Nothing was taken or held.
    pub(super) nothing: bool,
    /// What the event the message is about moved (`payment.refunded`: this refund).
    pub(super) moved: Option<String>,
    /// That money went back outside the provider (a bank transfer, cash): not to the card.
    pub(super) moved_by_hand: bool,
}

#[derive(Serialize)]
pub(super) struct ItemContext {
    pub(super) title: String,
    pub(super) sku: String,
    pub(super) quantity: u32,
    pub(super) total: String,
}

impl App {
    /// Renders a notification in its locale from the templates.
    pub(super) async fn render(&self, n: &Notification) -> AppResult<Rendered> {
        let order = match n.order_id {
            Some(id) => Some(
                self.order_context(id, &n.locale, &n.event_type, &n.data)
                    .await?,
            ),
            None => None,
        };
        let context = Context {
            shop: self.settings.notifications.shop_name.clone(),
            locale: n.locale.clone(),
            event: serde_json::from_str(&n.data).map_err(|e| AppError::Internal(e.into()))?,
            order,
        };
        let context = minijinja::Value::from(minijinja::value::Serde(&context));
        let env = self.templates()?;
        let who = if n.to_staff { "staff" } else { "customer" };
        let name = |ext: &str| format!("{}/{who}/{}.{ext}", n.locale, n.event_type);
        let failed = |e: minijinja::Error| AppError::Internal(anyhow::anyhow!("{e:#}"));
        let text = env.get_template(&name("txt")).map_err(failed)?;
        let mut captured = text.render_captured(context.clone()).map_err(failed)?;
        let (subject, short, body) = captured.with_state_mut(|state| {
            let mut block = |b: &str| state.render_block(b).map(|s| s.trim().to_owned());
            (block("subject"), block("short"), block("body"))
        });
        let html = env
            .get_template(&name("html"))
            .and_then(|t| t.render(context))
            .map_err(failed)?;
        Ok(Rendered {
            subject: subject.map_err(failed)?,
            text: body.map_err(failed)? + "\n",
            html,
            short: short.map_err(failed)?,
        })
    }

    pub(super) async fn order_context(
        &self,
        id: OrderId,
        locale: &str,
        event_type: &str,
        data: &str,
    ) -> AppResult<OrderContext> {
        let order = self
            .store
            .order(id)
            .await?
            .ok_or(AppError::NotFound("order"))?;
        let vendor = self
            .store
            .vendor(order.vendor_id)
            .await?
            .map(|v| v.name.to_string())
            .unwrap_or_default();
        let id = order.id.to_string();
        // A guest's messages link to the checkout's unguessable page; a customer's to the order.
        let path = match self.guest_link_of(&order).await? {
            Some(link) => format!("/track/{link}/orders/{id}"),
            None => format!("/orders/{id}"),
        };
        Ok(OrderContext {
            number: id[id.len() - 8..].to_uppercase(),
            url: self
                .settings
                .notifications
                .public_url
                .as_ref()
                .map(|base| format!("{}{path}", base.trim_end_matches('/'))),
            id,
            status: order.status().to_string(),
            vendor,
            items: order
                .lines
                .iter()
                .map(|l| ItemContext {
                    title: l.title.clone(),
                    sku: l.sku.to_string(),
                    quantity: l.quantity,
                    total: l.line_total.format_for(locale),
                })
                .collect(),
            subtotal: order.subtotal.format_for(locale),
            total: order.total.format_for(locale),
            ship_to: order.shipping_address,
            cancel_reason: order.cancel_reason,
            // Only the messages about money going back read the payment.
            money: if matches!(event_type, "order.cancelled" | "payment.refunded") {
                self.money_context(order.id, locale, data).await?
            } else {
                MoneyContext::default()
            },
        })
    }

    pub(super) async fn money_context(
        &self,
        order: OrderId,
        locale: &str,
        data: &str,
    ) -> AppResult<MoneyContext> {
        let Some(payment) = self.store.order_payment(order).await? else {
            return Ok(MoneyContext {
                nothing: true,
                ..MoneyContext::default()
            });
        };
        let entries = self.store.payment_entries(payment.id).await?;
        let a = crate::payments::order_amounts(&entries, order);
        let shown = |amount: i64| {
            (amount > 0).then(|| {
                ordo_domain::money::Money {
                    amount,
                    currency: payment.currency,
                }
                .format_for(locale)
            })
        };
        let by_hand = if payment.provider_ref.is_some() {
            crate::payments::held_by_hand(&entries, order).min(a.refundable())
        } else {
            a.refundable()
        };
        // What the event itself moved (a refund's e-mail says that refund, not the total).
        let (moved, moved_by_hand) =
            match serde_json::from_str::<ordo_domain::order::OrderEvent>(data).map(|e| e.change) {
                Ok(ordo_domain::order::OrderChange::Money {
                    amount, request_id, ..
                }) => {
                    // A refund recorded by hand is a ledger row that ended no request of Ordo's.
                    let by_hand = entries
                        .iter()
                        .any(|e| Some(e.id) == request_id && e.request_id.is_none());
                    (shown(amount), by_hand)
                }
                _ => (None, false),
            };
        Ok(MoneyContext {
            refund: shown(a.refunded + a.refunding),
            release: shown(a.voided + a.voiding),
            by_hand: shown(by_hand),
            nothing: a.authorized == 0,
            moved,
            moved_by_hand,
        })
    }

    /// The template environment: the files of `--notification-templates` where they exist,
    /// else the built-in ones.
    pub(super) fn templates(&self) -> AppResult<Arc<minijinja::Environment<'static>>> {
        if let Some(env) = self.senders.templates.get() {
            return Ok(Arc::clone(env));
        }
        let dir = self.settings.notifications.templates.clone();
        let mut env = minijinja::Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .map_err(|e| AppError::Internal(e.into()))?,
        );
        env.set_loader(move |name| {
            if let Some(dir) = &dir
                && !name.split('/').any(|part| part == ".." || part.is_empty())
            {
                let path = dir.join(name);
                if path.is_file() {
                    return std::fs::read_to_string(&path).map(Some).map_err(|e| {
                        minijinja::Error::new(
                            minijinja::ErrorKind::InvalidOperation,
                            format!("reading {}: {e}", path.display()),
                        )
                    });
                }
            }
            Ok(EMBEDDED
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, text)| (*text).to_owned()))
        });
        Ok(Arc::clone(
            self.senders.templates.get_or_init(|| Arc::new(env)),
        ))
    }

    /// Loads and compiles every template, so a broken replacement stops `ordo serve` at once
    /// rather than failing each message.
    pub fn check_notification_templates(&self) -> AppResult<()> {
        let env = self.templates()?;
        for (name, _) in EMBEDDED {
            env.get_template(name).map_err(|e| {
                AppError::Internal(anyhow::anyhow!("notification template {name}: {e:#}"))
            })?;
        }
        Ok(())
    }
}
