-- Finding a customer by name (issue 12): support types part of a name and finds the customers
-- who ship to it. A customer's names are the recipients on their orders, each kept under its
-- lower-cased form from each word on ("jürgen müller", "müller"), so a prefix range over `key`
-- finds a name by the start of any of its words, without scanning the orders. `key` compares
-- byte by byte (COLLATE "C"), as SQLite's does, so the prefix range is the same on both.
-- Twin of ordo-store-sqlite/migrations/0014_customer_names.sql.

CREATE TABLE customer_names (
    key          TEXT COLLATE "C" NOT NULL,
    customer_id  UUID NOT NULL REFERENCES users (id),
    -- The name as the customer typed it.
    name         TEXT NOT NULL,
    PRIMARY KEY (key, customer_id, name)
);

-- Orders placed before this table existed. Ordo writes the keys of new orders itself (see
-- ordo_domain::address::name_keys); here SQL folds runs of up to eight spaces into one and
-- splits the names at spaces.
INSERT INTO customer_names (key, customer_id, name)
WITH RECURSIVE words (customer_id, name, rest, depth) AS (
    SELECT DISTINCT customer_id, shipping_address ->> 'name',
           replace(replace(replace(lower(btrim(shipping_address ->> 'name')), '    ', ' '), '  ', ' '), '  ', ' '), 1
    FROM orders
    UNION ALL
    SELECT customer_id, name, ltrim(substr(rest, strpos(rest, ' ') + 1)), depth + 1
    FROM words
    WHERE strpos(rest, ' ') > 0 AND depth < 6
)
SELECT rest, customer_id, name FROM words WHERE rest <> ''
ON CONFLICT DO NOTHING;
