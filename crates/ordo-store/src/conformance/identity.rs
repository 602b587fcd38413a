//! Conformance of identity: users, sessions, step-ups, second factors and guest accounts.

use chrono::{Duration, TimeZone, Utc};
use ordo_domain::identity::{EmailAddress, Role, User};
use ordo_domain::ids::UserId;

use super::{fixture, unit};
use crate::{Session, Store};

/// A user is found by e-mail (with the hash to check) and by id; users list by e-mail, page by
/// page, with whether each is disabled; a vendor's staff are its enabled users; a change of role
/// or a disabling is kept, and a disabled user's sessions stop working.
pub async fn users_are_found_listed_changed_and_disabled(store: &dyn Store) {
    let f = fixture(store, "users").await;
    let at = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let credentials = store
        .credentials(&f.customer.email)
        .await
        .unwrap()
        .expect("credentials by e-mail");
    assert_eq!(credentials.user, f.customer);
    assert_eq!(credentials.password_hash, "hash");
    let nobody = EmailAddress::parse("nobody@example.com").unwrap();
    assert!(store.credentials(&nobody).await.unwrap().is_none());
    assert_eq!(
        store.user(f.customer.id).await.unwrap(),
        Some(f.customer.clone())
    );
    assert!(store.user(UserId::new()).await.unwrap().is_none());

    let staff = |name: &str| User {
        id: UserId::new(),
        email: EmailAddress::parse(&format!("{name}@vendor.example")).unwrap(),
        role: Role::Vendor,
        vendor_id: Some(f.vendor),
    };
    let (ann, bob) = (staff("ann"), staff("bob"));
    let (a, b) = (ann.clone(), bob.clone());
    unit(store, move |tx| {
        Box::pin(async move {
            tx.insert_user(&b, "hash-b", at).await?;
            tx.insert_user(&a, "hash-a", at).await
        })
    })
    .await
    .unwrap();
    assert_eq!(
        store.vendor_staff(f.vendor).await.unwrap(),
        vec![ann.clone(), bob.clone()],
        "a vendor's staff, by e-mail"
    );

    // Every user by e-mail, in pages.
    let first = store.users(None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|(u, _)| u.id).collect::<Vec<_>>(),
        vec![ann.id, bob.id]
    );
    let rest = store.users(Some(bob.email.as_str()), 10).await.unwrap();
    assert_eq!(
        rest.iter().map(|(u, d)| (u.id, *d)).collect::<Vec<_>>(),
        vec![(f.customer.id, false)]
    );

    // Bob becomes support and Ann is disabled: Ann's session stops working at once.
    let session = Session {
        token_hash: b"ann-session".to_vec(),
        user_id: ann.id,
        created_at: at,
        expires_at: at + Duration::hours(1),
        fresh_until: None,
    };
    let s = session.clone();
    unit(store, move |tx| {
        Box::pin(async move { tx.insert_session(&s).await })
    })
    .await
    .unwrap();
    assert!(
        store
            .session_user(b"ann-session", at)
            .await
            .unwrap()
            .is_some()
    );
    let support = User {
        role: Role::Support,
        vendor_id: None,
        ..bob.clone()
    };
    let (s, a, ghost) = (support.clone(), ann.clone(), staff("ghost"));
    let changed = unit(store, move |tx| {
        Box::pin(async move {
            Ok((
                tx.update_user(&s, None).await?,
                tx.update_user(&a, Some(at)).await?,
                tx.update_user(&ghost, None).await?,
            ))
        })
    })
    .await
    .unwrap();
    assert_eq!(
        changed,
        (true, true, false),
        "an unknown user is not changed"
    );
    assert_eq!(store.user(bob.id).await.unwrap(), Some(support));
    assert!(store.vendor_staff(f.vendor).await.unwrap().is_empty());
    assert!(
        store
            .session_user(b"ann-session", at)
            .await
            .unwrap()
            .is_none()
    );
    let listed = store.users(None, 10).await.unwrap();
    assert!(listed.contains(&(ann.clone(), true)), "{listed:?}");
    assert!(store.auth_factors(ann.id).await.unwrap().unwrap().disabled);
}

/// A session lives until it expires or is revoked (once); step-ups count failures on the session
/// and the user, lock the user out when told to, and make the session fresh when they succeed;
/// a TOTP step is taken only when it is later than the last; recovery codes work once each.
pub async fn sessions_step_ups_and_second_factors_hold(store: &dyn Store) {
    let f = fixture(store, "sessions").await;
    let user = f.customer.id;
    let at = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let session = Session {
        token_hash: b"token".to_vec(),
        user_id: user,
        created_at: at,
        expires_at: at + Duration::hours(1),
        fresh_until: None,
    };
    let s = session.clone();
    unit(store, move |tx| {
        Box::pin(async move { tx.insert_session(&s).await })
    })
    .await
    .unwrap();
    let live = store
        .session_user(b"token", at + Duration::minutes(1))
        .await
        .unwrap()
        .expect("a live session");
    assert_eq!(live.user, f.customer);
    assert_eq!(
        (live.totp, live.fresh_until, live.step_up_failures),
        (false, None, 0)
    );
    assert_eq!(live.expires_at, session.expires_at);
    assert!(
        store
            .session_user(b"token", at + Duration::hours(2))
            .await
            .unwrap()
            .is_none(),
        "an expired session is not live"
    );
    assert!(store.session_user(b"other", at).await.unwrap().is_none());

    // Two failures: counted on the session and the user; the second locks the user out and
    // starts their count again.
    let lock = at + Duration::minutes(15);
    unit(store, move |tx| {
        Box::pin(async move { tx.step_up_failed(b"token", user, None).await })
    })
    .await
    .unwrap();
    let factors = store.auth_factors(user).await.unwrap().unwrap();
    assert_eq!(
        (factors.step_up_failures, factors.step_up_locked_until),
        (1, None)
    );
    unit(store, move |tx| {
        Box::pin(async move { tx.step_up_failed(b"token", user, Some(lock)).await })
    })
    .await
    .unwrap();
    let factors = store.auth_factors(user).await.unwrap().unwrap();
    assert_eq!(
        (factors.step_up_failures, factors.step_up_locked_until),
        (0, Some(lock))
    );
    assert_eq!(
        store
            .session_user(b"token", at)
            .await
            .unwrap()
            .unwrap()
            .step_up_failures,
        2
    );

    // TOTP: enrolled and confirmed with two recovery codes.
    let codes = vec![b"code-1".to_vec(), b"code-2".to_vec()];
    unit(store, move |tx| {
        Box::pin(async move {
            tx.set_totp(user, Some("JBSWY3DPEHPK3PXP"), Some(at), Some(&codes))
                .await
        })
    })
    .await
    .unwrap();
    let factors = store.auth_factors(user).await.unwrap().unwrap();
    assert_eq!(factors.password_hash, "hash");
    assert_eq!(factors.totp_secret.as_deref(), Some("JBSWY3DPEHPK3PXP"));
    assert!(factors.totp_confirmed && !factors.disabled);
    assert!(
        store
            .session_user(b"token", at)
            .await
            .unwrap()
            .unwrap()
            .totp
    );

    // A step-up with TOTP step 100, the same step again (refused), then 101.
    let fresh = at + Duration::minutes(10);
    let taken = unit(store, move |tx| {
        Box::pin(async move {
            let first = tx
                .step_up_succeeded(b"token", user, fresh, Some(100))
                .await?;
            let again = tx
                .step_up_succeeded(b"token", user, fresh, Some(100))
                .await?;
            let later = tx
                .step_up_succeeded(b"token", user, fresh, Some(101))
                .await?;
            Ok((first, again, later))
        })
    })
    .await
    .unwrap();
    assert_eq!(taken, (true, false, true), "a TOTP step is taken once");
    let live = store.session_user(b"token", at).await.unwrap().unwrap();
    assert_eq!(live.fresh_until, Some(fresh));
    let factors = store.auth_factors(user).await.unwrap().unwrap();
    assert_eq!(factors.totp_last_step, Some(101));
    assert_eq!(factors.step_up_failures, 0);

    // Recovery codes: each works once; an unknown one never.
    let used = unit(store, move |tx| {
        Box::pin(async move {
            Ok((
                tx.use_recovery_code(user, b"code-1", at).await?,
                tx.use_recovery_code(user, b"code-1", at).await?,
                tx.use_recovery_code(user, b"code-9", at).await?,
                tx.use_recovery_code(user, b"code-2", at).await?,
            ))
        })
    })
    .await
    .unwrap();
    assert_eq!(used, (true, false, false, true));

    // Turning TOTP off clears the secret.
    unit(store, move |tx| {
        Box::pin(async move { tx.set_totp(user, None, None, None).await })
    })
    .await
    .unwrap();
    let factors = store.auth_factors(user).await.unwrap().unwrap();
    assert!(factors.totp_secret.is_none() && !factors.totp_confirmed);
    assert!(store.auth_factors(UserId::new()).await.unwrap().is_none());

    // Revoked once: the second revoke finds nothing live.
    let revoked = unit(store, move |tx| {
        Box::pin(async move {
            Ok((
                tx.revoke_session(b"token", at).await?,
                tx.revoke_session(b"token", at).await?,
            ))
        })
    })
    .await
    .unwrap();
    assert_eq!(revoked, (true, false));
    assert!(store.session_user(b"token", at).await.unwrap().is_none());

    // Other nodes' changes can be followed only where there can be other nodes.
    let follows = store.auth_changes().await.unwrap().is_some();
    assert_eq!(follows, store.backend() == "postgres");
}

/// A guest account is marked as one, claimed once (its password set), and then reads as claimed;
/// a registered user is no guest.
pub async fn guest_accounts_are_claimed_once(store: &dyn Store) {
    let f = fixture(store, "guests").await;
    let at = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    let guest = User {
        id: UserId::new(),
        email: EmailAddress::parse("guest@example.com").unwrap(),
        role: Role::Customer,
        vendor_id: None,
    };
    let g = guest.clone();
    unit(store, move |tx| {
        Box::pin(async move {
            tx.insert_user(&g, "", at).await?;
            tx.insert_guest_account(g.id, at).await
        })
    })
    .await
    .unwrap();
    assert_eq!(store.guest_account(guest.id).await.unwrap(), Some(false));
    assert_eq!(store.guest_account(f.customer.id).await.unwrap(), None);
    let id = guest.id;
    let claims = unit(store, move |tx| {
        Box::pin(async move {
            Ok((
                tx.claim_guest_account(id, "new-hash", at).await?,
                tx.claim_guest_account(id, "other-hash", at).await?,
            ))
        })
    })
    .await
    .unwrap();
    assert_eq!(claims, (true, false), "a guest account is claimed once");
    assert_eq!(store.guest_account(guest.id).await.unwrap(), Some(true));
    let credentials = store.credentials(&guest.email).await.unwrap().unwrap();
    assert_eq!(credentials.password_hash, "new-hash");
}
