-- Notifications for customers and vendor staff: what each person chose, and every message sent
-- (or tried) on each channel. Twin of ordo-store-sqlite/migrations/0006_notifications.sql.

CREATE TABLE notification_preferences (
    user_id     uuid PRIMARY KEY REFERENCES users (id),
    locale      text NOT NULL,
    email       boolean NOT NULL,
    sms         boolean NOT NULL,
    push        boolean NOT NULL,
    -- E.164; SMS need it.
    phone       text,
    updated_at  timestamptz NOT NULL
);

CREATE TABLE notifications (
    id            uuid PRIMARY KEY,
    event_type    text NOT NULL,
    -- The event's relay position: the fan-out writes each (event, person, channel) once.
    position      bigint NOT NULL,
    order_id      uuid REFERENCES orders (id),
    -- The event's data as relayed (JSON text), for the template.
    data          text NOT NULL,
    recipient_id  uuid NOT NULL REFERENCES users (id),
    to_staff      boolean NOT NULL,
    channel       text NOT NULL CONSTRAINT notifications_channel_check
                  CHECK (channel IN ('email', 'sms', 'push')),
    -- Needed to send; only ever shown masked.
    address       text NOT NULL,
    locale        text NOT NULL,
    subject       text,
    state         text NOT NULL CONSTRAINT notifications_state_check
                  CHECK (state IN ('queued', 'sent', 'failed')),
    attempts      integer NOT NULL,
    last_error    text,
    created_at    timestamptz NOT NULL,
    sent_at       timestamptz
);
CREATE UNIQUE INDEX notifications_once_idx ON notifications (position, recipient_id, channel);
CREATE INDEX notifications_order_idx ON notifications (order_id, created_at);
