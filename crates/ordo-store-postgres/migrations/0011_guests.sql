-- Guest checkout (issue 12): a guest's orders belong to a customer user made for their e-mail
-- address with no usable password (a guest account, until registering claims it), and each
-- guest checkout has an unguessable link to its orders' live pages, quoted by the confirmation
-- e-mail. The link is kept as it is (the e-mail, rendered later by the outbox, quotes it): it
-- opens only that checkout's orders, which the same database holds anyway.
-- Twin of ordo-store-sqlite/migrations/0011_guests.sql.

CREATE TABLE guest_accounts (
    user_id    UUID PRIMARY KEY REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL,
    claimed_at TIMESTAMPTZ
);

CREATE TABLE checkout_links (
    token       TEXT PRIMARY KEY,
    checkout_id UUID NOT NULL UNIQUE,
    created_at  TIMESTAMPTZ NOT NULL
);
