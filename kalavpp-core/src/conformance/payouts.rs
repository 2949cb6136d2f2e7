//! Vendor payouts: `PayoutStore::request_payout`, `payout_by_id`, `list_payouts` and
//! `decide_payout`, and what they write to the ledger.

use crate::domain::{AuditFilter, Payout, PayoutAction, PayoutFilter};
use crate::domain::{LedgerBucket, LedgerKind, Money, PageRequest, PayoutId, PayoutStatus, VendorId};
use crate::storage::{Conflict, HasStatus};
use crate::storage::{NewPayout, PayoutDecision};

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_payouts {
    ($callback:ident) => {
        $callback! {
            group: payouts,
            store: [
                request_payout_holds_the_amount_out_of_available,
                request_payout_refuses_more_than_available,
                concurrent_payout_requests_never_spend_the_same_money,
                approve_then_mark_paid_moves_the_hold_to_paid_out,
                reject_returns_the_hold_to_available,
                decide_payout_refuses_transitions_the_status_does_not_allow,
                list_payouts_filters_and_paginates_newest_first,
            ],
            sql: [],
        }
    };
}

__conformance_payouts!(define_cases);

fn payout_of(vendor_id: VendorId, cents: i64) -> NewPayout {
    NewPayout {
        id: PayoutId::new(),
        vendor_id,
        amount: Money(cents),
        currency: "usd".into(),
        email: Some(mail("alice@example.com", "payout_requested")),
        at: now(),
    }
}

fn decision(payout: &Payout, action: PayoutAction) -> PayoutDecision {
    let at = now();
    PayoutDecision {
        payout_id: payout.id,
        action,
        audit: audit_of(None, "payout.decide", "payout", payout.id, at),
        email: Some(mail("alice@example.com", "payout_decided")),
        at,
    }
}

/// A shop whose mixed order is paid: alice's e-book money (3 × 9.99 − 3.00 = 26.97) is available,
/// her print money is pending until it ships.
async fn shop_with_sales(store: &Db) -> Shop {
    let shop = shop(store).await;
    let order = place(store, mixed_order(&shop)).await;
    pay(store, order.id).await;
    shop
}

const ALICE_AVAILABLE: i64 = 2_697;

pub async fn request_payout_holds_the_amount_out_of_available(store: Db) {
    let shop = shop_with_sales(&store).await;
    let before = balance_of(&store, shop.alice.id).await;
    assert_eq!(before.available, Money(ALICE_AVAILABLE));
    let emails = email_count(&store).await;

    let request = payout_of(shop.alice.id, 2_000);
    let payout = store.request_payout(request.clone()).await.unwrap();
    assert_eq!(payout.id, request.id);
    assert_eq!(payout.vendor_id, shop.alice.id);
    assert_eq!(payout.amount, Money(2_000));
    assert_eq!(payout.status, PayoutStatus::Requested);
    assert_eq!(payout.currency, "usd");
    assert_eq!(payout.requested_at, request.at);
    assert_eq!((payout.approved_at, payout.paid_at, payout.rejected_at), (None, None, None));
    assert_eq!(store.payout_by_id(payout.id).await.unwrap(), Some(payout.clone()));

    let after = balance_of(&store, shop.alice.id).await;
    assert_eq!(after.available, Money(ALICE_AVAILABLE - 2_000));
    assert_eq!(after.held, Money(2_000));
    assert_eq!(after.pending, before.pending, "pending money is not touched");
    assert_eq!(email_count(&store).await, emails + 1, "the confirmation is queued with the request");
    let holds: Vec<_> = ledger_of(&store, shop.alice.id)
        .await
        .into_iter()
        .filter(|e| e.kind == LedgerKind::PayoutHold)
        .map(|e| (e.bucket, e.amount, e.order_id))
        .collect();
    assert_eq!(holds.len(), 2);
    assert!(holds.contains(&(LedgerBucket::Available, Money(-2_000), None)));
    assert!(holds.contains(&(LedgerBucket::Held, Money(2_000), None)));
    assert_eq!(
        balance_of(&store, shop.bruno.id).await.held,
        Money(0),
        "other vendors are not touched"
    );
    assert_eq!(store.payout_by_id(PayoutId::new()).await.unwrap(), None);
}

pub async fn request_payout_refuses_more_than_available(store: Db) {
    let shop = shop_with_sales(&store).await;
    let emails = email_count(&store).await;
    // Pending money (the unshipped print) cannot be paid out.
    assert_conflict(
        store.request_payout(payout_of(shop.alice.id, ALICE_AVAILABLE + 1)).await,
        Conflict::InsufficientBalance,
    );
    // Bruno only has pending money.
    assert_conflict(
        store.request_payout(payout_of(shop.bruno.id, 1)).await,
        Conflict::InsufficientBalance,
    );
    assert_eq!(balance_of(&store, shop.alice.id).await.held, Money(0));
    assert_eq!(email_count(&store).await, emails, "a refused request queues nothing");
    assert_eq!(
        store
            .list_payouts(&PayoutFilter::default(), PageRequest::new(1, 10))
            .await
            .unwrap()
            .total,
        0
    );
    // Exactly the available balance is fine; then nothing is left.
    store.request_payout(payout_of(shop.alice.id, ALICE_AVAILABLE)).await.unwrap();
    assert_conflict(
        store.request_payout(payout_of(shop.alice.id, 1)).await,
        Conflict::InsufficientBalance,
    );
    let balance = balance_of(&store, shop.alice.id).await;
    assert_eq!((balance.available, balance.held), (Money(0), Money(ALICE_AVAILABLE)));
}

pub async fn concurrent_payout_requests_never_spend_the_same_money(store: Db) {
    let shop = shop_with_sales(&store).await;
    // 26.97 available: only two requests of 10.00 fit, whatever the interleaving.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            let vendor = shop.alice.id;
            tokio::spawn(async move { store.request_payout(payout_of(vendor, 1_000)).await })
        })
        .collect();
    let mut granted = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => granted += 1,
            Err(err) => assert_conflict::<()>(Err(err), Conflict::InsufficientBalance),
        }
    }
    assert_eq!(granted, 2);
    let balance = balance_of(&store, shop.alice.id).await;
    assert_eq!(balance.available, Money(ALICE_AVAILABLE - 2_000));
    assert_eq!(balance.held, Money(2_000));
}

pub async fn approve_then_mark_paid_moves_the_hold_to_paid_out(store: Db) {
    let shop = shop_with_sales(&store).await;
    let payout = store.request_payout(payout_of(shop.alice.id, 2_500)).await.unwrap();
    let (audit, emails) = (audit_count(&store).await, email_count(&store).await);

    let approve = decision(&payout, PayoutAction::Approve);
    let approved = store.decide_payout(approve.clone()).await.unwrap();
    assert_eq!(approved.status, PayoutStatus::Approved);
    assert_eq!(approved.approved_at, Some(approve.at));
    assert_eq!(approved.updated_at, approve.at);
    let balance = balance_of(&store, shop.alice.id).await;
    assert_eq!(
        (balance.available, balance.held, balance.paid_out),
        (Money(197), Money(2_500), Money(0)),
        "approval moves no money"
    );

    let pay = decision(
        &payout,
        PayoutAction::MarkPaid {
            reference: "SEPA-2026-0042".into(),
        },
    );
    let paid = store.decide_payout(pay.clone()).await.unwrap();
    assert_eq!(paid.status, PayoutStatus::Paid);
    assert_eq!(paid.reference.as_deref(), Some("SEPA-2026-0042"));
    assert_eq!(paid.paid_at, Some(pay.at));
    assert_eq!(paid.approved_at, Some(approve.at));
    let balance = balance_of(&store, shop.alice.id).await;
    assert_eq!(
        (balance.available, balance.held, balance.paid_out),
        (Money(197), Money(0), Money(2_500))
    );
    let debits: Vec<_> = ledger_of(&store, shop.alice.id)
        .await
        .into_iter()
        .filter(|e| e.kind == LedgerKind::PayoutDebit)
        .map(|e| (e.bucket, e.amount))
        .collect();
    assert_eq!(debits.len(), 2);
    assert!(debits.contains(&(LedgerBucket::Held, Money(-2_500))));
    assert!(debits.contains(&(LedgerBucket::PaidOut, Money(2_500))));
    assert_eq!(audit_count(&store).await, audit + 2, "one audit row per decision");
    assert_eq!(email_count(&store).await, emails + 2, "one email per decision");
    let filter = AuditFilter {
        action: Some("payout.decide".into()),
        ..AuditFilter::default()
    };
    let rows = store.list_audit(&filter, PageRequest::new(1, 10)).await.unwrap();
    assert_eq!(rows.total, 2);
    assert!(
        rows.items
            .iter()
            .all(|r| r.target_id == payout.id.to_string() && r.target_type == "payout")
    );

    // Marking it paid again changes nothing.
    assert_conflict(
        store
            .decide_payout(decision(&payout, PayoutAction::MarkPaid { reference: "again".into() }))
            .await,
        Conflict::StaleStatus(HasStatus::Payout),
    );
    assert_eq!(balance_of(&store, shop.alice.id).await.paid_out, Money(2_500));
    assert_eq!(audit_count(&store).await, audit + 2);
    assert_eq!(email_count(&store).await, emails + 2);
}

pub async fn reject_returns_the_hold_to_available(store: Db) {
    let shop = shop_with_sales(&store).await;
    let first = store.request_payout(payout_of(shop.alice.id, 1_000)).await.unwrap();
    let second = store.request_payout(payout_of(shop.alice.id, 1_500)).await.unwrap();
    store.decide_payout(decision(&second, PayoutAction::Approve)).await.unwrap();

    let rejected = store
        .decide_payout(decision(
            &first,
            PayoutAction::Reject {
                reason: "IBAN missing".into(),
            },
        ))
        .await
        .unwrap();
    assert_eq!(rejected.status, PayoutStatus::Rejected);
    assert_eq!(rejected.rejection_reason.as_deref(), Some("IBAN missing"));
    assert!(rejected.rejected_at.is_some());
    let balance = balance_of(&store, shop.alice.id).await;
    assert_eq!((balance.available, balance.held), (Money(ALICE_AVAILABLE - 1_500), Money(1_500)));

    // An approved request may still be rejected.
    store
        .decide_payout(decision(
            &second,
            PayoutAction::Reject {
                reason: "account closed".into(),
            },
        ))
        .await
        .unwrap();
    let balance = balance_of(&store, shop.alice.id).await;
    assert_eq!(
        (balance.available, balance.held, balance.paid_out),
        (Money(ALICE_AVAILABLE), Money(0), Money(0))
    );
    // The ledger still sums: every hold has its release.
    let holds: i64 = ledger_of(&store, shop.alice.id)
        .await
        .iter()
        .filter(|e| e.kind == LedgerKind::PayoutHold)
        .map(|e| e.amount.cents())
        .sum();
    assert_eq!(holds, 0);
}

pub async fn decide_payout_refuses_transitions_the_status_does_not_allow(store: Db) {
    let shop = shop_with_sales(&store).await;
    let payout = store.request_payout(payout_of(shop.alice.id, 1_000)).await.unwrap();
    let (audit, emails) = (audit_count(&store).await, email_count(&store).await);
    // Paying needs an approval first.
    assert_conflict(
        store
            .decide_payout(decision(&payout, PayoutAction::MarkPaid { reference: "x".into() }))
            .await,
        Conflict::StaleStatus(HasStatus::Payout),
    );
    store
        .decide_payout(decision(&payout, PayoutAction::Reject { reason: "no".into() }))
        .await
        .unwrap();
    for action in [
        PayoutAction::Approve,
        PayoutAction::Reject { reason: "twice".into() },
        PayoutAction::MarkPaid { reference: "x".into() },
    ] {
        assert_conflict(
            store.decide_payout(decision(&payout, action)).await,
            Conflict::StaleStatus(HasStatus::Payout),
        );
    }
    assert_eq!(audit_count(&store).await, audit + 1);
    assert_eq!(email_count(&store).await, emails + 1);
    let balance = balance_of(&store, shop.alice.id).await;
    assert_eq!((balance.available, balance.held), (Money(ALICE_AVAILABLE), Money(0)));

    let unknown = Payout {
        id: PayoutId::new(),
        ..payout
    };
    assert_not_found(store.decide_payout(decision(&unknown, PayoutAction::Approve)).await);
}

pub async fn list_payouts_filters_and_paginates_newest_first(store: Db) {
    let shop = shop_with_sales(&store).await;
    // Give bruno available money: ship his vase.
    let order = all_orders(&store).await.remove(0);
    let vase = order.items.iter().find(|i| i.product_id == shop.vase.id).unwrap();
    store
        .fulfil_item(crate::storage::Fulfilment {
            vendor_id: shop.bruno.id,
            order_id: order.id,
            item_id: vase.id,
            tracking_number: None,
            carrier: None,
            release_now: true,
            at: now(),
        })
        .await
        .unwrap();
    let mut alice = Vec::new();
    for (i, cents) in [100, 200, 300].into_iter().enumerate() {
        let payout = NewPayout {
            at: now() + secs(i as i64),
            ..payout_of(shop.alice.id, cents)
        };
        alice.push(store.request_payout(payout).await.unwrap());
    }
    let bruno = store
        .request_payout(NewPayout {
            at: now() + secs(10),
            ..payout_of(shop.bruno.id, 500)
        })
        .await
        .unwrap();
    store.decide_payout(decision(&alice[0], PayoutAction::Approve)).await.unwrap();

    let all = store.list_payouts(&PayoutFilter::default(), PageRequest::new(1, 10)).await.unwrap();
    assert_eq!(all.total, 4);
    let ids: Vec<_> = all.items.iter().map(|p| p.id).collect();
    assert_eq!(ids, vec![bruno.id, alice[2].id, alice[1].id, alice[0].id], "newest first");

    let mine = PayoutFilter {
        vendor_id: Some(shop.alice.id),
        status: None,
    };
    let page = store.list_payouts(&mine, PageRequest::new(2, 2)).await.unwrap();
    assert_eq!((page.total, page.items.len()), (3, 1));
    assert_eq!(page.items[0].id, alice[0].id);

    let approved = PayoutFilter {
        vendor_id: None,
        status: Some(PayoutStatus::Approved),
    };
    let page = store.list_payouts(&approved, PageRequest::new(1, 10)).await.unwrap();
    assert_eq!(page.items.iter().map(|p| p.id).collect::<Vec<_>>(), vec![alice[0].id]);
    let bruno_requested = PayoutFilter {
        vendor_id: Some(shop.bruno.id),
        status: Some(PayoutStatus::Requested),
    };
    assert_eq!(
        store.list_payouts(&bruno_requested, PageRequest::new(1, 10)).await.unwrap().total,
        1
    );
}
