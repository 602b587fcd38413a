//! Conformance of pricing.

use chrono::{TimeZone, Utc};
use ordo_domain::ids::PromotionId;
use ordo_domain::pricing::{Discount, Percent, Promotion};

use super::unit;
use crate::Store;

/// 40 units race to use a promotion limited to 5 uses: exactly 5 succeed, and the book
/// reports 5 uses.
pub async fn a_limited_promotion_is_never_used_past_its_limit(store: &dyn Store) {
    let code = format!("LIMIT{}", &PromotionId::new().0.simple().to_string()[20..]).to_uppercase();
    let promo = Promotion {
        id: PromotionId::new(),
        code: Some(code.clone()),
        name: "five only".into(),
        discount: Discount::Percentage {
            percent: Percent::parse("10").unwrap(),
        },
        min_subtotal: None,
        vendor_id: None,
        usage_limit: Some(5),
        uses: 0,
        active: true,
        starts_at: None,
        ends_at: None,
    };
    let p = promo.clone();
    unit(store, move |tx| {
        Box::pin(async move { tx.insert_promotion(&p, Utc::now()).await })
    })
    .await
    .unwrap();
    let id = promo.id;
    let tries = (0..40).map(|_| {
        unit(store, move |tx| {
            Box::pin(async move { tx.use_promotion(id).await })
        })
    });
    let used = futures_util::future::join_all(tries)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(true)))
        .count();
    assert_eq!(used, 5);
    let book = store.pricing_book().await.unwrap();
    let stored = book.promotion_by_code(&code).unwrap();
    assert_eq!((stored.uses, stored.usage_limit), (5, Some(5)));
    assert_eq!(stored.discount, promo.discount);
}

/// A rule is stored under its natural key: putting it again replaces it under its first id; it
/// reads back in the book whole and is gone once deleted (once). A promotion's definition is
/// replaced with its use count kept.
pub async fn rules_replace_by_key_and_promotions_keep_their_uses(store: &dyn Store) {
    use crate::RuleKind;
    use ordo_domain::ids::RuleId;
    use ordo_domain::pricing::FxRate;
    let at = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let rate = |id: RuleId, rate: &str| -> FxRate {
        serde_json::from_value(serde_json::json!({
            "id": id, "from": "EUR", "to": "USD", "rate": rate, "rounding": "half_even"
        }))
        .unwrap()
    };
    let raw = |r: &FxRate| serde_json::value::to_raw_value(r).unwrap();
    let (first, second) = (RuleId::new(), RuleId::new());
    let (a, b) = (raw(&rate(first, "1.085")), raw(&rate(second, "1.1")));
    let ids = unit(store, move |tx| {
        Box::pin(async move {
            let one = tx.put_rule(RuleKind::Fx, "EUR/USD", first, &a, at).await?;
            let two = tx.put_rule(RuleKind::Fx, "EUR/USD", second, &b, at).await?;
            Ok((one, two))
        })
    })
    .await
    .unwrap();
    assert_eq!(ids, (first, first), "a replace keeps the first id");
    let book = store.pricing_book().await.unwrap();
    assert_eq!(book.fx, vec![rate(first, "1.1")]);

    let promo = Promotion {
        id: PromotionId::new(),
        code: Some("SPRING".into()),
        name: "Frühling 🌸".into(),
        discount: Discount::Percentage {
            percent: Percent::parse("10").unwrap(),
        },
        min_subtotal: None,
        vendor_id: None,
        usage_limit: Some(10),
        uses: 0,
        active: true,
        starts_at: None,
        ends_at: None,
    };
    let changed = Promotion {
        name: "Frühling, mehr".into(),
        discount: Discount::Percentage {
            percent: Percent::parse("15").unwrap(),
        },
        active: false,
        ..promo.clone()
    };
    let ghost = Promotion {
        id: PromotionId::new(),
        ..promo.clone()
    };
    let (p, c) = (promo.clone(), changed.clone());
    let updated = unit(store, move |tx| {
        Box::pin(async move {
            tx.insert_promotion(&p, at).await?;
            tx.use_promotion(p.id).await?;
            Ok((
                tx.update_promotion(&c, at).await?,
                tx.update_promotion(&ghost, at).await?,
            ))
        })
    })
    .await
    .unwrap();
    assert_eq!(updated, (true, false));
    let book = store.pricing_book().await.unwrap();
    let stored = book.promotions.iter().find(|p| p.id == promo.id).unwrap();
    assert_eq!(stored, &Promotion { uses: 1, ..changed });

    let deleted = unit(store, move |tx| {
        Box::pin(async move {
            Ok((
                tx.delete_rule(RuleKind::Fx, first).await?,
                tx.delete_rule(RuleKind::Fx, first).await?,
            ))
        })
    })
    .await
    .unwrap();
    assert_eq!(deleted, (true, false));
    assert!(store.pricing_book().await.unwrap().fx.is_empty());
}
