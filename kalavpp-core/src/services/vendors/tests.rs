//! Unit tests of the vendor service: the vendor capability follows the shop status and the
//! current role; system decisions are audited without an actor.

use super::*;
use crate::auth::Actor;
use crate::config::HashCost;
use crate::domain::{AuditFilter, PageRequest, VendorStatus};
use crate::error::{Error, Result};
use crate::services::Registration;
use crate::{Config, DatabaseUrl, Marketplace};

fn code<T: std::fmt::Debug>(result: Result<T>) -> &'static str {
    match result.unwrap_err() {
        Error::Forbidden { code, .. } | Error::Unauthorized { code, .. } | Error::NotFound { code, .. } => code,
        other => panic!("unexpected {other:?}"),
    }
}

async fn market(dir: &tempfile::TempDir) -> Marketplace {
    let mut config = Config::for_development(DatabaseUrl::memory());
    config.data_dir = dir.path().to_owned();
    config.hash_cost = HashCost::TestsOnly;
    Marketplace::open(config).await.unwrap()
}

/// The actor as a request would see it now: the role read fresh from the database.
async fn signed_in(market: &Marketplace, email: &str) -> Actor {
    let login = market.accounts().login(email, "a long enough password").await.unwrap();
    market.accounts().authenticate(&login.tokens.access_token).await.unwrap()
}

async fn register(market: &Marketplace, email: &str) -> Actor {
    let registration = Registration {
        email: email.into(),
        password: "a long enough password".into(),
        name: "Someone".into(),
    };
    market.accounts().register(registration).await.unwrap();
    signed_in(market, email).await
}

fn application(name: &str) -> VendorApplication {
    VendorApplication {
        shop_name: name.into(),
        ..VendorApplication::default()
    }
}

#[tokio::test]
async fn the_vendor_cap_follows_the_shop_status_and_the_current_role() {
    let dir = tempfile::tempdir().unwrap();
    let market = market(&dir).await;
    let vendors = market.vendors();
    assert_eq!(code(vendors.require_approved(&Actor::Anonymous).await), "authentication_required");
    let ann = register(&market, "ann@example.com").await;
    assert_eq!(code(vendors.require_approved(&ann).await), "vendor_only", "no shop yet");
    let shop = vendors.apply(&ann, application("Ann Art")).await.unwrap();
    assert_eq!(code(vendors.require_approved(&ann).await), "vendor_not_approved", "pending");

    // Admin work needs an AdminCap: the applicant cannot approve itself, and nothing changes.
    assert_eq!(code(vendors.approve(&ann, shop.id).await), "admin_only");
    assert_eq!(code(vendors.approve(&Actor::Anonymous, shop.id).await), "authentication_required");
    assert_eq!(vendors.mine(&ann).await.unwrap().status, VendorStatus::Pending);
    vendors.approve(&Actor::System, shop.id).await.unwrap();

    // The actor of the earlier request still has the customer role; the next request's has
    // the vendor role. Nothing is cached beyond a request.
    assert_eq!(code(vendors.require_approved(&ann).await), "vendor_only");
    let ann = signed_in(&market, "ann@example.com").await;
    let cap = vendors.require_approved(&ann).await.unwrap();
    assert_eq!((cap.id(), cap.vendor().status), (shop.id, VendorStatus::Approved));

    vendors.suspend(&Actor::System, shop.id).await.unwrap();
    assert_eq!(code(vendors.require_approved(&ann).await), "vendor_not_approved", "suspended");
    vendors.reinstate(&Actor::System, shop.id).await.unwrap();
    assert!(vendors.require_approved(&ann).await.is_ok());

    let bo = register(&market, "bo@example.com").await;
    let rejected = vendors.apply(&bo, application("Bo Art")).await.unwrap();
    vendors.reject(&Actor::System, rejected.id, "not yet").await.unwrap();
    assert_eq!(code(vendors.require_approved(&bo).await), "vendor_not_approved", "rejected");

    // Demoted to customer by an admin: the shop stays approved, the account no longer sells.
    market
        .admin()
        .update_user(
            &Actor::System,
            ann.user_id().unwrap(),
            crate::services::UserChanges {
                role: Some("customer".into()),
                ..crate::services::UserChanges::default()
            },
        )
        .await
        .unwrap();
    let ann = signed_in(&market, "ann@example.com").await;
    assert_eq!(code(vendors.require_approved(&ann).await), "vendor_only");
}

#[tokio::test]
async fn system_decisions_are_audited_without_an_actor() {
    let dir = tempfile::tempdir().unwrap();
    let market = market(&dir).await;
    let cy = register(&market, "cy@example.com").await;
    let shop = market.vendors().apply(&cy, application("Cy Art")).await.unwrap();
    market.vendors().approve(&Actor::System, shop.id).await.unwrap();
    assert_eq!(
        code(
            market
                .admin()
                .list_audit(&cy, AuditFilter::default(), PageRequest::new(1, 20))
                .await
        ),
        "admin_only"
    );
    let log = market
        .admin()
        .list_audit(&Actor::System, AuditFilter::default(), PageRequest::new(1, 20))
        .await
        .unwrap();
    let row = log.items.iter().find(|r| r.action == "vendor.approve").unwrap();
    assert_eq!((row.actor_id, row.target_id.as_str()), (None, shop.id.to_string().as_str()));
}
