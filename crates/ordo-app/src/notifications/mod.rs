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

use crate::jobs::{Handler, JobFuture, JobKind, again, backoff, drain, new_job};
use crate::{App, AppError, AppResult};

mod render;
use render::*;

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
}

/// The dispatcher runs every second where a channel is set up (woken at start, since a node
/// without channels left it done); each notification has its sender.
pub(crate) const JOBS: &[Handler] = &[
    Handler::recurring(
        JobKind::DispatchNotifications,
        App::notifications_on,
        dispatch,
    )
    .woken(),
    Handler::once(JobKind::SendNotification, send),
];

fn dispatch<'a>(app: &'a App, _: &'a ordo_store::Job) -> JobFuture<'a> {
    Box::pin(async move {
        // A node started without any channel ends the job another configuration left.
        if !app.notifications_on() {
            return Ok(ordo_store::JobEnd::Done);
        }
        drain(|| app.dispatch_notifications()).await?;
        again(app, Duration::from_secs(1))
    })
}

fn send<'a>(app: &'a App, job: &'a ordo_store::Job) -> JobFuture<'a> {
    Box::pin(app.send_notification(job))
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
