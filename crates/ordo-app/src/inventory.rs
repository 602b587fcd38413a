//! Stock levels per SKU and location, as vendors set and adjust them, and low-stock alerts.
//!
//! Setting `on_hand` never touches `reserved`; a level below what is already reserved for open
//! orders is refused, because those units are promised. Every change of `on_hand` — an
//! adjustment by a delta (receipt, correction, damage) or a new level from a count — is
//! recorded with who and why. Whenever available
//! stock falls to or below a SKU's threshold, a `stock.low` event goes out with the change.

use chrono::{DateTime, Utc};
use ordo_domain::ParseError;
use ordo_domain::catalog::{LocationCode, Sku};
use ordo_domain::identity::{Actor, Role};
use ordo_domain::ids::{AdjustmentId, VendorId};
use ordo_domain::inventory::{AdjustmentReason, StockLevel, parse_on_hand};
use ordo_store::{LowStock, SkuStock, StockAdjustment, StoreTx};
use serde_json::json;

use crate::outbox::enqueue_stock;
use crate::{App, AppError, AppResult};

impl App {
    /// Stock of one SKU: for the vendor selling it, support and admins.
    pub async fn stock(&self, actor: &Actor, sku: &str) -> AppResult<SkuStock> {
        if !matches!(
            actor.role,
            Role::Vendor | Role::Support | Role::Admin | Role::System
        ) {
            return Err(AppError::Forbidden(format!(
                "a {} cannot read stock levels",
                actor.role
            )));
        }
        let sku = Sku::parse(sku).map_err(|_| AppError::NotFound("sku"))?;
        let stock = self
            .store
            .stock(&sku)
            .await?
            .ok_or(AppError::NotFound("sku"))?;
        if !(actor.manages_vendor(stock.vendor_id) || actor.role == Role::Support) {
            return Err(AppError::NotFound("sku"));
        }
        Ok(stock)
    }

    /// Sets the units on hand of `sku` at a location (the vendor's default when `None`).
    pub async fn set_stock(
        &self,
        actor: &Actor,
        sku: &str,
        location: Option<&str>,
        on_hand: i64,
    ) -> AppResult<SkuStock> {
        manages_stock(actor)?;
        let sku = Sku::parse(sku).map_err(|_| AppError::NotFound("sku"))?;
        let on_hand = parse_on_hand(on_hand).map_err(|e| e.at("on_hand"))?;
        let code = match location {
            Some(code) => LocationCode::parse(code).map_err(|e| e.at("location"))?,
            None => LocationCode::default_code(),
        };
        self.change_on_hand(
            *actor,
            sku.clone(),
            code,
            OnHand::Set(on_hand),
            AdjustmentReason::Correction,
            Some(format!("on_hand set to {on_hand}")),
        )
        .await?;
        self.store
            .stock(&sku)
            .await?
            .ok_or(AppError::NotFound("sku"))
    }
}

/// Emits `stock.low` when available stock of `sku` falls from above its threshold to at or
/// below it — once per crossing, not on every sale below it.
pub(crate) async fn note_low_stock(
    tx: &mut dyn StoreTx,
    sku: &Sku,
    threshold: Option<i64>,
    before: i64,
    after: i64,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let Some(threshold) = threshold else {
        return Ok(());
    };
    if before > threshold && after <= threshold {
        enqueue_stock(
            tx,
            "stock.low",
            sku,
            &json!({ "sku": sku, "available": after, "threshold": threshold, "at": now }),
            now,
        )
        .await?;
    }
    Ok(())
}

/// How `on_hand` changes: by a delta (an adjustment) or to a level (a count).
#[derive(Debug, Clone, Copy)]
enum OnHand {
    Add(i64),
    Set(i64),
}

/// A stock adjustment as a vendor asks for it, unchecked.
#[derive(Debug, Clone)]
pub struct AdjustStock {
    /// The location code (the vendor's default when `None`).
    pub location: Option<String>,
    /// Units added (receipt) or removed (damage, correction down).
    pub delta: i64,
    pub reason: String,
    pub note: Option<String>,
}

impl App {
    /// Adjusts `on_hand` by a delta, recording who, why and the result. An adjustment that
    /// would leave fewer units than are reserved for open orders (available below zero) is
    /// refused and changes nothing.
    pub async fn adjust_stock(
        &self,
        actor: &Actor,
        sku: &str,
        input: AdjustStock,
    ) -> AppResult<StockAdjustment> {
        manages_stock(actor)?;
        let sku = Sku::parse(sku).map_err(|_| AppError::NotFound("sku"))?;
        let reason = AdjustmentReason::parse(&input.reason).map_err(|e| e.at("reason"))?;
        if input.delta == 0 || input.delta.unsigned_abs() > 1_000_000_000 {
            return Err(ParseError::new(
                "invalid_quantity",
                "delta must be non-zero and at most 1000000000 either way",
            )
            .at("delta")
            .into());
        }
        let note = match input.note {
            Some(n) if !n.trim().is_empty() => Some(
                ordo_domain::order::ActionInput::parse(Some(n), None)
                    .map_err(|e| ParseError {
                        field: Some("note".into()),
                        ..e
                    })?
                    .reason
                    .unwrap_or_default(),
            ),
            _ => None,
        };
        let code = match input.location {
            Some(code) => LocationCode::parse(&code).map_err(|e| e.at("location"))?,
            None => LocationCode::default_code(),
        };
        let adjustment = self
            .change_on_hand(*actor, sku, code, OnHand::Add(input.delta), reason, note)
            .await?;
        adjustment.ok_or_else(|| AppError::Internal(anyhow::anyhow!("a delta adjusted nothing")))
    }

    /// Changes `on_hand` of `sku` at one location under the stock row lock, recording the
    /// change as an adjustment (who, why, by how much, the result), a `stock.updated` event
    /// and, when available stock falls to its threshold, `stock.low`. Setting the level it
    /// already has records nothing.
    async fn change_on_hand(
        &self,
        actor: Actor,
        sku: Sku,
        code: LocationCode,
        change: OnHand,
        reason: AdjustmentReason,
        note: Option<String>,
    ) -> AppResult<Option<StockAdjustment>> {
        let now = self.now();
        let stored = sku.clone();
        let adjustment = self
            .write_once(move |tx| {
                Box::pin(async move {
                    let sku = stored;
                    let variant = tx
                        .variants_for_sale(std::slice::from_ref(&sku))
                        .await?
                        .pop()
                        .ok_or(AppError::NotFound("sku"))?;
                    if !actor.manages_vendor(variant.vendor_id) {
                        return Err(AppError::NotFound("sku"));
                    }
                    let loc = tx
                        .location_by_code(variant.vendor_id, &code)
                        .await?
                        .ok_or_else(|| unknown_location(&code))?;
                    let levels = tx.lock_stock(&sku).await?;
                    let before: i64 = levels.iter().map(StockLevel::available).sum();
                    let here = levels.iter().find(|l| l.location_id == loc.id);
                    let (on_hand, available) = here.map_or((0, 0), |l| (l.on_hand, l.available()));
                    let delta = match change {
                        OnHand::Add(d) => d,
                        OnHand::Set(n) => n - on_hand,
                    };
                    if available + delta < 0 {
                        return Err(match change {
                            OnHand::Set(_) => AppError::conflict(
                                "below_reserved",
                                "on_hand cannot go below the units already reserved for open orders",
                                Some("on_hand"),
                            ),
                            OnHand::Add(_) => AppError::conflict(
                                "would_go_negative",
                                format!(
                                    "{sku} has {available} available at {}; removing {} would leave less than is reserved",
                                    code.as_str(),
                                    -delta
                                ),
                                Some("delta"),
                            ),
                        });
                    }
                    match here {
                        Some(_) if delta == 0 => return Ok(None),
                        Some(_) => tx.change_stock(&sku, loc.id, delta, 0).await?,
                        None => {
                            tx.set_on_hand(&sku, loc.id, delta, now).await?;
                            if delta == 0 {
                                return Ok(None);
                            }
                        }
                    }
                    let adjustment = StockAdjustment {
                        id: AdjustmentId::new(),
                        sku: sku.clone(),
                        location_id: loc.id,
                        delta,
                        reason,
                        note,
                        actor,
                        on_hand_after: on_hand + delta,
                        at: now,
                    };
                    tx.insert_adjustment(&adjustment).await?;
                    enqueue_stock(
                        tx,
                        "stock.updated",
                        &sku,
                        &json!({
                            "sku": sku, "location": code, "delta": delta, "reason": reason,
                            "on_hand": on_hand + delta, "actor": actor,
                        }),
                        now,
                    )
                    .await?;
                    note_low_stock(tx, &sku, variant.low_stock_threshold, before, before + delta, now)
                        .await?;
                    Ok(Some(adjustment))
                })
            })
            .await?;
        if adjustment.as_ref().is_some_and(|a| a.delta > 0) {
            self.sold_out.invalidate(sku.as_str());
        }
        Ok(adjustment)
    }

    /// A SKU's recorded adjustments, newest first.
    pub async fn stock_adjustments(
        &self,
        actor: &Actor,
        sku: &str,
    ) -> AppResult<Vec<StockAdjustment>> {
        let stock = self.stock(actor, sku).await?;
        Ok(self.store.stock_adjustments(&stock.sku, 100).await?)
    }

    /// Sets or clears the low-stock threshold of a SKU.
    pub async fn set_low_stock_threshold(
        &self,
        actor: &Actor,
        sku: &str,
        threshold: Option<i64>,
    ) -> AppResult<()> {
        manages_stock(actor)?;
        let sku = Sku::parse(sku).map_err(|_| AppError::NotFound("sku"))?;
        let threshold = threshold
            .map(parse_on_hand)
            .transpose()
            .map_err(|e| e.at("low_stock_threshold"))?;
        let actor = *actor;
        self.write(move |tx| {
            Box::pin(async move {
                let vendor = tx
                    .sku_vendor(&sku)
                    .await?
                    .ok_or(AppError::NotFound("sku"))?;
                if !actor.manages_vendor(vendor) {
                    return Err(AppError::NotFound("sku"));
                }
                tx.set_low_stock_threshold(&sku, threshold).await?;
                Ok(())
            })
        })
        .await
    }

    /// The caller's SKUs at or below their low-stock threshold (a vendor's own; an admin
    /// names the vendor).
    pub async fn low_stock(
        &self,
        actor: &Actor,
        vendor: Option<VendorId>,
    ) -> AppResult<Vec<LowStock>> {
        let vendor = match (actor.role, vendor) {
            (Role::Vendor, _) => actor.vendor_id.ok_or(AppError::Unauthenticated)?,
            (Role::Admin | Role::Support | Role::System, Some(v)) => v,
            (Role::Admin | Role::Support | Role::System, None) => {
                return Err(
                    ParseError::new("missing_vendor", "name the vendor (vendor_id)")
                        .at("vendor_id")
                        .into(),
                );
            }
            _ => {
                return Err(AppError::Forbidden(format!(
                    "a {} cannot read stock levels",
                    actor.role
                )));
            }
        };
        Ok(self.store.low_stock(vendor).await?)
    }
}

fn manages_stock(actor: &Actor) -> AppResult<()> {
    if matches!(actor.role, Role::Vendor | Role::Admin | Role::System) {
        Ok(())
    } else {
        Err(AppError::Forbidden(format!(
            "a {} cannot change stock levels",
            actor.role
        )))
    }
}

fn unknown_location(code: &LocationCode) -> AppError {
    ParseError::new(
        "unknown_location",
        format!("the vendor has no location {}", code.as_str()),
    )
    .at("location")
    .into()
}
