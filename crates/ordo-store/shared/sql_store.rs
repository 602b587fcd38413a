//! The SQL implementation of the store, shared by both backends.
//!
//! This file is not a module of `ordo-store`: `ordo-store-sqlite` and `ordo-store-postgres` each
//! compile it with `#[path]`, against their own concrete driver (`crate::Db`), dialect strings
//! (`crate::dialect`) and error mapping (`crate::map_err`). The SQL that is the same on both
//! databases — nearly all of it — is therefore written once and checked by the compiler twice,
//! without the generic trait bounds sqlx would otherwise demand. What differs (DDL, locking,
//! how a transaction begins, how constraint errors read) lives in each backend crate.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use ordo_domain::address::Address;
use ordo_domain::catalog::{
    Location, LocationCode, Name, Product, Sku, Variant, VariantForSale, Vendor,
};
use ordo_domain::identity::{Actor, EmailAddress, Role, User};
use ordo_domain::ids::{LocationId, OrderId, ProductId, UserId, VariantId, VendorId};
use ordo_domain::inventory::{Allocation, StockLevel};
use ordo_domain::money::{Currency, Money};
use ordo_domain::order::{Order, OrderChange, OrderEvent, OrderLine, OrderStatus};
use ordo_store::{
    Credentials, IdempotencyRecord, LocationStock, OrderQuery, OrderScope, OutboxMessage, Session,
    SkuStock, Store, StoreError, StoreResult, StoreTx, constraints,
};
use sqlx::types::Json;
use sqlx::{Pool, QueryBuilder, Row, Transaction};
use uuid::Uuid;

use crate::{Db, DbRow, dialect, map_err};

/// A store over two pools: `writer` for transactions, `reader` for reads. They may be the same
/// pool (PostgreSQL) or not (SQLite keeps one writer connection and several readers).
#[derive(Clone)]
pub struct SqlStore {
    pub(crate) writer: Pool<Db>,
    pub(crate) reader: Pool<Db>,
}

pub struct SqlTx {
    tx: Transaction<'static, Db>,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Other(anyhow::anyhow!("corrupt {what} in database: {e}"))
}

fn currency(code: &str) -> StoreResult<Currency> {
    Currency::parse(code).map_err(|e| corrupt("currency", e))
}

fn user_from_row(row: &DbRow) -> StoreResult<User> {
    let role: String = row.try_get("role").map_err(map_err)?;
    let email: String = row.try_get("email").map_err(map_err)?;
    Ok(User {
        id: UserId(row.try_get("id").map_err(map_err)?),
        email: EmailAddress::parse(&email).map_err(|e| corrupt("email", e))?,
        role: role.parse::<Role>().map_err(|e| corrupt("role", e))?,
        vendor_id: row
            .try_get::<Option<Uuid>, _>("vendor_id")
            .map_err(map_err)?
            .map(VendorId),
    })
}

fn location_from_row(row: &DbRow) -> StoreResult<Location> {
    let code: String = row.try_get("code").map_err(map_err)?;
    let name: String = row.try_get("name").map_err(map_err)?;
    Ok(Location {
        id: LocationId(row.try_get("id").map_err(map_err)?),
        vendor_id: VendorId(row.try_get("vendor_id").map_err(map_err)?),
        code: LocationCode::parse(&code).map_err(|e| corrupt("location code", e))?,
        name: Name::parse(&name).map_err(|e| corrupt("location name", e))?,
        priority: row.try_get("priority").map_err(map_err)?,
    })
}

fn line_from_row(row: &DbRow, currency: Currency) -> StoreResult<OrderLine> {
    let sku: String = row.try_get("sku").map_err(map_err)?;
    let quantity: i64 = row.try_get("quantity").map_err(map_err)?;
    let Json(allocations): Json<Vec<Allocation>> = row.try_get("allocations").map_err(map_err)?;
    Ok(OrderLine {
        sku: Sku::parse(&sku).map_err(|e| corrupt("sku", e))?,
        product_id: ProductId(row.try_get("product_id").map_err(map_err)?),
        variant_id: VariantId(row.try_get("variant_id").map_err(map_err)?),
        title: row.try_get("title").map_err(map_err)?,
        quantity: u32::try_from(quantity).map_err(|e| corrupt("quantity", e))?,
        unit_price: Money {
            amount: row.try_get("unit_price_minor").map_err(map_err)?,
            currency,
        },
        line_total: Money {
            amount: row.try_get("line_total_minor").map_err(map_err)?,
            currency,
        },
        allocations,
    })
}

fn order_from_row(row: &DbRow, lines: Vec<OrderLine>) -> StoreResult<Order> {
    let cur = currency(&row.try_get::<String, _>("currency").map_err(map_err)?)?;
    let status: String = row.try_get("status").map_err(map_err)?;
    let Json(shipping_address): Json<Address> = row.try_get("shipping_address").map_err(map_err)?;
    Ok(Order {
        id: OrderId(row.try_get("id").map_err(map_err)?),
        customer_id: UserId(row.try_get("customer_id").map_err(map_err)?),
        vendor_id: VendorId(row.try_get("vendor_id").map_err(map_err)?),
        status: status
            .parse::<OrderStatus>()
            .map_err(|e| corrupt("status", e))?,
        currency: cur,
        lines,
        subtotal: Money {
            amount: row.try_get("subtotal_minor").map_err(map_err)?,
            currency: cur,
        },
        total: Money {
            amount: row.try_get("total_minor").map_err(map_err)?,
            currency: cur,
        },
        shipping_address,
        carrier_id: row
            .try_get::<Option<Uuid>, _>("carrier_id")
            .map_err(map_err)?
            .map(UserId),
        cancel_reason: row.try_get("cancel_reason").map_err(map_err)?,
        created_at: row.try_get("created_at").map_err(map_err)?,
        updated_at: row.try_get("updated_at").map_err(map_err)?,
        version: row.try_get("version").map_err(map_err)?,
    })
}

const ORDER_COLUMNS: &str = "id, customer_id, vendor_id, status, currency, subtotal_minor, total_minor, \
    shipping_address, carrier_id, cancel_reason, created_at, updated_at, version";

/// One order by id. (The locking variant is in each backend's `dialect`.)
const SELECT_ORDER: &str = "SELECT id, customer_id, vendor_id, status, currency, subtotal_minor, total_minor, \
    shipping_address, carrier_id, cancel_reason, created_at, updated_at, version FROM orders WHERE id = $1";

/// Turns order rows into orders, fetching all their lines in one more query.
async fn orders_with_lines<'c, E>(executor: E, rows: Vec<DbRow>) -> StoreResult<Vec<Order>>
where
    E: sqlx::Executor<'c, Database = Db>,
{
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT order_id, line_no, sku, product_id, variant_id, title, quantity, unit_price_minor, \
         line_total_minor, allocations FROM order_lines WHERE order_id IN (",
    );
    let mut ids = qb.separated(", ");
    for row in &rows {
        ids.push_bind(row.try_get::<Uuid, _>("id").map_err(map_err)?);
    }
    qb.push(") ORDER BY order_id, line_no");
    let line_rows = qb.build().fetch_all(executor).await.map_err(map_err)?;
    let mut lines_of = group_by(&line_rows, "order_id")?;
    let mut orders = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: Uuid = row.try_get("id").map_err(map_err)?;
        let cur = currency(&row.try_get::<String, _>("currency").map_err(map_err)?)?;
        let lines = lines_of
            .remove(&id)
            .unwrap_or_default()
            .into_iter()
            .map(|l| line_from_row(l, cur))
            .collect::<StoreResult<Vec<_>>>()?;
        orders.push(order_from_row(row, lines)?);
    }
    Ok(orders)
}

/// Groups child rows by their parent's id (column `key`), keeping their order, so a page of
/// parents is assembled in one pass instead of scanning every child row for every parent.
fn group_by<'r>(rows: &'r [DbRow], key: &str) -> StoreResult<HashMap<Uuid, Vec<&'r DbRow>>> {
    let mut groups: HashMap<Uuid, Vec<&DbRow>> = HashMap::new();
    for row in rows {
        groups
            .entry(row.try_get(key).map_err(map_err)?)
            .or_default()
            .push(row);
    }
    Ok(groups)
}

fn event_from_row(row: &DbRow) -> StoreResult<OrderEvent> {
    let role: String = row.try_get("actor_role").map_err(map_err)?;
    let role = if role == Role::System.as_str() {
        Role::System
    } else {
        role.parse().map_err(|e| corrupt("role", e))?
    };
    let Json(change): Json<OrderChange> = row.try_get("data").map_err(map_err)?;
    Ok(OrderEvent {
        order_id: OrderId(row.try_get("order_id").map_err(map_err)?),
        seq: row.try_get("seq").map_err(map_err)?,
        event_type: row.try_get("type").map_err(map_err)?,
        actor: Actor {
            user_id: row
                .try_get::<Option<Uuid>, _>("actor_id")
                .map_err(map_err)?
                .map(UserId),
            role,
            vendor_id: row
                .try_get::<Option<Uuid>, _>("actor_vendor_id")
                .map_err(map_err)?
                .map(VendorId),
        },
        at: row.try_get("at").map_err(map_err)?,
        change,
    })
}

async fn products_with_variants(pool: &Pool<Db>, rows: Vec<DbRow>) -> StoreResult<Vec<Product>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut qb = QueryBuilder::<Db>::new(
        "SELECT v.product_id, v.id, v.sku, v.title, p.currency, p.amount_minor \
         FROM variants v LEFT JOIN variant_prices p ON p.variant_id = v.id WHERE v.product_id IN (",
    );
    let mut ids = qb.separated(", ");
    for row in &rows {
        ids.push_bind(row.try_get::<Uuid, _>("id").map_err(map_err)?);
    }
    qb.push(") ORDER BY v.product_id, v.position, p.currency");
    let variant_rows = qb.build().fetch_all(pool).await.map_err(map_err)?;
    let mut variants_of = group_by(&variant_rows, "product_id")?;
    let mut products = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: Uuid = row.try_get("id").map_err(map_err)?;
        let title: String = row.try_get("title").map_err(map_err)?;
        let mut variants: Vec<Variant> = Vec::new();
        // Rows come sorted by variant position, then currency: one row per price.
        for v in variants_of.remove(&id).unwrap_or_default() {
            let variant_id = VariantId(v.try_get("id").map_err(map_err)?);
            if variants.last().is_none_or(|last| last.id != variant_id) {
                let sku: String = v.try_get("sku").map_err(map_err)?;
                let vtitle: Option<String> = v.try_get("title").map_err(map_err)?;
                variants.push(Variant {
                    id: variant_id,
                    sku: Sku::parse(&sku).map_err(|e| corrupt("sku", e))?,
                    title: vtitle
                        .map(|t| Name::parse(&t))
                        .transpose()
                        .map_err(|e| corrupt("variant title", e))?,
                    prices: Vec::new(),
                });
            }
            if let Some(code) = v
                .try_get::<Option<String>, _>("currency")
                .map_err(map_err)?
            {
                let amount: i64 = v.try_get("amount_minor").map_err(map_err)?;
                if let Some(last) = variants.last_mut() {
                    last.prices.push(Money {
                        amount,
                        currency: currency(&code)?,
                    });
                }
            }
        }
        products.push(Product {
            id: ProductId(id),
            vendor_id: VendorId(row.try_get("vendor_id").map_err(map_err)?),
            title: Name::parse(&title).map_err(|e| corrupt("product title", e))?,
            variants,
        });
    }
    Ok(products)
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> &'static str {
        dialect::NAME
    }

    async fn begin(&self) -> StoreResult<Box<dyn StoreTx>> {
        let tx = self
            .writer
            .begin_with(dialect::BEGIN)
            .await
            .map_err(map_err)?;
        Ok(Box::new(SqlTx { tx }))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn credentials(&self, email: &EmailAddress) -> StoreResult<Option<Credentials>> {
        let row = sqlx::query(
            "SELECT id, email, role, vendor_id, password_hash FROM users WHERE email = $1",
        )
        .bind(email.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.map(|r| {
            Ok(Credentials {
                user: user_from_row(&r)?,
                password_hash: r.try_get("password_hash").map_err(map_err)?,
            })
        })
        .transpose()
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        let row = sqlx::query("SELECT id, email, role, vendor_id FROM users WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn session_user(
        &self,
        token_hash: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<Option<User>> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.role, u.vendor_id FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn vendor(&self, id: VendorId) -> StoreResult<Option<Vendor>> {
        let row = sqlx::query("SELECT id, name FROM vendors WHERE id = $1")
            .bind(id.0)
            .fetch_optional(&self.reader)
            .await
            .map_err(map_err)?;
        row.map(|r| vendor_from_row(&r)).transpose()
    }

    async fn vendors(&self) -> StoreResult<Vec<Vendor>> {
        let rows = sqlx::query("SELECT id, name FROM vendors ORDER BY name")
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        rows.iter().map(vendor_from_row).collect()
    }

    async fn locations(&self, vendor: VendorId) -> StoreResult<Vec<Location>> {
        let rows = sqlx::query(
            "SELECT id, vendor_id, code, name, priority FROM locations WHERE vendor_id = $1 ORDER BY priority, code",
        )
        .bind(vendor.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(location_from_row).collect()
    }

    async fn product(&self, id: ProductId) -> StoreResult<Option<Product>> {
        let rows = sqlx::query("SELECT id, vendor_id, title FROM products WHERE id = $1")
            .bind(id.0)
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        Ok(products_with_variants(&self.reader, rows).await?.pop())
    }

    async fn products(&self, vendor: Option<VendorId>, limit: u32) -> StoreResult<Vec<Product>> {
        let mut qb = QueryBuilder::<Db>::new("SELECT id, vendor_id, title FROM products");
        if let Some(v) = vendor {
            qb.push(" WHERE vendor_id = ").push_bind(v.0);
        }
        qb.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        products_with_variants(&self.reader, rows).await
    }

    async fn stock(&self, sku: &Sku) -> StoreResult<Option<SkuStock>> {
        let Some(vendor) = sqlx::query(
            "SELECT p.vendor_id FROM variants v JOIN products p ON p.id = v.product_id WHERE v.sku = $1",
        )
        .bind(sku.as_str())
        .fetch_optional(&self.reader)
        .await
        .map_err(map_err)?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(
            "SELECT s.location_id, l.code, s.on_hand, s.reserved FROM stock s JOIN locations l ON l.id = s.location_id \
             WHERE s.sku = $1 ORDER BY l.priority, l.code",
        )
        .bind(sku.as_str())
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        let mut locations = Vec::with_capacity(rows.len());
        for r in &rows {
            let code: String = r.try_get("code").map_err(map_err)?;
            locations.push(LocationStock {
                level: stock_level_from_row(r)?,
                code: LocationCode::parse(&code).map_err(|e| corrupt("location code", e))?,
            });
        }
        Ok(Some(SkuStock {
            sku: sku.clone(),
            vendor_id: VendorId(vendor.try_get("vendor_id").map_err(map_err)?),
            locations,
        }))
    }

    async fn order(&self, id: OrderId) -> StoreResult<Option<Order>> {
        let rows = sqlx::query(SELECT_ORDER)
            .bind(id.0)
            .fetch_all(&self.reader)
            .await
            .map_err(map_err)?;
        Ok(orders_with_lines(&self.reader, rows).await?.pop())
    }

    async fn orders(&self, query: &OrderQuery) -> StoreResult<Vec<Order>> {
        let mut qb = QueryBuilder::<Db>::new("SELECT ");
        qb.push(ORDER_COLUMNS).push(" FROM orders WHERE 1 = 1");
        match query.scope {
            OrderScope::All => {}
            OrderScope::Customer(id) => {
                qb.push(" AND customer_id = ").push_bind(id.0);
            }
            OrderScope::Vendor(id) => {
                qb.push(" AND vendor_id = ").push_bind(id.0);
            }
            OrderScope::Carrier(id) => {
                qb.push(" AND carrier_id = ").push_bind(id.0);
            }
        }
        if let Some(status) = query.status {
            qb.push(" AND status = ").push_bind(status.as_str());
        }
        if let Some(after) = query.starting_after {
            qb.push(" AND id < ").push_bind(after.0);
        }
        qb.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(query.limit));
        let rows = qb.build().fetch_all(&self.reader).await.map_err(map_err)?;
        orders_with_lines(&self.reader, rows).await
    }

    async fn order_events(&self, id: OrderId) -> StoreResult<Vec<OrderEvent>> {
        let rows = sqlx::query(
            "SELECT order_id, seq, type, actor_id, actor_role, actor_vendor_id, at, data FROM order_events \
             WHERE order_id = $1 ORDER BY seq",
        )
        .bind(id.0)
        .fetch_all(&self.reader)
        .await
        .map_err(map_err)?;
        rows.iter().map(event_from_row).collect()
    }
}

fn vendor_from_row(row: &DbRow) -> StoreResult<Vendor> {
    let name: String = row.try_get("name").map_err(map_err)?;
    Ok(Vendor {
        id: VendorId(row.try_get("id").map_err(map_err)?),
        name: Name::parse(&name).map_err(|e| corrupt("vendor name", e))?,
    })
}

fn stock_level_from_row(row: &DbRow) -> StoreResult<StockLevel> {
    Ok(StockLevel {
        location_id: LocationId(row.try_get("location_id").map_err(map_err)?),
        on_hand: row.try_get("on_hand").map_err(map_err)?,
        reserved: row.try_get("reserved").map_err(map_err)?,
    })
}

#[async_trait]
impl StoreTx for SqlTx {
    async fn insert_user(
        &mut self,
        user: &User,
        password_hash: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, role, vendor_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.id.0)
        .bind(user.email.as_str())
        .bind(password_hash)
        .bind(user.role.as_str())
        .bind(user.vendor_id.map(|v| v.0))
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn insert_session(&mut self, s: &Session) -> StoreResult<()> {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(&s.token_hash)
            .bind(s.user_id.0)
            .bind(s.created_at)
            .bind(s.expires_at)
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn revoke_session(&mut self, token_hash: &[u8], at: DateTime<Utc>) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(token_hash)
        .execute(&mut *self.tx)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_vendor(&mut self, vendor: &Vendor, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("INSERT INTO vendors (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(vendor.id.0)
            .bind(vendor.name.as_str())
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn insert_location(&mut self, l: &Location, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO locations (id, vendor_id, code, name, priority, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(l.id.0)
        .bind(l.vendor_id.0)
        .bind(l.code.as_str())
        .bind(l.name.as_str())
        .bind(l.priority)
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn location_by_code(
        &mut self,
        vendor: VendorId,
        code: &LocationCode,
    ) -> StoreResult<Option<Location>> {
        let row = sqlx::query("SELECT id, vendor_id, code, name, priority FROM locations WHERE vendor_id = $1 AND code = $2")
            .bind(vendor.0)
            .bind(code.as_str())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_err)?;
        row.as_ref().map(location_from_row).transpose()
    }

    async fn insert_product(&mut self, p: &Product, at: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO products (id, vendor_id, title, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(p.id.0)
        .bind(p.vendor_id.0)
        .bind(p.title.as_str())
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(map_err)?;
        for (position, v) in p.variants.iter().enumerate() {
            sqlx::query(
                "INSERT INTO variants (id, product_id, sku, title, position, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(v.id.0)
            .bind(p.id.0)
            .bind(v.sku.as_str())
            .bind(v.title.as_ref().map(Name::as_str))
            .bind(position as i32)
            .bind(at)
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)?;
            for price in &v.prices {
                sqlx::query("INSERT INTO variant_prices (variant_id, currency, amount_minor) VALUES ($1, $2, $3)")
                    .bind(v.id.0)
                    .bind(price.currency.code())
                    .bind(price.amount)
                    .execute(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
            }
        }
        Ok(())
    }

    async fn sku_vendor(&mut self, sku: &Sku) -> StoreResult<Option<VendorId>> {
        let row = sqlx::query("SELECT p.vendor_id FROM variants v JOIN products p ON p.id = v.product_id WHERE v.sku = $1")
            .bind(sku.as_str())
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(map_err)?;
        row.map(|r| r.try_get("vendor_id").map(VendorId).map_err(map_err))
            .transpose()
    }

    async fn variants_for_sale(
        &mut self,
        skus: &[Sku],
        currency: Currency,
    ) -> StoreResult<Vec<VariantForSale>> {
        if skus.is_empty() {
            return Ok(Vec::new());
        }
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT v.id, v.product_id, p.vendor_id, v.sku, p.title AS product_title, v.title AS variant_title, \
             vp.amount_minor FROM variants v JOIN products p ON p.id = v.product_id \
             LEFT JOIN variant_prices vp ON vp.variant_id = v.id AND vp.currency = ",
        );
        qb.push_bind(currency.code()).push(" WHERE v.sku IN (");
        let mut list = qb.separated(", ");
        for sku in skus {
            list.push_bind(sku.as_str());
        }
        qb.push(")");
        let rows = qb.build().fetch_all(&mut *self.tx).await.map_err(map_err)?;
        rows.iter()
            .map(|r| {
                let sku: String = r.try_get("sku").map_err(map_err)?;
                let product_title: String = r.try_get("product_title").map_err(map_err)?;
                let variant_title: Option<String> = r.try_get("variant_title").map_err(map_err)?;
                let amount: Option<i64> = r.try_get("amount_minor").map_err(map_err)?;
                Ok(VariantForSale {
                    variant_id: VariantId(r.try_get("id").map_err(map_err)?),
                    product_id: ProductId(r.try_get("product_id").map_err(map_err)?),
                    vendor_id: VendorId(r.try_get("vendor_id").map_err(map_err)?),
                    sku: Sku::parse(&sku).map_err(|e| corrupt("sku", e))?,
                    title: match variant_title {
                        Some(v) => format!("{product_title} — {v}"),
                        None => product_title,
                    },
                    unit_price: amount.map(|amount| Money { amount, currency }),
                })
            })
            .collect()
    }

    async fn lock_stock(&mut self, sku: &Sku) -> StoreResult<Vec<StockLevel>> {
        let rows = sqlx::query(dialect::LOCK_STOCK)
            .bind(sku.as_str())
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_err)?;
        rows.iter().map(stock_level_from_row).collect()
    }

    async fn change_stock(
        &mut self,
        sku: &Sku,
        location: LocationId,
        on_hand: i64,
        reserved: i64,
    ) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE stock SET on_hand = on_hand + $1, reserved = reserved + $2 WHERE sku = $3 AND location_id = $4",
        )
        .bind(on_hand)
        .bind(reserved)
        .bind(sku.as_str())
        .bind(location.0)
        .execute(&mut *self.tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Other(anyhow::anyhow!(
                "no stock row for {sku} at {location}"
            )));
        }
        Ok(())
    }

    async fn set_on_hand(
        &mut self,
        sku: &Sku,
        location: LocationId,
        on_hand: i64,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO stock (sku, location_id, on_hand, reserved, updated_at) VALUES ($1, $2, $3, 0, $4) \
             ON CONFLICT (sku, location_id) DO UPDATE SET on_hand = excluded.on_hand, updated_at = excluded.updated_at",
        )
        .bind(sku.as_str())
        .bind(location.0)
        .bind(on_hand)
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn insert_order(&mut self, o: &Order) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO orders (id, customer_id, vendor_id, status, currency, subtotal_minor, total_minor, \
             shipping_address, carrier_id, cancel_reason, created_at, updated_at, version) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(o.id.0)
        .bind(o.customer_id.0)
        .bind(o.vendor_id.0)
        .bind(o.status.as_str())
        .bind(o.currency.code())
        .bind(o.subtotal.amount)
        .bind(o.total.amount)
        .bind(Json(&o.shipping_address))
        .bind(o.carrier_id.map(|c| c.0))
        .bind(o.cancel_reason.as_deref())
        .bind(o.created_at)
        .bind(o.updated_at)
        .bind(o.version)
        .execute(&mut *self.tx)
        .await
        .map_err(map_err)?;
        for (line_no, l) in o.lines.iter().enumerate() {
            sqlx::query(
                "INSERT INTO order_lines (order_id, line_no, sku, product_id, variant_id, title, quantity, \
                 unit_price_minor, line_total_minor, allocations) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(o.id.0)
            .bind(line_no as i32 + 1)
            .bind(l.sku.as_str())
            .bind(l.product_id.0)
            .bind(l.variant_id.0)
            .bind(&l.title)
            .bind(i64::from(l.quantity))
            .bind(l.unit_price.amount)
            .bind(l.line_total.amount)
            .bind(Json(&l.allocations))
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)?;
        }
        Ok(())
    }

    async fn order_for_update(&mut self, id: OrderId) -> StoreResult<Option<Order>> {
        let rows = sqlx::query(dialect::SELECT_ORDER_FOR_UPDATE)
            .bind(id.0)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(map_err)?;
        Ok(orders_with_lines(&mut *self.tx, rows).await?.pop())
    }

    async fn update_order(&mut self, o: &Order, expected_version: i64) -> StoreResult<()> {
        let done = sqlx::query(
            "UPDATE orders SET status = $1, carrier_id = $2, cancel_reason = $3, updated_at = $4, version = $5 \
             WHERE id = $6 AND version = $7",
        )
        .bind(o.status.as_str())
        .bind(o.carrier_id.map(|c| c.0))
        .bind(o.cancel_reason.as_deref())
        .bind(o.updated_at)
        .bind(o.version)
        .bind(o.id.0)
        .bind(expected_version)
        .execute(&mut *self.tx)
        .await
        .map_err(map_err)?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(constraints::ORDERS_VERSION));
        }
        Ok(())
    }

    async fn append_event(&mut self, e: &OrderEvent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO order_events (order_id, seq, type, actor_id, actor_role, actor_vendor_id, at, data) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(e.order_id.0)
        .bind(e.seq)
        .bind(&e.event_type)
        .bind(e.actor.user_id.map(|u| u.0))
        .bind(e.actor.role.as_str())
        .bind(e.actor.vendor_id.map(|v| v.0))
        .bind(e.at)
        .bind(Json(&e.change))
        .execute(&mut *self.tx)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn enqueue(&mut self, m: &OutboxMessage) -> StoreResult<()> {
        sqlx::query("INSERT INTO outbox (topic, key, payload, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&m.topic)
            .bind(&m.key)
            .bind(Json(&m.payload))
            .bind(m.created_at)
            .execute(&mut *self.tx)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn idempotency_get(
        &mut self,
        user: UserId,
        key: &str,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let row = sqlx::query(
            "SELECT request_hash, order_id FROM idempotency_keys WHERE user_id = $1 AND key = $2",
        )
        .bind(user.0)
        .bind(key)
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(map_err)?;
        row.map(|r| {
            Ok(IdempotencyRecord {
                request_hash: r.try_get("request_hash").map_err(map_err)?,
                order_id: OrderId(r.try_get("order_id").map_err(map_err)?),
            })
        })
        .transpose()
    }

    async fn idempotency_put(
        &mut self,
        user: UserId,
        key: &str,
        r: &IdempotencyRecord,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO idempotency_keys (user_id, key, request_hash, order_id, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(user.0)
        .bind(key)
        .bind(&r.request_hash)
        .bind(r.order_id.0)
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.commit().await.map_err(map_err)
    }
}
