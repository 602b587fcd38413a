//! Notifications: e-mail, SMS and push to customers about their orders (placed, paid, shipped,
//! delivered, cancelled), and to a vendor's staff about a new order and low stock.
//!
//! A consumer of the relay with its own cursor (`relay_cursors.notifications`), like the
//! webhooks' fan-out: the recurring `notifications.dispatch` job turns each relayed event into
//! one notification per person and channel — only channels the person keeps on and Ordo can
//! send on — in the transaction that moves its cursor, each with its `notification.send` job.
//! That job renders the message from templates in files (`templates/notifications/<locale>/`,
//! replaceable with `--notification-templates`) and sends it: e-mail over SMTP (lettre), SMS and
//! push as a signed JSON POST to the platform's notifier (signed as webhooks are). A failed
//! send is tried again with backoff; after the last attempt the notification is `failed` and
//! its job dead, for a person to retry. Addresses are kept to send, shown only masked, and
//! never logged.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use ordo_domain::ParseError;
use ordo_domain::identity::{Actor, Role, User};
use ordo_domain::ids::{OrderId, UserId, VendorId};
use ordo_store::{
    Channel, Job, JobEnd, Notification, NotificationPreferences, NotificationState, RelayedEvent,
};
use serde::Serialize;
use uuid::Uuid;

use crate::jobs::{JobKind, backoff, new_job};
use crate::{App, AppError, AppResult};

/// The relay cursor the dispatcher keeps.
const CONSUMER: &str = "notifications";
/// Attempts at one notification before it is failed (about 1.5 hours of backoff).
const MAX_ATTEMPTS: i32 = 10;
/// An event older than this when dispatched (Ordo was down, or no channel was set up) tells
/// nobody: a "your order was placed" days late helps no one.
const TOO_OLD: chrono::Duration = chrono::Duration::days(1);
/// How long an SMTP server or the notifier may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(15);

/// The languages messages are written in; the first is the default.
pub const LOCALES: &[&str] = &["en", "de"];
/// Events customers hear about.
const CUSTOMER_EVENTS: &[&str] = &[
    "order.placed",
    "order.paid",
    "order.shipped",
    "order.delivered",
    "order.cancelled",
    "payment.refunded",
];
/// Events a vendor's staff hear about.
const STAFF_EVENTS: &[&str] = &["order.placed", "stock.low"];

/// Where notifications go out (`ordo serve --smtp-url …`).
#[derive(Debug, Clone)]
pub struct NotificationSettings {
    /// `smtp://host:port` (add `?tls=required` for STARTTLS), `smtps://host:port`; `None`: no
    /// e-mail.
    pub smtp_url: Option<String>,
    /// The From of every e-mail: `Shop <orders@shop.example>`.
    pub mail_from: String,
    /// The platform's SMS/push relay; `None`: no SMS or push.
    pub notifier_url: Option<String>,
    /// `whsec_…`: signs each notifier request (as webhooks are signed).
    pub notifier_secret: Option<String>,
    /// A folder of templates that replace the built-in ones of the same name.
    pub templates: Option<PathBuf>,
    /// The shop's name in messages.
    pub shop_name: String,
    /// Where people open the shop (`https://shop.example`): messages link to orders there.
    pub public_url: Option<String>,
}

impl Default for NotificationSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            mail_from: "Ordo <orders@localhost>".into(),
            notifier_url: None,
            notifier_secret: None,
            templates: None,
            shop_name: "Ordo".into(),
            public_url: None,
        }
    }
}

impl NotificationSettings {
    /// Refuses settings that could never send: a bad SMTP URL or From, a notifier secret that
    /// is not a key.
    pub fn check(&self) -> anyhow::Result<()> {
        if let Some(url) = &self.smtp_url {
            AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                .map_err(|e| anyhow::anyhow!("--smtp-url {url:?}: {e}"))?;
        }
        self.mail_from.parse::<Mailbox>().map_err(|e| {
            anyhow::anyhow!("--mail-from {:?} is not a mailbox: {e}", self.mail_from)
        })?;
        if let Some(secret) = &self.notifier_secret {
            crate::webhooks::sign(secret, "check", 0, "")
                .map_err(|_| anyhow::anyhow!("--notifier-secret must be whsec_ and base64"))?;
        }
        if let Some(url) = &self.notifier_url {
            reqwest::Url::parse(url).map_err(|e| anyhow::anyhow!("--notifier-url: {e}"))?;
        }
        Ok(())
    }
}

/// What sends notifications, built once per app.
#[derive(Default)]
pub(crate) struct Senders {
    templates: OnceLock<Arc<minijinja::Environment<'static>>>,
    mailer: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    notifier: OnceLock<reqwest::Client>,
}

/// Templates built into Ordo, by name.
macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("../templates/notifications/", $name)))),*]
    };
}

const EMBEDDED: &[(&str, &str)] = embedded![
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
struct Rendered {
    subject: String,
    text: String,
    html: String,
    /// For SMS and push.
    short: String,
}

/// What a customer's or staff member's templates see.
#[derive(Serialize)]
struct Context {
    shop: String,
    locale: String,
    /// The event's data, as the feed shows it.
    event: serde_json::Value,
    order: Option<OrderContext>,
}

#[derive(Serialize)]
struct OrderContext {
    id: String,
    /// Short, for subjects: the id's last 8 characters.
    number: String,
    status: String,
    vendor: String,
    items: Vec<ItemContext>,
    subtotal: String,
    total: String,
    ship_to: ordo_domain::address::Address,
    cancel_reason: Option<String>,
    url: Option<String>,
    /// Where the order's money stands, for a cancellation or a refund to say what comes back.
    money: MoneyContext,
}

/// An order's share of its payment, as its messages tell the customer (formatted; `None`
/// when nothing).
#[derive(Serialize, Default)]
struct MoneyContext {
    /// Refunded, or on its way back, to the card (or account) paid with.
    refund: Option<String>,
    /// Authorized, never taken, and released.
    release: Option<String>,
    /// Paid outside any provider and not given back yet: people send it back by hand.
    by_hand: Option<String>,
    /// Nothing was taken or held.
    nothing: bool,
    /// What the event the message is about moved (`payment.refunded`: this refund).
    moved: Option<String>,
    /// That money went back outside the provider (a bank transfer, cash): not to the card.
    moved_by_hand: bool,
}

#[derive(Serialize)]
struct ItemContext {
    title: String,
    sku: String,
    quantity: u32,
    total: String,
}

/// Whether a locale is one messages are written in.
fn parse_locale(locale: &str) -> AppResult<String> {
    if LOCALES.contains(&locale) {
        Ok(locale.to_owned())
    } else {
        Err(ParseError::new(
            "invalid_locale",
            format!(
                "'{locale}' is not a locale Ordo writes in: {}",
                LOCALES.join(", ")
            ),
        )
        .at("locale")
        .into())
    }
}

/// An E.164 number: `+`, a country code and up to 15 digits in all.
fn parse_phone(phone: &str) -> AppResult<String> {
    // People write numbers in groups (`+49 151 1234-5678`): the separators are dropped.
    let phone: String = phone
        .chars()
        .filter(|c| !(c.is_whitespace() || matches!(c, '-' | '.' | '(' | ')' | '/')))
        .collect();
    let digits = phone.strip_prefix('+').unwrap_or_default();
    let ok = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(phone)
    } else {
        Err(ParseError::new(
            "invalid_phone",
            "phone must be an E.164 number: + and 8 to 15 digits, e.g. +4915112345678",
        )
        .at("phone")
        .into())
    }
}

/// An address as people may see it: `j***@example.com`, `+49*********78`; push: `app`.
pub fn mask(channel: Channel, address: &str) -> String {
    match channel {
        Channel::Email => match address.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".into(),
        },
        Channel::Sms => {
            let chars: Vec<char> = address.chars().collect();
            let keep = |r: std::ops::Range<usize>| chars[r].iter().collect::<String>();
            if chars.len() > 5 {
                format!(
                    "{}{}{}",
                    keep(0..3),
                    "*".repeat(chars.len() - 5),
                    keep(chars.len() - 2..chars.len())
                )
            } else {
                "***".into()
            }
        }
        Channel::Push => "app".into(),
    }
}

/// A message about an error with the address taken out (SMTP servers quote it back).
fn redact(error: &str, address: &str, channel: Channel) -> String {
    if address.is_empty() {
        return error.to_owned();
    }
    error.replace(address, &mask(channel, address))
}

/// The preferences of someone who chose none: e-mail only, in English.
fn default_preferences(
    user: UserId,
    now: chrono::DateTime<chrono::Utc>,
) -> NotificationPreferences {
    NotificationPreferences {
        user_id: user,
        locale: LOCALES[0].into(),
        email: true,
        sms: false,
        push: false,
        phone: None,
        updated_at: now,
    }
}

/// A change to one's preferences: absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct PreferencesChange {
    pub locale: Option<String>,
    pub email: Option<bool>,
    pub sms: Option<bool>,
    pub push: Option<bool>,
    pub phone: Option<Option<String>>,
}

impl App {
    /// The caller's notification preferences (the defaults until they choose).
    pub async fn notification_preferences(
        &self,
        actor: &Actor,
    ) -> AppResult<NotificationPreferences> {
        let user = actor.user_id.ok_or(AppError::Unauthenticated)?;
        Ok(self
            .store
            .notification_preferences(user)
            .await?
            .unwrap_or_else(|| default_preferences(user, self.now())))
    }

    /// Changes the caller's preferences. SMS needs a phone number.
    pub async fn set_notification_preferences(
        &self,
        actor: &Actor,
        change: PreferencesChange,
    ) -> AppResult<NotificationPreferences> {
        let mut p = self.notification_preferences(actor).await?;
        if let Some(locale) = change.locale {
            p.locale = parse_locale(&locale)?;
        }
        if let Some(phone) = change.phone {
            p.phone = phone.as_deref().map(parse_phone).transpose()?;
        }
        p.email = change.email.unwrap_or(p.email);
        p.sms = change.sms.unwrap_or(p.sms);
        p.push = change.push.unwrap_or(p.push);
        if p.sms && p.phone.is_none() {
            return Err(ParseError::new(
                "phone_required",
                "SMS need a phone number: set phone, or turn sms off",
            )
            .at("phone")
            .into());
        }
        p.updated_at = self.now();
        let saved = p.clone();
        self.write(move |tx| {
            Box::pin(async move {
                tx.put_notification_preferences(&saved).await?;
                Ok(())
            })
        })
        .await?;
        Ok(p)
    }

    /// What was sent about an order (or is still to be): a customer sees theirs, a vendor's
    /// staff their vendor's, support and admins all.
    pub async fn order_notifications(
        &self,
        actor: &Actor,
        id: OrderId,
    ) -> AppResult<Vec<Notification>> {
        self.order(actor, id).await?;
        let all = self.store.order_notifications(id).await?;
        Ok(match actor.role {
            Role::Admin | Role::Support | Role::System => all,
            Role::Customer => all
                .into_iter()
                .filter(|n| !n.to_staff && Some(n.recipient_id) == actor.user_id)
                .collect(),
            Role::Vendor => all.into_iter().filter(|n| n.to_staff).collect(),
            Role::Carrier => {
                return Err(AppError::Forbidden(
                    "an order's notifications are for its customer, vendor, support and admins"
                        .into(),
                ));
            }
        })
    }

    /// Whether any channel is set up (else no notification is ever made).
    pub(crate) fn notifications_on(&self) -> bool {
        !self.channels_on().is_empty()
    }

    /// The channels Ordo can send on, as configured.
    fn channels_on(&self) -> Vec<Channel> {
        let n = &self.settings.notifications;
        let mut on = Vec::new();
        if n.smtp_url.is_some() {
            on.push(Channel::Email);
        }
        if n.notifier_url.is_some() {
            on.extend([Channel::Sms, Channel::Push]);
        }
        on
    }

    /// The dispatcher: each relayed event after the cursor becomes one notification per
    /// person and channel, with its send job, in the transaction that moves the cursor.
    /// Returns how many events it took (a full batch: more may wait).
    pub async fn dispatch_notifications(&self) -> AppResult<usize> {
        let now = self.now();
        let events = self
            .unhandled_events(CONSUMER, crate::outbox::CONSUMER_BATCH)
            .await?;
        let Some(last) = events.last().map(|e| e.position) else {
            return Ok(0);
        };
        let on = self.channels_on();
        let mut people: HashMap<UserId, Option<(User, NotificationPreferences)>> = HashMap::new();
        let mut staff: HashMap<VendorId, Vec<UserId>> = HashMap::new();
        let mut out = Vec::new();
        for event in events
            .iter()
            .filter(|e| !on.is_empty() && now - e.message.created_at < TOO_OLD)
        {
            for (user, to_staff) in self.recipients(event, &mut staff).await? {
                if let std::collections::hash_map::Entry::Vacant(slot) = people.entry(user) {
                    let person = match self.store.user(user).await? {
                        Some(u) => {
                            let p = self
                                .store
                                .notification_preferences(user)
                                .await?
                                .unwrap_or_else(|| default_preferences(user, now));
                            Some((u, p))
                        }
                        None => None,
                    };
                    slot.insert(person);
                }
                let Some(Some((person, prefs))) = people.get(&user) else {
                    continue;
                };
                for &channel in &on {
                    let address = match channel {
                        Channel::Email if prefs.email => person.email.as_str().to_owned(),
                        Channel::Sms if prefs.sms => match &prefs.phone {
                            Some(phone) => phone.clone(),
                            None => continue,
                        },
                        Channel::Push if prefs.push => person.id.to_string(),
                        _ => continue,
                    };
                    out.push(Notification {
                        id: Uuid::now_v7(),
                        event_type: event.message.topic.clone(),
                        position: event.position,
                        order_id: crate::outbox::in_order_log(&event.message.topic)
                            .then(|| event.message.key.parse().ok())
                            .flatten(),
                        data: event.message.payload.get().to_owned(),
                        recipient_id: user,
                        to_staff,
                        channel,
                        address,
                        locale: prefs.locale.clone(),
                        subject: None,
                        state: NotificationState::Queued,
                        attempts: 0,
                        last_error: None,
                        created_at: now,
                        sent_at: None,
                    });
                }
            }
        }
        let taken = events.len();
        self.write(move |tx| {
            Box::pin(async move {
                for n in &out {
                    tx.put_notification(n).await?;
                    let job = new_job(JobKind::SendNotification, &n.id.to_string(), now);
                    tx.enqueue_job(&job, now).await?;
                }
                tx.advance_cursor(CONSUMER, last, now).await?;
                Ok(taken)
            })
        })
        .await
    }

    /// Who hears of an event: (person, whether as vendor staff).
    async fn recipients(
        &self,
        event: &RelayedEvent,
        staff: &mut HashMap<VendorId, Vec<UserId>>,
    ) -> AppResult<Vec<(UserId, bool)>> {
        let topic = event.message.topic.as_str();
        let audience = &event.message.audience;
        let mut to = Vec::new();
        if CUSTOMER_EVENTS.contains(&topic)
            && let Some(customer) = audience.customer
        {
            to.push((customer, false));
        }
        if STAFF_EVENTS.contains(&topic)
            && let Some(vendor) = audience.vendor
        {
            if let std::collections::hash_map::Entry::Vacant(slot) = staff.entry(vendor) {
                let users = self.store.vendor_staff(vendor).await?;
                slot.insert(users.into_iter().map(|u| u.id).collect());
            }
            to.extend(staff[&vendor].iter().map(|u| (*u, true)));
        }
        Ok(to)
    }

    /// The send job: renders one notification and sends it, once (a sent one is not sent
    /// again); a failure is tried again with backoff until the last attempt fails it.
    pub(crate) async fn send_notification(&self, job: &Job) -> AppResult<JobEnd> {
        let id: Uuid = job.key.parse().map_err(|_| {
            AppError::Internal(anyhow::anyhow!("not a notification id: {}", job.key))
        })?;
        let Some(mut n) = self.store.notification(id).await? else {
            return Ok(JobEnd::Done);
        };
        if n.state == NotificationState::Sent {
            return Ok(JobEnd::Done);
        }
        let outcome = match self.render(&n).await {
            Ok(message) => self.deliver(&n, &message).await.map(|()| message.subject),
            Err(e) => Err(format!("rendering failed: {e}")),
        };
        let now = self.now();
        n.attempts += 1;
        let end = match outcome {
            Ok(subject) => {
                n.state = NotificationState::Sent;
                n.subject = Some(subject);
                n.sent_at = Some(now);
                n.last_error = None;
                tracing::info!(notification_id = %n.id, channel = %n.channel, event = %n.event_type, "notification sent");
                JobEnd::Done
            }
            Err(error) => {
                let error = redact(&error, &n.address, n.channel);
                n.last_error = Some(error.clone());
                if job.attempts >= MAX_ATTEMPTS {
                    n.state = NotificationState::Failed;
                    tracing::error!(notification_id = %n.id, channel = %n.channel, attempts = n.attempts, error = %error, "notification failed for the last time");
                    JobEnd::Dead { error }
                } else {
                    let run_at = now + backoff(job.attempts);
                    tracing::warn!(notification_id = %n.id, channel = %n.channel, attempts = n.attempts, %run_at, error = %error, "notification failed; will retry");
                    JobEnd::Retry { run_at, error }
                }
            }
        };
        self.write(move |tx| {
            Box::pin(async move {
                tx.put_notification(&n).await?;
                Ok(())
            })
        })
        .await?;
        Ok(end)
    }

    /// Renders a notification in its locale from the templates.
    async fn render(&self, n: &Notification) -> AppResult<Rendered> {
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

    async fn order_context(
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
            status: order.status.to_string(),
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

    async fn money_context(
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

    /// Sends a rendered notification on its channel.
    async fn deliver(&self, n: &Notification, m: &Rendered) -> Result<(), String> {
        match n.channel {
            Channel::Email => self.send_mail(n, m).await,
            Channel::Sms | Channel::Push => self.send_to_notifier(n, m).await,
        }
    }

    async fn send_mail(&self, n: &Notification, m: &Rendered) -> Result<(), String> {
        let settings = &self.settings.notifications;
        let from: Mailbox = settings
            .mail_from
            .parse()
            .map_err(|e| format!("--mail-from is not a mailbox: {e}"))?;
        let to: Mailbox = n
            .address
            .parse()
            .map_err(|e| format!("not an e-mail address: {e}"))?;
        let message = lettre::Message::builder()
            .from(from)
            .to(to)
            .subject(&m.subject)
            // The same on every attempt, so a mail client shows a repeat once.
            .message_id(Some(format!("<{}@ordo>", n.id)))
            .multipart(MultiPart::alternative_plain_html(
                m.text.clone(),
                m.html.clone(),
            ))
            .map_err(|e| format!("building the message: {e}"))?;
        let mailer = match self.senders.mailer.get() {
            Some(m) => m,
            None => {
                let url = settings.smtp_url.as_deref().ok_or("no --smtp-url")?;
                crate::webhooks::install_tls_provider();
                let built = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| format!("--smtp-url: {e}"))?
                    .timeout(Some(SEND_TIMEOUT))
                    .build();
                self.senders.mailer.get_or_init(|| built)
            }
        };
        mailer
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("SMTP: {e}"))
    }

    /// SMS and push: a signed JSON POST to the platform's notifier.
    async fn send_to_notifier(&self, n: &Notification, m: &Rendered) -> Result<(), String> {
        let settings = &self.settings.notifications;
        let (Some(url), Some(secret)) = (&settings.notifier_url, &settings.notifier_secret) else {
            return Err("no --notifier-url and --notifier-secret".into());
        };
        let body = serde_json::json!({
            "id": n.id,
            "channel": n.channel,
            "to": n.address,
            "user_id": n.recipient_id,
            "locale": n.locale,
            "type": n.event_type,
            "order_id": n.order_id,
            "title": m.subject,
            "body": m.short,
        })
        .to_string();
        let message_id = format!("ntf_{}", n.id.simple());
        let timestamp = self.now().timestamp();
        let signature = crate::webhooks::sign(secret, &message_id, timestamp, &body)
            .map_err(|e| e.to_string())?;
        let client = self.senders.notifier.get_or_init(|| {
            crate::webhooks::install_tls_provider();
            reqwest::Client::builder()
                .timeout(SEND_TIMEOUT)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default()
        });
        let res = client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("notifier: {e}"))?;
        if res.status().is_success() {
            Ok(())
        } else {
            Err(format!("notifier answered {}", res.status()))
        }
    }

    /// The template environment: the files of `--notification-templates` where they exist,
    /// else the built-in ones.
    fn templates(&self) -> AppResult<Arc<minijinja::Environment<'static>>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked() {
        assert_eq!(
            mask(Channel::Email, "jane.doe@example.com"),
            "j***@example.com"
        );
        assert_eq!(mask(Channel::Sms, "+4915112345678"), "+49*********78");
        assert_eq!(mask(Channel::Push, "0193-…"), "app");
        assert_eq!(
            redact(
                "550 <jane@example.com> unknown",
                "jane@example.com",
                Channel::Email
            ),
            "550 <j***@example.com> unknown"
        );
    }

    #[test]
    fn phones_are_e164() {
        assert!(parse_phone("+4915112345678").is_ok());
        // Written in groups, as people do: stored as the digits.
        assert_eq!(
            parse_phone("+49 (151) 1234-5678").unwrap(),
            "+4915112345678"
        );
        for bad in ["015112345678", "+49 151 12x4", "+0123456789", "+12", "+ "] {
            assert!(parse_phone(bad).is_err(), "{bad}");
        }
    }
}
