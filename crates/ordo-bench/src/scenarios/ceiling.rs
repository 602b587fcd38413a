//! `ceiling`: the database writes of one order placement — 1 order, 3 lines, 3 conditional stock
//! updates, 1 event, 1 outbox row, with payloads the size Ordo writes — as raw SQL, with no HTTP
//! and no domain code, on Ordo's own schema and the same backend and durability setting.
//! What the database alone can do is the yardstick the other scenarios are divided by.
//!
//! SQLite goes through its C API (rusqlite, cached statements: the fastest way in), WAL mode,
//! `synchronous = FULL`, once with a commit per placement and once with 100 placements per
//! commit. PostgreSQL goes through sqlx, one transaction per placement, from 1 and from 8
//! connections.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use chrono::Utc;
use serde_json::json;
use sqlx::types::Json;
use uuid::Uuid;

use crate::report::{Report, Target};
use crate::scenarios::Run;
use crate::server::{self, Backend};

const SKUS: usize = 10_000;

/// How many placements the ceiling measures.
#[derive(Debug, Clone, Copy, clap::Args, serde::Serialize)]
pub struct CeilingArgs {
    /// Placements measured the grouped way (SQLite: 100 per commit; PostgreSQL: over 8
    /// connections); the single way measures a tenth (SQLite) or a quarter (PostgreSQL) as many.
    #[arg(long = "ceiling-placements", default_value_t = 30_000)]
    pub placements: usize,
}

impl Default for CeilingArgs {
    fn default() -> Self {
        Self { placements: 30_000 }
    }
}

// The seed rows, by column name: the ceiling writes Ordo's real schema (made by its own
// migrations), so a column added later gets its default instead of breaking the ceiling.
const SEED_VENDOR: &str = "INSERT INTO vendors (id, name, created_at) VALUES ($1, 'Ceiling', $2)";
const SEED_USER: &str = "INSERT INTO users (id, email, password_hash, role, vendor_id, created_at) \
    VALUES ($1, 'ceiling@bench.example', 'x', 'customer', NULL, $2)";
const SEED_LOCATION: &str = "INSERT INTO locations (id, vendor_id, code, name, priority, created_at) \
    VALUES ($1, $2, 'main', 'Main', 0, $3)";
const SEED_PRODUCT: &str =
    "INSERT INTO products (id, vendor_id, title, created_at) VALUES ($1, $2, 'Ceiling', $3)";
const SEED_VARIANT: &str = "INSERT INTO variants (id, product_id, sku, title, position, created_at) \
    VALUES ($1, $2, $3, NULL, 0, $4)";
const SEED_STOCK: &str = "INSERT INTO stock (sku, location_id, on_hand, reserved, updated_at) \
    VALUES ($1, $2, 1000000000, 0, $3)";

/// Placements per second, measured one way and the grouped way.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Ceiling {
    /// SQLite: one placement per commit; PostgreSQL: one connection.
    pub single: f64,
    /// SQLite: 100 placements per commit; PostgreSQL: 8 connections.
    pub grouped: f64,
}

impl Ceiling {
    pub async fn measure(run: &Run, args: CeilingArgs) -> anyhow::Result<Self> {
        match run.server.backend {
            Backend::Sqlite => {
                let dir = tempfile::Builder::new()
                    .prefix("ordo-ceiling-")
                    .tempdir_in(
                        run.server
                            .data_dir
                            .clone()
                            .unwrap_or_else(std::env::temp_dir),
                    )?;
                let path = dir.path().join("ceiling.db");
                // Ordo creates the schema, so the ceiling writes the same tables and indexes.
                let store =
                    ordo_store_sqlite::SqliteStore::open(&path, &Default::default()).await?;
                store.close().await;
                tokio::task::spawn_blocking(move || sqlite(&path, args.placements)).await?
            }
            Backend::Postgres => {
                let name = format!("ordo_ceiling_{}", std::process::id());
                let url = server::create_database(&run.target.postgres_url, &name).await?;
                let result = postgres(&url, args.placements).await;
                server::drop_database(&run.target.postgres_url, &name).await?;
                result
            }
        }
    }

    /// Adds the ceiling and Ordo's share of it to a report of `rate` placements per second.
    pub fn compare(&self, report: &mut Report, rate: f64, backend: Backend) {
        let (single, grouped) = match backend {
            Backend::Sqlite => (
                "ceiling: 1 placement per commit",
                "ceiling: 100 placements per commit",
            ),
            Backend::Postgres => ("ceiling: 1 connection", "ceiling: 8 connections"),
        };
        report.figure(single, self.single, "orders/s", None);
        report.figure(grouped, self.grouped, "orders/s", None);
        report.figure(
            "Ordo / ceiling",
            rate / self.grouped,
            "ratio",
            Some(Target::AtLeast(0.5)),
        );
        report.detail("ceiling", json!(self));
    }
}

pub async fn run(run: &Run, args: CeilingArgs) -> anyhow::Result<Report> {
    let ceiling = Ceiling::measure(run, args).await?;
    let mut report = Report::new(
        "ceiling",
        run.backend_name(),
        json!({ "skus": SKUS, "placements": args.placements }),
    );
    let (single, grouped) = match run.server.backend {
        Backend::Sqlite => ("1 placement per commit", "100 placements per commit"),
        Backend::Postgres => ("1 connection", "8 connections"),
    };
    report.figure(single, ceiling.single, "orders/s", None);
    report.figure(grouped, ceiling.grouped, "orders/s", None);
    Ok(report)
}

/// Payloads the size Ordo writes: an address, a line's allocations, an event with the order's
/// snapshot, and the same event in the outbox.
struct Payloads {
    address: serde_json::Value,
    allocations: serde_json::Value,
    event: serde_json::Value,
}

fn payloads() -> Payloads {
    let line = json!({ "sku": "SKU-000000", "product_id": Uuid::now_v7(), "variant_id": Uuid::now_v7(),
        "title": "Product SKU-000000 — SKU-000000", "quantity": 1,
        "unit_price": { "amount": 1999, "currency": "EUR" }, "line_total": { "amount": 1999, "currency": "EUR" },
        "allocations": [{ "location_id": Uuid::now_v7(), "quantity": 1 }] });
    let address = json!({ "name": "Ada Lovelace", "line1": "12 Analytical Row", "line2": null,
        "city": "London", "region": null, "postal_code": "N1 7AA", "country": "GB" });
    let event = json!({ "type": "placed", "order": { "id": Uuid::now_v7(), "customer_id": Uuid::now_v7(),
        "vendor_id": Uuid::now_v7(), "status": "pending_payment", "currency": "EUR",
        "lines": [line.clone(), line.clone(), line], "subtotal": { "amount": 5997, "currency": "EUR" },
        "total": { "amount": 5997, "currency": "EUR" }, "shipping_address": address.clone(),
        "carrier_id": null, "cancel_reason": null, "created_at": Utc::now(), "updated_at": Utc::now(), "version": 1 } });
    Payloads {
        address,
        allocations: json!([{ "location_id": Uuid::now_v7(), "quantity": 1 }]),
        event,
    }
}

const INSERT_ORDER: &str = "INSERT INTO orders (id, customer_id, vendor_id, status, currency, subtotal_minor, \
    total_minor, shipping_address, carrier_id, cancel_reason, created_at, updated_at, version) \
    VALUES ($1, $2, $3, 'pending_payment', 'EUR', 5997, 5997, $4, NULL, NULL, $5, $5, 1)";
const RESERVE: &str = "UPDATE stock SET reserved = reserved + 1 \
    WHERE sku = $1 AND location_id = $2 AND on_hand - reserved >= 1";
const INSERT_LINE: &str = "INSERT INTO order_lines (order_id, line_no, sku, product_id, variant_id, title, \
    quantity, unit_price_minor, line_total_minor, allocations) VALUES ($1, $2, $3, $4, $5, $3, 1, 1999, 1999, $6)";
const INSERT_EVENT: &str = "INSERT INTO order_events (order_id, seq, type, actor_id, actor_role, actor_vendor_id, \
    at, data) VALUES ($1, 1, 'order.placed', $2, 'customer', NULL, $3, $4)";
const INSERT_OUTBOX: &str =
    "INSERT INTO outbox (topic, key, payload, created_at) VALUES ('order.placed', $1, $2, $3)";

struct Seeded {
    vendor: Uuid,
    customer: Uuid,
    location: Uuid,
    product: Uuid,
}

fn sku(i: usize) -> String {
    format!("SKU-{:06}", i % SKUS)
}

fn sqlite(path: &Path, placements: usize) -> anyhow::Result<Ceiling> {
    let conn = rusqlite::Connection::open(path)?;
    // As Ordo's writer opens its connection (ordo-store-sqlite/src/writer.rs).
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
         PRAGMA temp_store = MEMORY;",
    )?;
    let ids = Seeded {
        vendor: Uuid::now_v7(),
        customer: Uuid::now_v7(),
        location: Uuid::now_v7(),
        product: Uuid::now_v7(),
    };
    let now = Utc::now().to_rfc3339();
    conn.execute_batch("BEGIN")?;
    conn.execute(SEED_VENDOR, rusqlite::params![ids.vendor, now])?;
    conn.execute(SEED_USER, rusqlite::params![ids.customer, now])?;
    conn.execute(
        SEED_LOCATION,
        rusqlite::params![ids.location, ids.vendor, now],
    )?;
    conn.execute(
        SEED_PRODUCT,
        rusqlite::params![ids.product, ids.vendor, now],
    )?;
    for i in 0..SKUS {
        conn.execute(
            SEED_VARIANT,
            rusqlite::params![Uuid::now_v7(), ids.product, sku(i), now],
        )?;
        conn.execute(SEED_STOCK, rusqlite::params![sku(i), ids.location, now])?;
    }
    conn.execute_batch("COMMIT")?;
    let p = payloads();
    let (address, allocations, event) = (
        p.address.to_string(),
        p.allocations.to_string(),
        p.event.to_string(),
    );
    let mut n = 0usize;
    let mut rate = |per_commit: usize, total: usize| -> anyhow::Result<f64> {
        let started = Instant::now();
        for _ in 0..total / per_commit {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            for _ in 0..per_commit {
                let order = Uuid::now_v7();
                let at = Utc::now().to_rfc3339();
                conn.prepare_cached(INSERT_ORDER)?
                    .execute(rusqlite::params![
                        order,
                        ids.customer,
                        ids.vendor,
                        address,
                        at
                    ])?;
                for line in 0..3 {
                    let sku = sku(n * 3 + line);
                    let reserved = conn
                        .prepare_cached(RESERVE)?
                        .execute(rusqlite::params![sku, ids.location])?;
                    anyhow::ensure!(reserved == 1, "stock ran out");
                    conn.prepare_cached(INSERT_LINE)?
                        .execute(rusqlite::params![
                            order,
                            line as i64 + 1,
                            sku,
                            ids.product,
                            ids.product,
                            allocations
                        ])?;
                }
                conn.prepare_cached(INSERT_EVENT)?
                    .execute(rusqlite::params![order, ids.customer, at, event])?;
                conn.prepare_cached(INSERT_OUTBOX)?
                    .execute(rusqlite::params![order.to_string(), event, at])?;
                n += 1;
            }
            conn.execute_batch("COMMIT")?;
        }
        Ok(total as f64 / started.elapsed().as_secs_f64())
    };
    let grouped_total = placements.max(100) / 100 * 100;
    let single = rate(1, (grouped_total / 10).max(1))?;
    let grouped = rate(100, grouped_total)?;
    Ok(Ceiling { single, grouped })
}

async fn postgres(url: &str, placements: usize) -> anyhow::Result<Ceiling> {
    let store = ordo_store_postgres::PostgresStore::open(url, 10).await?;
    store.close().await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(8)
        .connect(url)
        .await
        .context("Failed to connect for the ceiling")?;
    let ids = Seeded {
        vendor: Uuid::now_v7(),
        customer: Uuid::now_v7(),
        location: Uuid::now_v7(),
        product: Uuid::now_v7(),
    };
    let now = Utc::now();
    sqlx::query(SEED_VENDOR)
        .bind(ids.vendor)
        .bind(now)
        .execute(&pool)
        .await?;
    sqlx::query(SEED_USER)
        .bind(ids.customer)
        .bind(now)
        .execute(&pool)
        .await?;
    sqlx::query(SEED_LOCATION)
        .bind(ids.location)
        .bind(ids.vendor)
        .bind(now)
        .execute(&pool)
        .await?;
    sqlx::query(SEED_PRODUCT)
        .bind(ids.product)
        .bind(ids.vendor)
        .bind(now)
        .execute(&pool)
        .await?;
    sqlx::query(
        "INSERT INTO variants (id, product_id, sku, title, position, created_at) \
         SELECT gen_random_uuid(), $1, 'SKU-' || lpad(i::text, 6, '0'), NULL, 0, $2 \
         FROM generate_series(0, $3 - 1) AS i",
    )
    .bind(ids.product)
    .bind(now)
    .bind(SKUS as i64)
    .execute(&pool)
    .await?;
    sqlx::query(
        "INSERT INTO stock (sku, location_id, on_hand, reserved, updated_at) \
         SELECT sku, $1, 1000000000, 0, $2 FROM variants",
    )
    .bind(ids.location)
    .bind(now)
    .execute(&pool)
    .await?;
    let p = std::sync::Arc::new(payloads());
    let ids = std::sync::Arc::new(ids);
    let shared = pool.clone();
    let place = move |n: usize| {
        let (pool, p, ids) = (
            shared.clone(),
            std::sync::Arc::clone(&p),
            std::sync::Arc::clone(&ids),
        );
        async move {
            let mut tx = pool.begin().await?;
            let order = Uuid::now_v7();
            let at = Utc::now();
            sqlx::query(INSERT_ORDER)
                .bind(order)
                .bind(ids.customer)
                .bind(ids.vendor)
                .bind(Json(&p.address))
                .bind(at)
                .execute(&mut *tx)
                .await?;
            for line in 0..3 {
                let sku = sku(n * 3 + line);
                let done = sqlx::query(RESERVE)
                    .bind(&sku)
                    .bind(ids.location)
                    .execute(&mut *tx)
                    .await?;
                anyhow::ensure!(done.rows_affected() == 1, "stock ran out");
                sqlx::query(INSERT_LINE)
                    .bind(order)
                    .bind(line as i32 + 1)
                    .bind(&sku)
                    .bind(ids.product)
                    .bind(ids.product)
                    .bind(Json(&p.allocations))
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(INSERT_EVENT)
                .bind(order)
                .bind(ids.customer)
                .bind(at)
                .bind(Json(&p.event))
                .execute(&mut *tx)
                .await?;
            sqlx::query(INSERT_OUTBOX)
                .bind(order.to_string())
                .bind(Json(&p.event))
                .bind(at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<_, anyhow::Error>(())
        }
    };
    // PostgreSQL is slower per placement: a fraction of the SQLite counts takes as long.
    let per_client = (placements / 60).max(1);
    let singles = (placements / 30).max(1);
    let started = Instant::now();
    for n in 0..singles {
        place(n).await?;
    }
    let single = singles as f64 / started.elapsed().as_secs_f64();
    let started = Instant::now();
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let place = place.clone();
            tokio::spawn(async move {
                for n in 0..per_client {
                    place(singles + c * per_client + n).await?;
                }
                Ok::<_, anyhow::Error>(())
            })
        })
        .collect();
    for c in clients {
        c.await??;
    }
    let grouped = (8 * per_client) as f64 / started.elapsed().as_secs_f64();
    pool.close().await;
    Ok(Ceiling { single, grouped })
}
