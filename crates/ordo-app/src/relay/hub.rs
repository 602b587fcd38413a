//! The in-memory fan-out from this node's relay to its live streams, indexed by who may see
//! what: an event goes to the streams of its customer, its vendor, its carrier, its order, and
//! to support's and admins' — not to every stream on the node to be filtered there, so
//! ten thousand open streams cost a lookup per event, not ten thousand wake-ups.
//!
//! Each subscriber has a bounded queue. One that is full when an event comes loses it from
//! the queue but is marked as having missed something; it then catches up from the database
//! before taking anything more from its queue (the queue is in position order, so nothing
//! after a missed event can be taken before the mark is seen). The database is the truth; the
//! hub only a shortcut.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ordo_domain::ids::{UserId, VendorId};
use ordo_store::{OrderScope, RelayedEvent};
use tokio::sync::mpsc;

/// Events one subscriber may have queued before it is caught up from the database instead.
const QUEUE: usize = 256;

/// What a subscriber listens for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Interest {
    /// Every event (support, admins).
    Everything,
    Customer(UserId),
    Vendor(VendorId),
    Carrier(UserId),
    /// One order's events (its key).
    Order(String),
}

impl From<OrderScope> for Interest {
    fn from(scope: OrderScope) -> Self {
        match scope {
            OrderScope::All => Interest::Everything,
            OrderScope::Customer(id) => Interest::Customer(id),
            OrderScope::Vendor(id) => Interest::Vendor(id),
            OrderScope::Carrier(id) => Interest::Carrier(id),
        }
    }
}

struct Subscriber {
    queue: mpsc::Sender<Arc<RelayedEvent>>,
    missed: Arc<AtomicBool>,
}

#[derive(Default)]
pub(super) struct Hub {
    next_id: AtomicU64,
    subscribers: Mutex<HashMap<Interest, HashMap<u64, Subscriber>>>,
}

impl Hub {
    pub(super) fn subscribe(self: &Arc<Self>, interest: Interest) -> Subscription {
        let (queue, events) = mpsc::channel(QUEUE);
        let missed = Arc::new(AtomicBool::new(false));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.subscribers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(interest.clone())
            .or_default()
            .insert(
                id,
                Subscriber {
                    queue,
                    missed: Arc::clone(&missed),
                },
            );
        Subscription {
            hub: Arc::clone(self),
            interest,
            id,
            events,
            missed,
        }
    }

    /// Hands an event to everyone who may see it.
    pub(super) fn publish(&self, event: &Arc<RelayedEvent>) {
        let audience = &event.message.audience;
        let mut interests = vec![Interest::Everything];
        interests.extend(audience.customer.map(Interest::Customer));
        interests.extend(audience.vendor.map(Interest::Vendor));
        interests.extend(audience.carrier.map(Interest::Carrier));
        if crate::outbox::in_order_log(&event.message.topic) {
            interests.push(Interest::Order(event.message.key.clone()));
        }
        let subscribers = self
            .subscribers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for interest in &interests {
            for s in subscribers
                .get(interest)
                .into_iter()
                .flat_map(HashMap::values)
            {
                if let Err(mpsc::error::TrySendError::Full(_)) = s.queue.try_send(Arc::clone(event))
                {
                    s.missed.store(true, Ordering::Release);
                }
            }
        }
    }

    /// Subscribers now (for tests and operators).
    pub(super) fn len(&self) -> usize {
        self.subscribers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .map(HashMap::len)
            .sum()
    }
}

/// What one subscriber receives next.
pub(super) enum Received {
    Event(Arc<RelayedEvent>),
    /// Something was dropped: catch up from the database.
    Missed,
}

/// A live subscription; dropping it unsubscribes.
pub(super) struct Subscription {
    hub: Arc<Hub>,
    interest: Interest,
    id: u64,
    events: mpsc::Receiver<Arc<RelayedEvent>>,
    missed: Arc<AtomicBool>,
}

impl Subscription {
    /// The next event, or word that one was missed (checked before each event taken).
    pub(super) async fn recv(&mut self) -> Received {
        if self.missed.swap(false, Ordering::AcqRel) {
            return Received::Missed;
        }
        match self.events.recv().await {
            Some(event) => Received::Event(event),
            // The hub outlives its subscriptions; an ended queue is never expected.
            None => std::future::pending().await,
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut subscribers = self
            .hub
            .subscribers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(of) = subscribers.get_mut(&self.interest) {
            of.remove(&self.id);
            if of.is_empty() {
                subscribers.remove(&self.interest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_store::{Audience, OutboxMessage};

    fn event(position: i64, customer: UserId) -> Arc<RelayedEvent> {
        Arc::new(RelayedEvent {
            position,
            message: OutboxMessage {
                topic: "order.paid".into(),
                key: format!("order-{position}"),
                payload: serde_json::value::to_raw_value(&serde_json::json!({})).unwrap(),
                created_at: chrono::Utc::now(),
                audience: Audience {
                    customer: Some(customer),
                    ..Audience::default()
                },
            },
        })
    }

    #[tokio::test]
    async fn events_reach_only_who_may_see_them_and_an_overflow_is_told() {
        let hub = Arc::new(Hub::default());
        let (ada, bob) = (UserId::new(), UserId::new());
        let mut ada_sub = hub.subscribe(Interest::Customer(ada));
        let mut staff = hub.subscribe(Interest::Everything);
        let bob_sub = hub.subscribe(Interest::Customer(bob));
        assert_eq!(hub.len(), 3);
        for position in 1..=(QUEUE as i64 + 10) {
            hub.publish(&event(position, ada));
        }
        // Ada's queue overflowed: she is told before she takes anything more, then gets what
        // was queued, in order (the caller skips what the database already gave her).
        assert!(matches!(ada_sub.recv().await, Received::Missed));
        match ada_sub.recv().await {
            Received::Event(e) => assert_eq!(e.position, 1),
            Received::Missed => panic!("told twice"),
        }
        assert!(matches!(staff.recv().await, Received::Missed));
        drop(bob_sub);
        assert_eq!(hub.len(), 2, "a dropped subscription is gone");
        drop(ada_sub);
        drop(staff);
        assert_eq!(hub.len(), 0);
        assert!(
            hub.subscribers.lock().unwrap().is_empty(),
            "no empty entries left"
        );
    }
}
