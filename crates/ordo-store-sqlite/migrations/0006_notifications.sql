-- Notifications for customers and vendor staff: what each person chose, and every message sent
-- (or tried) on each channel. Twin of ordo-store-postgres/migrations/0006_notifications.sql.

CREATE TABLE notification_preferences (
    user_id     BLOB PRIMARY KEY REFERENCES users (id),
    locale      TEXT NOT NULL,
    email       INTEGER NOT NULL,
    sms         INTEGER NOT NULL,
    push        INTEGER NOT NULL,
    -- E.164; SMS need it.
    phone       TEXT,
    updated_at  TEXT NOT NULL
);

CREATE TABLE notifications (
    id            BLOB PRIMARY KEY,
    event_type    TEXT NOT NULL,
    -- The event's relay position: the fan-out writes each (event, person, channel) once.
    position      INTEGER NOT NULL,
    order_id      BLOB REFERENCES orders (id),
    -- The event's data as relayed (JSON text), for the template.
    data          TEXT NOT NULL,
    recipient_id  BLOB NOT NULL REFERENCES users (id),
    to_staff      INTEGER NOT NULL,
    channel       TEXT NOT NULL CONSTRAINT notifications_channel_check
                  CHECK (channel IN ('email', 'sms', 'push')),
    -- Needed to send; only ever shown masked.
    address       TEXT NOT NULL,
    locale        TEXT NOT NULL,
    subject       TEXT,
    state         TEXT NOT NULL CONSTRAINT notifications_state_check
                  CHECK (state IN ('queued', 'sent', 'failed')),
    attempts      INTEGER NOT NULL,
    last_error    TEXT,
    created_at    TEXT NOT NULL,
    sent_at       TEXT
);
CREATE UNIQUE INDEX notifications_once_idx ON notifications (position, recipient_id, channel);
CREATE INDEX notifications_order_idx ON notifications (order_id, created_at);
