//! `VendorStore`: applications, re-applications, lookups, the vendor list, profile changes and
//! admin decisions (status, commission, role, audit row and email in one transaction).

use crate::domain::{AuditFilter, EmailFilter, VendorFilter};
use crate::domain::{PageRequest, Role, UserId, VendorId, VendorStatus};
use crate::storage::{Conflict, HasStatus, Sluggable, Table};
use crate::storage::{NewVendor, VendorProfileChange};

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_vendors {
    ($callback:ident) => {
        $callback! {
            group: vendors,
            store: [
                insert_vendor_round_trips,
                second_application_of_a_user_is_a_conflict_on_user_id,
                taken_slug_is_a_conflict_on_slug,
                duplicate_vendor_id_is_a_conflict,
                unknown_vendor_is_none,
                reapply_only_from_rejected,
                approve_grants_the_vendor_role_with_audit_row_and_email,
                approving_twice_is_a_conflict_and_changes_nothing,
                approving_an_admin_keeps_the_admin_role,
                reject_stores_the_reason_and_approval_clears_it,
                suspend_and_reinstate_keep_the_first_approval_time,
                decide_unknown_vendor_is_not_found_and_not_audited,
                commission_change_keeps_status_and_reason,
                concurrent_decisions_on_one_vendor_apply_once,
                list_vendors_filters_status,
                list_vendors_paginates_newest_first,
                update_vendor_profile_changes_only_given_fields,
                update_vendor_profile_of_unknown_vendor_is_not_found,
                vendor_product_count_counts_published_products,
            ],
            sql: [],
        }
    };
}

__conformance_vendors!(define_cases);

const ALL: [VendorStatus; 4] = [
    VendorStatus::Pending,
    VendorStatus::Approved,
    VendorStatus::Rejected,
    VendorStatus::Suspended,
];

/// Ids of a list, in the order returned.
async fn listed(store: &Db, status: Option<VendorStatus>) -> Vec<VendorId> {
    let page = store
        .list_vendors(&VendorFilter { status }, PageRequest::new(1, 100))
        .await
        .expect("list vendors");
    assert_eq!(page.total, page.items.len() as i64, "one page holds them all");
    page.items.into_iter().map(|v| v.id).collect()
}

async fn role_of(store: &Db, user_id: UserId) -> Role {
    store.user_by_id(user_id).await.unwrap().expect("user").role
}

pub async fn insert_vendor_round_trips(store: Db) {
    let owner = new_user(&store, "ann@example.com").await;
    let at = now();
    let payout = serde_json::json!({ "iban": "DE89 3704 0044 0532 0130 00", "holder": "Ann Lee", "nested": { "n": 1, "ok": true } });
    let record = NewVendor {
        bio: Some("Oil on canvas — naïve “quotes” 'and' \\ more".into()),
        payout_details: Some(payout.clone()),
        at,
        ..application(owner.id, "Ann's Atelier")
    };
    let vendor = store.insert_vendor(record.clone()).await.unwrap();
    assert_eq!(vendor.id, record.id);
    assert_eq!(vendor.user_id, owner.id);
    assert_eq!(vendor.slug, "ann-s-atelier");
    assert_eq!(vendor.shop_name, "Ann's Atelier");
    assert_eq!(vendor.bio, record.bio);
    assert_eq!(vendor.payout_details, Some(payout));
    assert_eq!(vendor.status, VendorStatus::Pending, "applications start pending");
    assert_eq!(vendor.rejection_reason, None);
    assert_eq!(vendor.commission_bps, None);
    assert_eq!((vendor.rating_avg, vendor.rating_count, vendor.product_count), (0.0, 0, 0));
    assert_eq!(vendor.created_at, at, "created_at round-trips to the microsecond");
    assert_eq!(vendor.updated_at, at);
    assert_eq!(vendor.approved_at, None);

    assert_eq!(store.vendor_by_id(vendor.id).await.unwrap().as_ref(), Some(&vendor));
    assert_eq!(store.vendor_by_slug("ann-s-atelier").await.unwrap().as_ref(), Some(&vendor));
    assert_eq!(store.vendor_by_user(owner.id).await.unwrap().as_ref(), Some(&vendor));
    assert_eq!(role_of(&store, owner.id).await, Role::Customer, "applying does not change the role");

    // A second vendor without details is told apart.
    let (bob, plain) = applicant_at(&store, "bob@example.com", "Bob Prints", now()).await;
    assert_eq!((plain.bio.as_deref(), plain.payout_details.as_ref()), (None, None));
    assert_eq!(store.vendor_by_user(bob.id).await.unwrap().unwrap().id, plain.id);
    assert_eq!(store.vendor_by_slug("bob-prints").await.unwrap().unwrap(), plain);
    assert_eq!(store.vendor_by_id(vendor.id).await.unwrap().unwrap().slug, "ann-s-atelier");
}

pub async fn second_application_of_a_user_is_a_conflict_on_user_id(store: Db) {
    let (owner, first) = applicant_at(&store, "ann@example.com", "Ann Atelier", now()).await;
    let again = application(owner.id, "Another Shop");
    assert_conflict(store.insert_vendor(again.clone()).await, Conflict::AlreadyApplied);
    assert!(store.vendor_by_id(again.id).await.unwrap().is_none(), "nothing was written");
    assert!(store.vendor_by_slug("another-shop").await.unwrap().is_none());
    assert_eq!(store.vendor_by_user(owner.id).await.unwrap().unwrap(), first);

    // Also while the first application is rejected: that one is re-applied, not duplicated.
    store
        .decide_vendor(decision(first.id, &[VendorStatus::Pending], Some(VendorStatus::Rejected), now()))
        .await
        .unwrap();
    assert_conflict(
        store.insert_vendor(application(owner.id, "Third Shop")).await,
        Conflict::AlreadyApplied,
    );
    assert_eq!(listed(&store, None).await, [first.id]);
}

pub async fn taken_slug_is_a_conflict_on_slug(store: Db) {
    let (_, first) = applicant_at(&store, "ann@example.com", "Blue Door", now()).await;
    let bob = new_user(&store, "bob@example.com").await;
    // A different shop name that makes the same slug.
    let clash = application(bob.id, "Blue  Door!");
    assert_eq!(clash.slug, first.slug);
    assert_conflict(store.insert_vendor(clash.clone()).await, Conflict::SlugTaken(Sluggable::Vendor));
    assert!(store.vendor_by_user(bob.id).await.unwrap().is_none(), "nothing was written");
    assert!(store.vendor_by_id(clash.id).await.unwrap().is_none());

    // The user can still apply with a free slug.
    let ok = store.insert_vendor(application(bob.id, "Blue Door 2")).await.unwrap();
    assert_eq!(ok.slug, "blue-door-2");
    assert_eq!(listed(&store, None).await.len(), 2);
}

pub async fn duplicate_vendor_id_is_a_conflict(store: Db) {
    let (_, first) = applicant_at(&store, "ann@example.com", "Ann Atelier", now()).await;
    let bob = new_user(&store, "bob@example.com").await;
    let clash = NewVendor {
        id: first.id,
        ..application(bob.id, "Bob Prints")
    };
    assert_conflict(store.insert_vendor(clash).await, Conflict::DuplicateId(Table::Vendors));
    assert!(store.vendor_by_user(bob.id).await.unwrap().is_none());
}

pub async fn unknown_vendor_is_none(store: Db) {
    assert!(store.vendor_by_id(VendorId::new()).await.unwrap().is_none());
    assert!(store.vendor_by_slug("nope").await.unwrap().is_none());
    assert!(store.vendor_by_user(UserId::new()).await.unwrap().is_none());

    let (owner, _) = applicant_at(&store, "ann@example.com", "Ann Atelier", now()).await;
    let other = new_user(&store, "bob@example.com").await;
    assert!(store.vendor_by_id(VendorId::new()).await.unwrap().is_none());
    assert!(
        store.vendor_by_user(other.id).await.unwrap().is_none(),
        "a user without an application"
    );
    assert!(store.vendor_by_user(owner.id).await.unwrap().is_some());
    // Slug lookup is exact, not a prefix, pattern or case-insensitive match.
    assert!(store.vendor_by_slug("ann-atelie").await.unwrap().is_none());
    assert!(store.vendor_by_slug("ann-atelie%").await.unwrap().is_none());
    assert!(store.vendor_by_slug("ann-atelie_").await.unwrap().is_none());
    assert!(store.vendor_by_slug("Ann-Atelier").await.unwrap().is_none());
}

pub async fn reapply_only_from_rejected(store: Db) {
    let t = now();
    let (owner, pending) = applicant_at(&store, "ann@example.com", "Ann Atelier", t).await;
    let again = |at| NewVendor {
        id: VendorId::new(),
        user_id: owner.id,
        slug: "ann-new-name".into(),
        shop_name: "Ann New Name".into(),
        bio: Some("Second try".into()),
        payout_details: Some(serde_json::json!({ "paypal": "ann@example.com" })),
        at,
    };

    // Pending: nothing to re-apply.
    assert!(store.reapply_vendor(again(t + secs(1))).await.unwrap().is_none());
    assert_eq!(store.vendor_by_id(pending.id).await.unwrap().unwrap(), pending, "unchanged");
    // A user who never applied.
    let stranger = new_user(&store, "bob@example.com").await;
    let strangers = NewVendor {
        user_id: stranger.id,
        ..again(t + secs(1))
    };
    assert!(store.reapply_vendor(strangers).await.unwrap().is_none());
    assert!(
        store.vendor_by_user(stranger.id).await.unwrap().is_none(),
        "re-applying never inserts"
    );

    // Rejected: back to pending with the new details.
    let mut rejection = decision(pending.id, &[VendorStatus::Pending], Some(VendorStatus::Rejected), t + secs(2));
    rejection.rejection_reason = Some("Blurry photos".into());
    store.decide_vendor(rejection).await.unwrap();
    let record = again(t + secs(3));
    let back = store.reapply_vendor(record.clone()).await.unwrap().expect("re-applied");
    assert_eq!(back.id, pending.id, "the same vendor row, not the id offered");
    assert_eq!(back.status, VendorStatus::Pending);
    assert_eq!(back.rejection_reason, None, "the old reason is cleared");
    assert_eq!(back.shop_name, "Ann New Name");
    assert_eq!(back.bio.as_deref(), Some("Second try"));
    assert_eq!(back.payout_details, record.payout_details);
    assert_eq!(back.slug, "ann-atelier", "the slug made at the first application is kept");
    assert_eq!(back.created_at, t, "created_at is the first application's");
    assert_eq!(back.updated_at, t + secs(3));
    assert_eq!(back.approved_at, None);
    assert!(store.vendor_by_id(record.id).await.unwrap().is_none());
    assert_eq!(store.vendor_by_user(owner.id).await.unwrap().unwrap(), back);
    assert_eq!(listed(&store, None).await, [pending.id]);

    // Pending again: a second re-application is refused; approved and suspended ones too.
    assert!(store.reapply_vendor(again(t + secs(4))).await.unwrap().is_none());
    approve(&store, pending.id).await;
    assert!(store.reapply_vendor(again(t + secs(5))).await.unwrap().is_none());
    set_vendor_status(&store, pending.id, VendorStatus::Suspended).await;
    assert!(store.reapply_vendor(again(t + secs(6))).await.unwrap().is_none());
    assert_eq!(
        store.vendor_by_id(pending.id).await.unwrap().unwrap().status,
        VendorStatus::Suspended
    );
}

pub async fn approve_grants_the_vendor_role_with_audit_row_and_email(store: Db) {
    let admin = new_user(&store, "ada@example.com").await;
    let (owner, pending) = applicant_at(&store, "ann@example.com", "Ann Atelier", now()).await;
    let bystander = new_user(&store, "bob@example.com").await;
    let at = now() + secs(5);
    let mut approval = decision(pending.id, &[VendorStatus::Pending], Some(VendorStatus::Approved), at);
    approval.grant_vendor_role = true;
    approval.audit.actor_id = Some(admin.id);
    approval.audit.details = serde_json::json!({ "status": { "from": "pending", "to": "approved" } });
    approval.email = Some(mail("ann@example.com", "vendor_approved"));
    let audit = approval.audit.clone();
    let message = approval.email.clone().unwrap();

    let approved = store.decide_vendor(approval).await.unwrap();
    assert_eq!(approved.status, VendorStatus::Approved);
    assert_eq!(approved.approved_at, Some(at), "first approval time");
    assert_eq!(approved.updated_at, at);
    assert_eq!(approved.created_at, pending.created_at);
    assert_eq!(approved.rejection_reason, None);
    assert_eq!(approved.commission_bps, None, "commission is kept when not given");
    assert_eq!(
        (&approved.slug, &approved.shop_name, approved.user_id),
        (&pending.slug, &pending.shop_name, pending.user_id)
    );
    assert_eq!(store.vendor_by_id(pending.id).await.unwrap().unwrap(), approved);

    let user = store.user_by_id(owner.id).await.unwrap().unwrap();
    assert_eq!(user.role, Role::Vendor, "approval grants the vendor role");
    assert_eq!(user.updated_at, at);
    assert_eq!(role_of(&store, bystander.id).await, Role::Customer, "only the owner's role");
    assert_eq!(role_of(&store, admin.id).await, Role::Customer);

    let log = store.list_audit(&AuditFilter::default(), PageRequest::default()).await.unwrap();
    assert_eq!(log.total, 1, "one audit row");
    let entry = &log.items[0];
    assert_eq!((entry.id, entry.at, entry.actor_id), (audit.id, at, Some(admin.id)));
    assert_eq!(
        (entry.action.as_str(), entry.target_type.as_str(), entry.target_id.clone()),
        ("vendor.approved", "vendor", pending.id.to_string())
    );
    assert_eq!(entry.details, audit.details);

    let emails = store.list_emails(&EmailFilter::default(), PageRequest::default()).await.unwrap();
    assert_eq!(emails.total, 1, "the email is queued with the decision");
    assert_eq!(emails.items[0].id, message.id);
    assert_eq!(emails.items[0].recipient, "ann@example.com");
    assert_eq!(emails.items[0].template, "vendor_approved");
    assert_eq!(emails.items[0].status, "queued");
}

pub async fn approving_twice_is_a_conflict_and_changes_nothing(store: Db) {
    let (owner, pending) = applicant_at(&store, "ann@example.com", "Ann Atelier", now()).await;
    let approved = approve(&store, pending.id).await;
    let user = store.user_by_id(owner.id).await.unwrap().unwrap();
    let (audits, emails) = (audit_count(&store).await, email_count(&store).await);

    let mut again = decision(pending.id, &[VendorStatus::Pending], Some(VendorStatus::Approved), now() + secs(10));
    again.grant_vendor_role = true;
    again.commission_bps = Some(Some(900));
    again.email = Some(mail("ann@example.com", "vendor_approved"));
    assert_conflict(store.decide_vendor(again).await, Conflict::StaleStatus(HasStatus::Vendor));

    assert_eq!(store.vendor_by_id(pending.id).await.unwrap().unwrap(), approved, "nothing changed");
    assert_eq!(store.user_by_id(owner.id).await.unwrap().unwrap(), user);
    assert_eq!(audit_count(&store).await, audits, "no audit row for a decision that did not happen");
    assert_eq!(email_count(&store).await, emails, "no email either");

    // Rejecting an approved vendor from `pending` is refused the same way.
    let mut rejection = decision(pending.id, &[VendorStatus::Pending], Some(VendorStatus::Rejected), now());
    rejection.rejection_reason = Some("late".into());
    assert_conflict(store.decide_vendor(rejection).await, Conflict::StaleStatus(HasStatus::Vendor));
    // An empty `from` matches no status.
    assert_conflict(
        store
            .decide_vendor(decision(pending.id, &[], Some(VendorStatus::Suspended), now()))
            .await,
        Conflict::StaleStatus(HasStatus::Vendor),
    );
    assert_eq!(store.vendor_by_id(pending.id).await.unwrap().unwrap(), approved);
    assert_eq!(audit_count(&store).await, audits);
}

pub async fn approving_an_admin_keeps_the_admin_role(store: Db) {
    let admin = new_user(&store, "ada@example.com").await;
    let promoted = store
        .admin_update_user(admin_change(None, admin.id, None, Some(Role::Admin), now()))
        .await
        .unwrap();
    assert_eq!(promoted.role, Role::Admin);
    let vendor = store.insert_vendor(application(admin.id, "Ada Art")).await.unwrap();
    let approved = approve(&store, vendor.id).await;
    assert_eq!(approved.status, VendorStatus::Approved);
    assert_eq!(role_of(&store, admin.id).await, Role::Admin, "admins keep their role");

    // Without `grant_vendor_role` a customer keeps the customer role.
    let (owner, other) = applicant_at(&store, "ann@example.com", "Ann Atelier", now()).await;
    store
        .decide_vendor(decision(other.id, &[VendorStatus::Pending], Some(VendorStatus::Approved), now()))
        .await
        .unwrap();
    assert_eq!(role_of(&store, owner.id).await, Role::Customer);
}

pub async fn reject_stores_the_reason_and_approval_clears_it(store: Db) {
    let t = now();
    let (owner, pending) = applicant_at(&store, "ann@example.com", "Ann Atelier", t).await;
    let mut rejection = decision(pending.id, &[VendorStatus::Pending], Some(VendorStatus::Rejected), t + secs(1));
    rejection.rejection_reason = Some("Please add photos of your work — “real” ones".into());
    rejection.email = Some(mail("ann@example.com", "vendor_rejected"));
    let rejected = store.decide_vendor(rejection).await.unwrap();
    assert_eq!(rejected.status, VendorStatus::Rejected);
    assert_eq!(
        rejected.rejection_reason.as_deref(),
        Some("Please add photos of your work — “real” ones")
    );
    assert_eq!(rejected.approved_at, None);
    assert_eq!(rejected.updated_at, t + secs(1));
    assert_eq!(role_of(&store, owner.id).await, Role::Customer, "rejection grants nothing");
    assert_eq!(store.vendor_by_user(owner.id).await.unwrap().unwrap(), rejected);
    assert_eq!(email_count(&store).await, 1);

    // An admin may approve a rejected application directly; the reason is cleared.
    let mut approval = decision(
        pending.id,
        &[VendorStatus::Pending, VendorStatus::Rejected],
        Some(VendorStatus::Approved),
        t + secs(2),
    );
    approval.grant_vendor_role = true;
    let approved = store.decide_vendor(approval).await.unwrap();
    assert_eq!(approved.status, VendorStatus::Approved);
    assert_eq!(approved.rejection_reason, None, "approval clears the reason");
    assert_eq!(approved.approved_at, Some(t + secs(2)));
    assert_eq!(role_of(&store, owner.id).await, Role::Vendor);
    assert_eq!(audit_count(&store).await, 2);
}

pub async fn suspend_and_reinstate_keep_the_first_approval_time(store: Db) {
    let t = now();
    let (owner, pending) = applicant_at(&store, "ann@example.com", "Ann Atelier", t).await;
    let mut approval = decision(pending.id, &[VendorStatus::Pending], Some(VendorStatus::Approved), t + secs(1));
    approval.grant_vendor_role = true;
    store.decide_vendor(approval).await.unwrap();

    let mut suspension = decision(pending.id, &[VendorStatus::Approved], Some(VendorStatus::Suspended), t + secs(2));
    suspension.rejection_reason = Some("ignored unless rejecting".into());
    let suspended = store.decide_vendor(suspension).await.unwrap();
    assert_eq!(suspended.status, VendorStatus::Suspended);
    assert_eq!(suspended.rejection_reason, None, "a reason is stored only on rejection");
    assert_eq!(suspended.approved_at, Some(t + secs(1)));
    assert_eq!(suspended.updated_at, t + secs(2));
    assert_eq!(
        role_of(&store, owner.id).await,
        Role::Vendor,
        "the role is not taken away by the store"
    );

    let mut reinstatement = decision(pending.id, &[VendorStatus::Suspended], Some(VendorStatus::Approved), t + secs(3));
    reinstatement.grant_vendor_role = true;
    let reinstated = store.decide_vendor(reinstatement).await.unwrap();
    assert_eq!(reinstated.status, VendorStatus::Approved);
    assert_eq!(reinstated.approved_at, Some(t + secs(1)), "approved_at is the first approval");
    assert_eq!(reinstated.updated_at, t + secs(3));
    assert_eq!(listed(&store, Some(VendorStatus::Approved)).await, [pending.id]);
}

pub async fn decide_unknown_vendor_is_not_found_and_not_audited(store: Db) {
    let (owner, pending) = applicant_at(&store, "ann@example.com", "Ann Atelier", now()).await;
    let mut ghost = decision(VendorId::new(), &ALL, Some(VendorStatus::Approved), now());
    ghost.grant_vendor_role = true;
    ghost.email = Some(mail("ghost@example.com", "vendor_approved"));
    assert_not_found(store.decide_vendor(ghost).await);
    assert_eq!(audit_count(&store).await, 0, "no audit row");
    assert_eq!(email_count(&store).await, 0, "no email");
    assert_eq!(store.vendor_by_id(pending.id).await.unwrap().unwrap(), pending);
    assert_eq!(role_of(&store, owner.id).await, Role::Customer);
    // NotFound wins over an empty `from`.
    assert_not_found(store.decide_vendor(decision(VendorId::new(), &[], None, now())).await);
}

pub async fn commission_change_keeps_status_and_reason(store: Db) {
    let t = now();
    let vendor = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let change = |commission: Option<Option<i32>>, at| {
        let mut d = decision(vendor.id, &[VendorStatus::Approved, VendorStatus::Suspended], None, at);
        d.commission_bps = commission;
        d
    };
    let set = store.decide_vendor(change(Some(Some(1_250)), t + secs(1))).await.unwrap();
    assert_eq!(set.commission_bps, Some(1_250));
    assert_eq!(set.status, VendorStatus::Approved, "status unchanged when `to` is None");
    assert_eq!(set.approved_at, vendor.approved_at);
    assert_eq!(set.updated_at, t + secs(1));

    let kept = store.decide_vendor(change(None, t + secs(2))).await.unwrap();
    assert_eq!(kept.commission_bps, Some(1_250), "None keeps the commission");
    let zero = store.decide_vendor(change(Some(Some(0)), t + secs(3))).await.unwrap();
    assert_eq!(zero.commission_bps, Some(0));
    let full = store.decide_vendor(change(Some(Some(10_000)), t + secs(4))).await.unwrap();
    assert_eq!(full.commission_bps, Some(10_000));
    let cleared = store.decide_vendor(change(Some(None), t + secs(5))).await.unwrap();
    assert_eq!(cleared.commission_bps, None, "Some(None) clears the override");
    assert_eq!(store.vendor_by_id(vendor.id).await.unwrap().unwrap(), cleared);
    assert_eq!(audit_count(&store).await, 1 + 5, "the approval and every change are audited");

    // A change without a new status keeps a rejected application's reason.
    let (_, other) = applicant_at(&store, "bob@example.com", "Bob Prints", t).await;
    let mut rejection = decision(other.id, &[VendorStatus::Pending], Some(VendorStatus::Rejected), t + secs(6));
    rejection.rejection_reason = Some("No portfolio".into());
    store.decide_vendor(rejection).await.unwrap();
    let mut commission = decision(other.id, &[VendorStatus::Rejected], None, t + secs(7));
    commission.commission_bps = Some(Some(500));
    let changed = store.decide_vendor(commission).await.unwrap();
    assert_eq!(changed.status, VendorStatus::Rejected);
    assert_eq!(changed.rejection_reason.as_deref(), Some("No portfolio"));
    assert_eq!(changed.commission_bps, Some(500));
}

pub async fn concurrent_decisions_on_one_vendor_apply_once(store: Db) {
    let (_, pending) = applicant_at(&store, "ann@example.com", "Ann Atelier", now()).await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = store.clone();
        let to = if i % 2 == 0 {
            VendorStatus::Approved
        } else {
            VendorStatus::Rejected
        };
        tasks.push(tokio::spawn(async move {
            let mut d = decision(pending.id, &[VendorStatus::Pending], Some(to), now());
            d.grant_vendor_role = to == VendorStatus::Approved;
            d.email = Some(mail("ann@example.com", "decision"));
            store.decide_vendor(d).await
        }));
    }
    let mut applied = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(vendor) => applied.push(vendor.status),
            Err(crate::storage::StoreError::Conflict(what)) => assert_eq!(what, Conflict::StaleStatus(HasStatus::Vendor)),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(applied.len(), 1, "exactly one decision applies: {applied:?}");
    assert_eq!(store.vendor_by_id(pending.id).await.unwrap().unwrap().status, applied[0]);
    assert_eq!(audit_count(&store).await, 1);
    assert_eq!(email_count(&store).await, 1);
}

pub async fn list_vendors_filters_status(store: Db) {
    let t = now();
    let (_, a) = applicant_at(&store, "a@example.com", "Shop A", t).await;
    let (_, b) = applicant_at(&store, "b@example.com", "Shop B", t + secs(1)).await;
    let (_, c) = applicant_at(&store, "c@example.com", "Shop C", t + secs(2)).await;
    let (_, d) = applicant_at(&store, "d@example.com", "Shop D", t + secs(3)).await;
    let (_, e) = applicant_at(&store, "e@example.com", "Shop E", t + secs(4)).await;
    approve(&store, b.id).await;
    approve(&store, d.id).await;
    set_vendor_status(&store, c.id, VendorStatus::Rejected).await;
    approve(&store, e.id).await;
    set_vendor_status(&store, e.id, VendorStatus::Suspended).await;

    assert_eq!(listed(&store, None).await, [e.id, d.id, c.id, b.id, a.id], "newest first");
    assert_eq!(listed(&store, Some(VendorStatus::Approved)).await, [d.id, b.id]);
    assert_eq!(listed(&store, Some(VendorStatus::Pending)).await, [a.id]);
    assert_eq!(listed(&store, Some(VendorStatus::Rejected)).await, [c.id]);
    assert_eq!(listed(&store, Some(VendorStatus::Suspended)).await, [e.id]);

    let page = store
        .list_vendors(
            &VendorFilter {
                status: Some(VendorStatus::Approved),
            },
            PageRequest::new(1, 1),
        )
        .await
        .unwrap();
    assert_eq!((page.page, page.per_page, page.total), (1, 1, 2), "total counts every match");
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        page.items[0],
        store.vendor_by_id(d.id).await.unwrap().unwrap(),
        "listed vendors are whole"
    );
}

pub async fn list_vendors_paginates_newest_first(store: Db) {
    let empty = store.list_vendors(&VendorFilter::default(), PageRequest::new(1, 10)).await.unwrap();
    assert!(empty.items.is_empty());
    assert_eq!(empty.total, 0);

    let t = now();
    let mut vendors = Vec::new();
    for i in 0..5 {
        let (_, v) = applicant_at(&store, &format!("v{i}@example.com"), &format!("Shop {i}"), t + secs(i)).await;
        vendors.push(v);
    }
    let ids = |page: &crate::domain::Page<crate::domain::Vendor>| page.items.iter().map(|v| v.id).collect::<Vec<_>>();
    let all = VendorFilter::default();

    let first = store.list_vendors(&all, PageRequest::new(1, 2)).await.unwrap();
    assert_eq!((first.page, first.per_page, first.total), (1, 2, 5));
    assert_eq!(ids(&first), [vendors[4].id, vendors[3].id]);
    assert_eq!(first.items[0], vendors[4]);
    let second = store.list_vendors(&all, PageRequest::new(2, 2)).await.unwrap();
    assert_eq!(ids(&second), [vendors[2].id, vendors[1].id]);
    let last = store.list_vendors(&all, PageRequest::new(3, 2)).await.unwrap();
    assert_eq!(ids(&last), [vendors[0].id]);
    assert_eq!(last.total, 5);
    let beyond = store.list_vendors(&all, PageRequest::new(4, 2)).await.unwrap();
    assert!(beyond.items.is_empty());
    assert_eq!(beyond.total, 5);

    // Same application time: greatest id first, stably.
    let same = t + secs(10);
    let (_, x) = applicant_at(&store, "x@example.com", "Shop X", same).await;
    let (_, y) = applicant_at(&store, "y@example.com", "Shop Y", same).await;
    let mut expected = vec![x.id, y.id];
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(ids(&store.list_vendors(&all, PageRequest::new(1, 2)).await.unwrap()), expected);
    assert_eq!(ids(&store.list_vendors(&all, PageRequest::new(1, 2)).await.unwrap()), expected);
}

pub async fn update_vendor_profile_changes_only_given_fields(store: Db) {
    let t = now();
    let owner = new_user(&store, "ann@example.com").await;
    let original = store
        .insert_vendor(NewVendor {
            bio: Some("Painter".into()),
            payout_details: Some(serde_json::json!({ "iban": "DE00" })),
            at: t,
            ..application(owner.id, "Ann Atelier")
        })
        .await
        .unwrap();
    let other = approved_vendor(&store, "bob@example.com", "Bob Prints").await;

    let renamed = store
        .update_vendor_profile(
            original.id,
            VendorProfileChange {
                shop_name: Some("Ann's Studio".into()),
                ..VendorProfileChange::default()
            },
            t + secs(1),
        )
        .await
        .unwrap();
    assert_eq!(renamed.shop_name, "Ann's Studio");
    assert_eq!(renamed.slug, "ann-atelier", "the slug does not follow the name");
    assert_eq!(renamed.bio.as_deref(), Some("Painter"), "None keeps the bio");
    assert_eq!(renamed.payout_details, original.payout_details, "None keeps payout details");
    assert_eq!(renamed.updated_at, t + secs(1));
    assert_eq!(renamed.created_at, t);
    assert_eq!(renamed.status, VendorStatus::Pending);

    let changed = store
        .update_vendor_profile(
            original.id,
            VendorProfileChange {
                shop_name: None,
                bio: Some(Some("Painter and printmaker".into())),
                payout_details: Some(Some(serde_json::json!({ "paypal": "ann@example.com", "list": [1, 2, 3] }))),
            },
            t + secs(2),
        )
        .await
        .unwrap();
    assert_eq!(changed.shop_name, "Ann's Studio");
    assert_eq!(changed.bio.as_deref(), Some("Painter and printmaker"));
    assert_eq!(
        changed.payout_details,
        Some(serde_json::json!({ "paypal": "ann@example.com", "list": [1, 2, 3] }))
    );

    let cleared = store
        .update_vendor_profile(
            original.id,
            VendorProfileChange {
                shop_name: None,
                bio: Some(None),
                payout_details: Some(None),
            },
            t + secs(3),
        )
        .await
        .unwrap();
    assert_eq!(
        (cleared.bio.as_ref(), cleared.payout_details.as_ref()),
        (None, None),
        "Some(None) clears"
    );
    assert_eq!(cleared.updated_at, t + secs(3));
    assert_eq!(store.vendor_by_id(original.id).await.unwrap().unwrap(), cleared);
    assert_eq!(
        store.vendor_by_id(other.id).await.unwrap().unwrap(),
        other,
        "other vendors untouched"
    );

    let nothing = store
        .update_vendor_profile(original.id, VendorProfileChange::default(), t + secs(4))
        .await
        .unwrap();
    assert_eq!(nothing.updated_at, t + secs(4));
    assert_eq!(
        (nothing.shop_name, nothing.bio, nothing.payout_details),
        (cleared.shop_name, cleared.bio, cleared.payout_details)
    );
}

pub async fn update_vendor_profile_of_unknown_vendor_is_not_found(store: Db) {
    let vendor = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let change = VendorProfileChange {
        shop_name: Some("Ghost".into()),
        ..VendorProfileChange::default()
    };
    assert_not_found(store.update_vendor_profile(VendorId::new(), change, now()).await);
    assert_eq!(store.vendor_by_id(vendor.id).await.unwrap().unwrap(), vendor);
}

pub async fn vendor_product_count_counts_published_products(store: Db) {
    let vendor = approved_vendor(&store, "ann@example.com", "Ann Atelier").await;
    let other = approved_vendor(&store, "bob@example.com", "Bob Prints").await;
    let category = seeded::oil_paintings();
    add_product(&store, product(vendor.id, category, "Harbour")).await;
    add_product(&store, product(vendor.id, seeded::prints(), "Mill")).await;
    let draft = add_product(
        &store,
        crate::storage::NewProduct {
            status: crate::domain::ProductStatus::Draft,
            ..product(vendor.id, category, "Sketch")
        },
    )
    .await;
    add_product(
        &store,
        crate::storage::NewProduct {
            status: crate::domain::ProductStatus::Archived,
            ..product(vendor.id, category, "Old")
        },
    )
    .await;
    add_product(&store, product(other.id, category, "Bob's")).await;

    let count = |v: Option<crate::domain::Vendor>| v.expect("vendor").product_count;
    assert_eq!(count(store.vendor_by_id(vendor.id).await.unwrap()), 2, "published products only");
    assert_eq!(count(store.vendor_by_slug("ann-atelier").await.unwrap()), 2);
    assert_eq!(count(store.vendor_by_id(other.id).await.unwrap()), 1);
    let listed = store.list_vendors(&VendorFilter::default(), PageRequest::default()).await.unwrap();
    let counts: Vec<(VendorId, i64)> = listed.items.iter().map(|v| (v.id, v.product_count)).collect();
    assert_eq!(counts, [(other.id, 1), (vendor.id, 2)]);

    // Publishing the draft counts it; the count is of the vendor's own products, whatever its status.
    store
        .update_product(crate::storage::ProductUpdate {
            id: draft.id,
            title: draft.title.clone(),
            description: draft.description.clone(),
            kind: draft.kind,
            price: draft.price,
            stock: draft.stock,
            category_id: category,
            status: crate::domain::ProductStatus::Published,
            tags: draft.tags.clone(),
            at: now(),
            audit: None,
        })
        .await
        .unwrap();
    let suspended = set_vendor_status(&store, vendor.id, VendorStatus::Suspended).await;
    assert_eq!(suspended.product_count, 3);
    let decided = store
        .decide_vendor(decision(vendor.id, &[VendorStatus::Suspended], None, now()))
        .await
        .unwrap();
    assert_eq!(decided.product_count, 3, "decide_vendor returns the count too");
    let profile = store
        .update_vendor_profile(vendor.id, VendorProfileChange::default(), now())
        .await
        .unwrap();
    assert_eq!(profile.product_count, 3, "update_vendor_profile returns the count too");
}
