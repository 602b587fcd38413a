//! `load`: fills a data folder (or a PostgreSQL database) with N realistic orders for the read
//! benchmark, through Ordo's own store — the same rows, events and JSON the server writes.
//!
//! A vendor with a catalog of `--skus` SKUs (ten per product), `--customers` customers sharing
//! one password (hashed once), and orders of 1–3 lines spread over the customers, each with its
//! `order.placed` event and, for most, the events of later steps (paid, accepted, shipped,
//! delivered), replayable like any order. Orders are written 1,000 per unit of work.
//! Simplifications, said plainly: stock levels are not reduced by the loaded orders (the read
//! benchmark does not look at stock), and no outbox rows are written (they would long have been
//! relayed). On PostgreSQL the load ends with `VACUUM ANALYZE` and `CHECKPOINT`, as an operator
//! would after a bulk load.

use std::sync::Arc;

use anyhow::Context;
use futures_util::{StreamExt, stream};
use ordo_app::catalog::{NewProduct, NewVariant};
use ordo_domain::address::{Address, AddressInput};
use ordo_domain::catalog::Sku;
use ordo_domain::identity::{Actor, EmailAddress, Password, Role, User};
use ordo_domain::ids::{LocationId, OrderId, ProductId, UserId, VariantId, VendorId};
use ordo_domain::inventory::Allocation;
use ordo_domain::money::{Currency, Money};
use ordo_domain::order::{Action, ActionInput, NewOrder, Order, OrderEvent, OrderLine};
use ordo_store::StoreError;
use rand::RngExt;
use serde_json::json;

use crate::api::PASSWORD;
use crate::progress::bar;
use crate::report::Report;
use crate::server::TargetArgs;

#[derive(Debug, Clone, clap::Args, serde::Serialize)]
pub struct Args {
    /// Orders to load.
    #[arg(long, default_value_t = 1_000_000)]
    pub orders: usize,
    /// Customers the orders are spread over (`load-customer-<i>@bench.example`).
    #[arg(long, default_value_t = 10_000)]
    pub customers: usize,
    /// SKUs in the vendor's catalog.
    #[arg(long, default_value_t = 10_000)]
    pub skus: usize,
}

/// The loaded vendor's staff login.
pub const VENDOR_EMAIL: &str = "load-vendor@bench.example";

pub fn customer_email(i: usize) -> String {
    format!("load-customer-{i}@bench.example")
}

struct ForSale {
    sku: Sku,
    product_id: ProductId,
    variant_id: VariantId,
    title: String,
    price: Money,
}

const PER_UNIT: usize = 1_000;

pub async fn run(target: &TargetArgs, args: &Args) -> anyhow::Result<Report> {
    let data_dir = target
        .data_dir
        .clone()
        .context("load needs --data-dir (the folder to fill; `ordo serve --data-dir` it later)")?;
    std::fs::create_dir_all(&data_dir)?;
    anyhow::ensure!(
        !data_dir.join("bench-load.json").exists(),
        "{} was loaded already; load into a fresh folder",
        data_dir.display()
    );
    let backend = ordo::Backend::open(&ordo::DatabaseConfig {
        data_dir: data_dir.clone(),
        database_url: target.database_url.clone(),
    })
    .await?;
    let app = ordo::app(&backend);
    app.load_demo().await?;
    let store = backend.store();
    let system = Actor::system();
    let started = std::time::Instant::now();

    let vendor = app
        .create_vendor(&system, &format!("Load {}", uuid::Uuid::now_v7()))
        .await?;
    let location = store
        .locations(vendor.id)
        .await?
        .first()
        .context("the vendor's main location")?
        .id;
    let eur = Currency::parse("EUR")?;
    let catalog = bar(args.skus as u64, "loading the catalog (SKUs)");
    let mut for_sale = Vec::with_capacity(args.skus);
    for chunk in (0..args.skus).collect::<Vec<_>>().chunks(10) {
        let variants = chunk
            .iter()
            .map(|i| NewVariant {
                sku: format!("LOAD-{i:06}"),
                title: Some(format!("Size {}", i % 10)),
                prices: vec![("EUR".into(), rand::rng().random_range(500..20_000))],
                weight_grams: None,
                low_stock_threshold: None,
            })
            .collect();
        let product = app
            .create_product(
                &system,
                NewProduct {
                    vendor_id: vendor.id,
                    title: format!("Load product {}", chunk[0] / 10),
                    tax_class: None,
                    stock_deduction: None,
                    variants,
                },
            )
            .await?;
        for v in product.variants {
            app.set_stock(&system, v.sku.as_str(), None, 1_000_000)
                .await?;
            for_sale.push(ForSale {
                title: format!(
                    "{} — {}",
                    product.title.as_str(),
                    v.title.as_ref().map_or("", |t| t.as_str())
                ),
                sku: v.sku,
                product_id: product.id,
                variant_id: v.id,
                price: v.prices[0],
            });
        }
        catalog.inc(chunk.len() as u64);
    }
    catalog.finish();

    let users = bar(args.customers as u64 + 1, "loading customers");
    let hash = ordo_app::auth::hash_password(&Password::parse(PASSWORD.to_owned())?).await?;
    let vendor_user = User {
        id: UserId::new(),
        email: EmailAddress::parse(VENDOR_EMAIL)?,
        role: Role::Vendor,
        vendor_id: Some(vendor.id),
    };
    let mut customers = Vec::with_capacity(args.customers);
    let mut pending = vec![vendor_user];
    for i in 0..args.customers {
        let user = User {
            id: UserId::new(),
            email: EmailAddress::parse(&customer_email(i))?,
            role: Role::Customer,
            vendor_id: None,
        };
        customers.push(user.clone());
        pending.push(user);
    }
    for chunk in pending.chunks(PER_UNIT) {
        let (chunk, hash, now) = (chunk.to_vec(), hash.clone(), app.now());
        let n = chunk.len() as u64;
        ordo_store::write(&*store, move |tx| {
            Box::pin(async move {
                for user in &chunk {
                    tx.insert_user(user, &hash, now).await?;
                }
                Ok::<_, StoreError>(())
            })
        })
        .await?;
        users.inc(n);
    }
    users.finish();

    let for_sale = Arc::new(for_sale);
    let customers = Arc::new(customers);
    let address = Address::parse(AddressInput {
        name: "Ada Lovelace".into(),
        line1: "12 Analytical Row".into(),
        line2: None,
        city: "London".into(),
        region: None,
        postal_code: "N1 7AA".into(),
        country: "GB".into(),
    })?;
    let progress = bar(args.orders as u64, "loading orders");
    let units = (0..args.orders).step_by(PER_UNIT).map(|first| {
        let count = PER_UNIT.min(args.orders - first);
        let batch = orders(
            count,
            &customers,
            &for_sale,
            vendor.id,
            location,
            eur,
            &address,
            app.now(),
        );
        let (store, progress) = (Arc::clone(&store), progress.clone());
        async move {
            ordo_store::write(&*store, move |tx| {
                Box::pin(async move {
                    for h in &batch {
                        tx.insert_order(&h.placed, &h.placement).await?;
                        if !h.steps.is_empty() {
                            tx.record_order_changes(&h.now, &h.steps).await?;
                        }
                    }
                    Ok::<_, StoreError>(())
                })
            })
            .await?;
            progress.inc(count as u64);
            Ok::<_, anyhow::Error>(())
        }
    });
    // Two units in flight: the next batch is built while the writer stores this one.
    stream::iter(units)
        .buffer_unordered(2)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<()>>>()?;
    progress.finish();
    backend.close().await;
    if let Some(url) = &target.database_url {
        // What an operator does after a bulk load: fresh statistics, the dirty pages written.
        // Without it the first read run met autovacuum and a checkpoint mid-run (p99 150-400 ms).
        let spin = crate::progress::spinner("VACUUM ANALYZE and CHECKPOINT");
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(url).await?;
        // Two statements sent apart: VACUUM refuses to run inside a multi-statement string.
        sqlx::raw_sql("VACUUM ANALYZE").execute(&mut conn).await?;
        sqlx::raw_sql("CHECKPOINT").execute(&mut conn).await?;
        spin.finish();
    }

    let seconds = started.elapsed().as_secs_f64();
    let mut report = Report::new(
        "load",
        if target.database_url.is_some() {
            "postgres"
        } else {
            "sqlite (WAL, synchronous=FULL)"
        },
        json!(args),
    );
    report.figure("orders loaded", args.orders as f64, "orders", None);
    report.figure("time", seconds, "s", None);
    report.figure(
        "orders per second",
        args.orders as f64 / seconds,
        "orders/s",
        None,
    );
    std::fs::write(
        data_dir.join("bench-load.json"),
        serde_json::to_string_pretty(&json!({ "orders": args.orders, "customers": args.customers,
            "skus": args.skus, "vendor_email": VENDOR_EMAIL }))?,
    )?;
    Ok(report)
}

/// `count` orders with their events, as the server would have written them.
#[allow(clippy::too_many_arguments)]
fn orders(
    count: usize,
    customers: &[User],
    for_sale: &[ForSale],
    vendor: VendorId,
    location: LocationId,
    currency: Currency,
    address: &Address,
    at: chrono::DateTime<chrono::Utc>,
) -> Vec<History> {
    let mut rng = rand::rng();
    let path = [Action::Pay, Action::Accept, Action::Ship, Action::Deliver];
    (0..count)
        .map(|_| {
            let customer = &customers[rng.random_range(0..customers.len())];
            let lines: Vec<OrderLine> = (0..rng.random_range(1..=3))
                .map(|_| {
                    let item = &for_sale[rng.random_range(0..for_sale.len())];
                    let quantity = rng.random_range(1..=3u32);
                    OrderLine {
                        sku: item.sku.clone(),
                        product_id: item.product_id,
                        variant_id: item.variant_id,
                        title: item.title.clone(),
                        quantity,
                        unit_price: item.price,
                        line_total: Money {
                            amount: item.price.amount * i64::from(quantity),
                            currency,
                        },
                        allocations: vec![Allocation {
                            location_id: location,
                            quantity,
                        }],
                        pricing: Default::default(),
                    }
                })
                .collect();
            let subtotal = Money {
                amount: lines.iter().map(|l| l.line_total.amount).sum(),
                currency,
            };
            let new = NewOrder {
                id: OrderId::new(),
                customer_id: customer.id,
                vendor_id: vendor,
                currency,
                lines,
                subtotal,
                total: subtotal,
                pricing: Default::default(),
                checkout_id: None,
                // Loaded history: no reservation clock, so the expiry sweep leaves it alone.
                reserved_until: None,
                shipping_address: address.clone(),
                created_at: at,
            };
            let (placed, placement) =
                Order::place(new, Actor::of(customer)).expect("customers place orders");
            let mut order = placed.clone();
            let mut events = Vec::new();
            // 20 % stay pending; the rest go 1 to 4 steps further along.
            let steps = [0, 1, 2, 3, 4][rng.random_range(0..5)];
            for action in &path[..steps] {
                match order.transition(*action, Actor::system(), ActionInput::default(), at) {
                    Ok((_, e)) => events.push(e),
                    Err(_) => break,
                }
            }
            History {
                placed,
                placement,
                now: order,
                steps: events,
            }
        })
        .collect()
}

/// One loaded order: as placed (with its placement), and where its later steps took it.
struct History {
    placed: Order,
    placement: OrderEvent,
    now: Order,
    steps: Vec<OrderEvent>,
}
