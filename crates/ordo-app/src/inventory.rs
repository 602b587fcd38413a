//! Stock levels per SKU and location, as vendors set them.
//!
//! Setting `on_hand` never touches `reserved`; a level below what is already reserved for open
//! orders is refused, because those units are promised.

use ordo_domain::ParseError;
use ordo_domain::catalog::{LocationCode, Sku};
use ordo_domain::identity::{Actor, Role};
use ordo_domain::inventory::parse_on_hand;
use ordo_store::{OutboxMessage, SkuStock, StoreError, constraints};
use serde_json::json;

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
        if !matches!(actor.role, Role::Vendor | Role::Admin | Role::System) {
            return Err(AppError::Forbidden(format!(
                "a {} cannot change stock levels",
                actor.role
            )));
        }
        let sku = Sku::parse(sku).map_err(|_| AppError::NotFound("sku"))?;
        let on_hand = parse_on_hand(on_hand).map_err(|e| e.at("on_hand"))?;
        let code = match location {
            Some(code) => LocationCode::parse(code).map_err(|e| e.at("location"))?,
            None => LocationCode::default_code(),
        };
        let now = self.now();
        let actor = *actor;
        let stored = sku.clone();
        self.write(move |tx| {
            Box::pin(async move {
                let sku = stored;
                let vendor = tx
                    .sku_vendor(&sku)
                    .await?
                    .ok_or(AppError::NotFound("sku"))?;
                if !actor.manages_vendor(vendor) {
                    return Err(AppError::NotFound("sku"));
                }
                let loc = tx.location_by_code(vendor, &code).await?.ok_or_else(|| {
                    ParseError::new(
                        "unknown_location",
                        format!("the vendor has no location {}", code.as_str()),
                    )
                    .at("location")
                })?;
                match tx.set_on_hand(&sku, loc.id, on_hand, now).await {
                    Err(StoreError::Conflict(c))
                        if c == constraints::STOCK_RESERVED_WITHIN_ON_HAND =>
                    {
                        return Err(AppError::conflict(
                            "below_reserved",
                            "on_hand cannot go below the units already reserved for open orders",
                            Some("on_hand"),
                        ));
                    }
                    other => other?,
                }
                tx.enqueue(&OutboxMessage {
            topic: "stock.updated".into(),
            key: sku.to_string(),
            payload: serde_json::value::to_raw_value(
                &json!({ "sku": sku, "location": code, "on_hand": on_hand, "actor": actor }),
            )
            .map_err(|e| AppError::Internal(e.into()))?,
            created_at: now,
        })
        .await?;
                Ok(())
            })
        })
        .await?;
        self.sold_out.invalidate(sku.as_str());
        self.store
            .stock(&sku)
            .await?
            .ok_or(AppError::NotFound("sku"))
    }
}
