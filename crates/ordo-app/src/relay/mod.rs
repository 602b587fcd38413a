//! The relay: how every event leaves Ordo — at least once, in order, never for a change that
//! rolled back, never lost on a crash.
//!
//! Each change writes its outbox message in its own transaction (see [`crate::outbox`]), so a
//! rolled-back change leaves none. The relay's *sequencer* then gives committed messages their
//! `position`: gap-free, increasing, one sequencer at a time across nodes (it locks its cursor
//! row). Readers follow positions, never the outbox's own ids, because on PostgreSQL ids become
//! visible out of commit order and a reader keeping "everything after id 8" would skip a 7 that
//! commits late. A message gets its position only once it is visible, so "everything after
//! position N" never skips anything. Messages of one order (or one SKU) are written under that
//! order's (SKU's) row lock, so they are numbered in the order they happened.
//!
//! Every node runs a relay (`ordo serve`): woken by its own writes, by other nodes' sequencers
//! (PostgreSQL LISTEN/NOTIFY, carrying only a position), and once a second in any case. After
//! sequencing it *pumps*: reads the new positions and hands each in memory to the live streams
//! of this node that may see it ([`App::follow_events`], [`App::follow_order`]; see [`hub`]).
//! A stream that falls behind is caught up from the database, never silently short: the
//! database is the truth and the hub only a shortcut.
//!
//! Sequenced messages are kept for `Settings::event_retention` (a feed cursor older than that
//! is refused as expired) and then purged once every consumer has passed them.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::Stream;
use ordo_domain::identity::Actor;
use ordo_domain::ids::OrderId;
use ordo_domain::order::OrderEvent;
use ordo_store::{OrderScope, RelayState, RelayedEvent};
use tokio::sync::{Mutex, Notify};

mod hub;
use hub::{Hub, Interest, Received, Subscription};

use crate::access::scope_of;
use crate::jobs::{Handler, JobFuture, JobKind, always, purge_older_than};
use crate::{App, AppError, AppResult};

/// Messages numbered by one sequencer transaction at most.
const SEQUENCE_BATCH: u32 = 1_000;
/// The least time between two relay rounds of one node: the most a live stream waits for
/// batching.
const ROUND_GAP: std::time::Duration = std::time::Duration::from_millis(20);
/// Events read from the database at once (pumping, catching a stream up, a feed page).
const READ_BATCH: u32 = 500;

/// The recurring jobs that read relayed events, brought forward whenever events are numbered.
const CONSUMER_JOBS: [JobKind; 3] = [
    JobKind::DispatchWebhooks,
    JobKind::DispatchNotifications,
    JobKind::PublishEvents,
];

/// The node's relay state: its wake-up, its broadcast and how far it has pumped.
pub struct Relay {
    wake: Notify,
    /// Wakes this node's job worker: relayed events wait for the relay's consumers (webhook
    /// fan-out, notifications, NATS), which are jobs.
    pub(crate) jobs: Notify,
    live: Arc<Hub>,
    /// The last position broadcast; `None` until the first pump (which starts at the present:
    /// streams replay the past from the database themselves).
    pumped: Mutex<Option<i64>>,
    /// Set once the first round has broadcast: from then on the broadcast has no gap.
    started: AtomicBool,
}

impl Default for Relay {
    fn default() -> Self {
        Self {
            wake: Notify::new(),
            jobs: Notify::new(),
            live: Arc::default(),
            pumped: Mutex::new(None),
            started: AtomicBool::new(false),
        }
    }
}

/// One page of the event feed.
#[derive(Debug)]
pub struct EventPage {
    pub events: Vec<RelayedEvent>,
    pub has_more: bool,
}

impl App {
    /// What a consumer of the relay (with its own cursor: `webhooks`, `notifications`) has
    /// not handled yet: up to `limit` events after its cursor, in order. A new consumer starts
    /// at the present, not at the oldest event kept.
    pub(crate) async fn unhandled_events(
        &self,
        consumer: &'static str,
        limit: u32,
    ) -> AppResult<Vec<RelayedEvent>> {
        let now = self.now();
        let cursor = self
            .write(move |tx| Box::pin(async move { Ok(tx.consumer_cursor(consumer, now).await?) }))
            .await?;
        Ok(self
            .store
            .events_after(cursor, OrderScope::All, limit)
            .await?)
    }

    /// Wakes this node's relay (called after every write: it may have left outbox messages).
    pub(crate) fn wake_relay(&self) {
        self.relay.wake.notify_one();
    }

    /// Live streams open on this node now.
    pub fn live_streams(&self) -> usize {
        self.relay.live.len()
    }

    /// Resolves when this node's job worker should look for due jobs before its next tick
    /// (the relay just numbered or received events for its consumers).
    pub async fn jobs_woken(&self) {
        self.relay.jobs.notified().await;
    }

    /// Runs this node's relay for ever (`ordo serve`): a round when a write on this node may
    /// have left messages, when another node's relay pokes (PostgreSQL), and at least once a
    /// second, so the messages of a node that died before relaying them are relayed by the
    /// others. A failing round is logged and the next one tried.
    pub async fn run_relay(&self) {
        use futures_util::StreamExt;
        let mut pokes = match self.store.event_wakeups().await {
            Ok(pokes) => pokes,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for other nodes' events; polling each second");
                None
            }
        };
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let poked = async {
                match pokes.as_mut() {
                    Some(p) => p.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = self.relay.wake.notified() => {}
                _ = tick.tick() => {}
                Some(_) = poked => {}
            }
            if let Err(e) = self.relay_once().await {
                tracing::warn!(error = %e, "relaying events failed; will retry");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            // Under load nearly every write wakes the relay: a short pause lets one round take
            // the changes of many (wake-ups meanwhile are kept, not lost).
            tokio::time::sleep(ROUND_GAP).await;
        }
    }

    /// One round of the relay: numbers every committed outbox message without a position,
    /// then broadcasts what is new (from any node's sequencer) to this node's streams.
    /// Rounds on one node run one at a time. Returns the last position broadcast.
    pub async fn relay_once(&self) -> AppResult<i64> {
        let mut pumped = self.relay.pumped.lock().await;
        // The node's first round broadcasts from before what it numbers.
        let mut last = match *pumped {
            Some(last) => last,
            None => sequencer_position(&self.store.relay_state().await?),
        };
        loop {
            let now = self.now();
            // Not `App::write`: that wakes the relay, which would then wake itself for ever.
            let numbered: Option<i64> = ordo_store::write(&*self.store, move |tx| {
                Box::pin(async move {
                    let numbered = tx.sequence_outbox(now, SEQUENCE_BATCH).await?;
                    if numbered.is_some() {
                        // The relay's consumers run now rather than at their next second.
                        for kind in CONSUMER_JOBS {
                            tx.hurry_job(kind.as_str(), now).await?;
                        }
                    }
                    Ok::<_, AppError>(numbered)
                })
            })
            .await?;
            if numbered.is_none() {
                break;
            }
        }
        loop {
            let page = self
                .store
                .events_after(last, OrderScope::All, READ_BATCH)
                .await?;
            let full = page.len() == READ_BATCH as usize;
            for event in page {
                last = event.position;
                self.relay.live.publish(&Arc::new(event));
            }
            if !full {
                break;
            }
        }
        if pumped.is_some_and(|before| before < last) {
            self.relay.jobs.notify_one();
        }
        *pumped = Some(last);
        self.relay.started.store(true, Ordering::Release);
        Ok(last)
    }

    /// The relay's progress: each cursor, what waits for a position (for operators).
    pub async fn relay_state(&self) -> AppResult<RelayState> {
        Ok(self.store.relay_state().await?)
    }

    /// Where the feed stands: a stream opened after this position sends only what comes
    /// next (a page that is already current follows from here).
    pub async fn feed_head(&self) -> AppResult<i64> {
        Ok(sequencer_position(&self.store.relay_state().await?))
    }

    /// A page of the caller's event feed: the events they may see after position `after`.
    /// A cursor older than what is kept is refused (`cursor_expired`): the caller resyncs.
    pub async fn events(
        &self,
        actor: &Actor,
        after: i64,
        limit: Option<i64>,
    ) -> AppResult<EventPage> {
        let scope = scope_of(actor)?;
        let limit = crate::paging::page_limit(limit)?;
        self.check_cursor(after).await?;
        let mut events = self.store.events_after(after, scope, limit + 1).await?;
        let has_more = events.len() > limit as usize;
        events.truncate(limit as usize);
        Ok(EventPage { events, has_more })
    }

    async fn check_cursor(&self, after: i64) -> AppResult<()> {
        if after < 0 {
            return Err(ordo_domain::ParseError::new(
                "invalid_cursor",
                "after must be an event id (0 for the oldest kept)",
            )
            .at("after")
            .into());
        }
        if after == 0 {
            return Ok(());
        }
        let state = self.store.relay_state().await?;
        let oldest_kept = state
            .oldest_position
            .unwrap_or(sequencer_position(&state) + 1);
        if after.saturating_add(1) < oldest_kept {
            return Err(AppError::Gone {
                code: "cursor_expired",
                message: format!(
                    "events up to {} are no longer kept ({} days); start again from after=0 \
                     and reread the current state of what you follow",
                    oldest_kept - 1,
                    self.settings.event_retention.num_days()
                ),
            });
        }
        Ok(())
    }

    /// The caller's feed as a live stream: every event they may see after `after`, replayed
    /// from the database and then live, with no gap and no duplicate.
    pub async fn follow_events(
        &self,
        actor: &Actor,
        after: i64,
    ) -> AppResult<impl Stream<Item = AppResult<RelayedEvent>> + Send + 'static> {
        let scope = scope_of(actor)?;
        self.check_cursor(after).await?;
        // Subscribed before the replay reads, so nothing falls between the two.
        let follow = Follow {
            app: self.clone(),
            scope,
            delivered: after,
            live: self.relay.live.subscribe(scope.into()),
            backlog: VecDeque::new(),
            catching_up: true,
            // Before this node's first pump, what it will broadcast first is not known to
            // follow what the replay read: check the database once more at the first event.
            recheck: !self.relay.started.load(Ordering::Acquire),
        };
        Ok(futures_util::stream::unfold(follow, |mut f| async move {
            let next = f.next().await;
            Some((next, f))
        }))
    }

    /// One order's events as a live stream, after its event `after_seq` (0: from the start):
    /// for everyone who may read the order.
    pub async fn follow_order(
        &self,
        actor: &Actor,
        id: OrderId,
        after_seq: i64,
    ) -> AppResult<impl Stream<Item = AppResult<OrderEvent>> + Send + 'static> {
        self.order(actor, id).await?;
        let follow = FollowOrder {
            app: self.clone(),
            id,
            key: id.to_string(),
            delivered: after_seq,
            live: self.relay.live.subscribe(Interest::Order(id.to_string())),
            backlog: VecDeque::new(),
            catching_up: true,
        };
        Ok(futures_util::stream::unfold(follow, |mut f| async move {
            let next = f.next().await;
            Some((next, f))
        }))
    }
}

fn sequencer_position(state: &RelayState) -> i64 {
    state
        .cursors
        .iter()
        .find(|(name, _)| name == "sequencer")
        .map_or(0, |(_, p)| *p)
}

/// A feed being followed: what was delivered, the live subscription, what the database gave
/// that is not yet delivered.
struct Follow {
    app: App,
    scope: OrderScope,
    delivered: i64,
    live: Subscription,
    backlog: VecDeque<RelayedEvent>,
    catching_up: bool,
    recheck: bool,
}

impl Follow {
    async fn next(&mut self) -> AppResult<RelayedEvent> {
        loop {
            if let Some(event) = self.backlog.pop_front() {
                self.delivered = event.position;
                return Ok(event);
            }
            if self.catching_up {
                let page = self
                    .app
                    .store
                    .events_after(self.delivered, self.scope, READ_BATCH)
                    .await?;
                self.catching_up = page.len() == READ_BATCH as usize;
                self.backlog.extend(page);
                continue;
            }
            match self.live.recv().await {
                Received::Event(_) if self.recheck => {
                    self.recheck = false;
                    self.catching_up = true;
                }
                Received::Event(event) => {
                    if event.position > self.delivered && event.message.audience.admits(self.scope)
                    {
                        self.delivered = event.position;
                        return Ok((*event).clone());
                    }
                }
                // Fell behind its queue: the database has everything.
                Received::Missed => self.catching_up = true,
            }
        }
    }
}

/// One order being followed (its events are numbered 1, 2, 3… with no gap).
struct FollowOrder {
    app: App,
    id: OrderId,
    key: String,
    delivered: i64,
    live: Subscription,
    backlog: VecDeque<OrderEvent>,
    catching_up: bool,
}

impl FollowOrder {
    async fn next(&mut self) -> AppResult<OrderEvent> {
        loop {
            if let Some(event) = self.backlog.pop_front() {
                self.delivered = event.seq;
                return Ok(event);
            }
            if self.catching_up {
                let events = self.app.store.order_events(self.id).await?;
                self.backlog
                    .extend(events.into_iter().filter(|e| e.seq > self.delivered));
                self.catching_up = false;
                continue;
            }
            match self.live.recv().await {
                Received::Event(event)
                    if event.message.key == self.key
                        && crate::outbox::in_order_log(&event.message.topic) =>
                {
                    let parsed: OrderEvent = serde_json::from_str(event.message.payload.get())
                        .map_err(|e| AppError::Internal(e.into()))?;
                    if parsed.seq == self.delivered.saturating_add(1) {
                        self.delivered = parsed.seq;
                        return Ok(parsed);
                    }
                    // A gap means something was missed: the log has it.
                    if parsed.seq > self.delivered {
                        self.catching_up = true;
                    }
                }
                Received::Event(_) => {}
                Received::Missed => self.catching_up = true,
            }
        }
    }
}

/// Relayed events past their retention (`Settings::event_retention`) are cleared out by a
/// recurring job.
pub(crate) const JOBS: &[Handler] = &[Handler::recurring(
    JobKind::PurgeOutbox,
    always,
    purge_outbox,
)];

fn purge_outbox<'a>(app: &'a App, _: &'a ordo_store::Job) -> JobFuture<'a> {
    purge_older_than(app, ordo_store::Purge::Outbox, app.settings.event_retention)
}
