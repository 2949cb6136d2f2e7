//! `OrderStore::apply_payment_event`: paying (status, ledger, sales counts, the confirmation
//! email), event-id deduplication (also under concurrency), late and out-of-order events.

use std::collections::HashSet;

use crate::domain::{Balance, EmailFilter, EventOutcome};
use crate::domain::{FulfilmentStatus, LedgerBucket, LedgerKind, Money, OrderId, OrderStatus, PageRequest};
use crate::payments::PaymentEventKind;
use crate::storage::{NewOrder, NewProduct, PaymentEventRecord, StoreError};

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_payments {
    ($callback:ident) => {
        $callback! {
            group: payments,
            store: [
                succeeded_pays_the_order_and_credits_the_ledger,
                replayed_event_changes_nothing,
                late_events_for_a_paid_order_are_ignored,
                failed_then_succeeded_pays,
                expired_releases_stock_and_blocks_later_payment,
                event_for_an_unknown_order_is_not_found_and_not_recorded,
                concurrent_replays_of_one_event_apply_once,
                concurrent_distinct_events_pay_once,
                concurrent_payments_and_cancellations_of_orders_sharing_products,
            ],
            sql: [],
        }
    };
}

__conformance_payments!(define_cases);

async fn apply(store: &Db, event: PaymentEventRecord) -> EventOutcome {
    store.apply_payment_event(event).await.expect("apply payment event")
}

/// Asserts the balances of a paid [`mixed_order`] (nothing shipped yet).
async fn assert_paid_once(store: &Db, shop: &Shop) {
    assert_eq!(
        balance_of(store, shop.alice.id).await,
        Balance {
            pending: Money(2_221),
            available: Money(2_697),
            held: Money(0),
            paid_out: Money(0),
            commission: Money(547),
        }
    );
    assert_eq!(
        balance_of(store, shop.bruno.id).await,
        Balance {
            pending: Money(3_996),
            commission: Money(571),
            ..Balance::default()
        }
    );
    assert_eq!(ledger_of(store, shop.alice.id).await.len(), 4, "two entries per line");
    assert_eq!(ledger_of(store, shop.bruno.id).await.len(), 2);
    assert_eq!(sales_of(store, shop.print.id).await, 2);
    assert_eq!(sales_of(store, shop.vase.id).await, 1);
    assert_eq!(sales_of(store, shop.ebook.id).await, 3);
}

pub async fn succeeded_pays_the_order_and_credits_the_ledger(store: Db) {
    let shop = shop(&store).await;
    let order = place(&store, mixed_order(&shop)).await;
    let emails = email_count(&store).await;
    let event = payment_event(order.id, PaymentEventKind::Succeeded, "evt_1");
    let at = event.at;
    assert_eq!(apply(&store, event).await, EventOutcome::Applied);

    let paid = order_now(&store, order.id).await;
    assert_eq!(paid.status, OrderStatus::Paid);
    assert_eq!((paid.paid_at, paid.updated_at, paid.created_at), (Some(at), at, order.created_at));
    assert_eq!(paid.payment_intent_id.as_deref(), Some("pi_evt_1"));
    assert_eq!(
        paid.items.iter().map(|i| i.fulfilment_status).collect::<Vec<_>>(),
        [
            FulfilmentStatus::Unfulfilled,
            FulfilmentStatus::Unfulfilled,
            FulfilmentStatus::Delivered
        ],
        "digital lines are delivered on payment"
    );
    assert_eq!(
        (paid.subtotal, paid.total, paid.commission),
        (order.subtotal, order.total, order.commission)
    );

    assert_paid_once(&store, &shop).await;
    let (print, vase, ebook) = (&order.items[0], &order.items[1], &order.items[2]);
    let entries = |entries: Vec<crate::domain::LedgerEntry>| {
        entries
            .into_iter()
            .map(|e| {
                assert_eq!((e.order_id, e.created_at), (Some(order.id), at));
                (e.order_item_id.expect("a line"), e.kind, e.bucket, e.amount.cents())
            })
            .collect::<HashSet<_>>()
    };
    assert_eq!(
        entries(ledger_of(&store, shop.alice.id).await),
        HashSet::from([
            (print.id, LedgerKind::SaleCredit, LedgerBucket::Pending, 2_221),
            (print.id, LedgerKind::Commission, LedgerBucket::Platform, 247),
            (ebook.id, LedgerKind::SaleCredit, LedgerBucket::Available, 2_697),
            (ebook.id, LedgerKind::Commission, LedgerBucket::Platform, 300),
        ])
    );
    assert_eq!(
        entries(ledger_of(&store, shop.bruno.id).await),
        HashSet::from([
            (vase.id, LedgerKind::SaleCredit, LedgerBucket::Pending, 3_996),
            (vase.id, LedgerKind::Commission, LedgerBucket::Platform, 571),
        ])
    );
    for entry in ledger_of(&store, shop.alice.id).await {
        assert_eq!(entry.vendor_id, shop.alice.id);
    }
    // Every cent of the order is accounted for: vendors' nets plus the platform's commission.
    let alice = balance_of(&store, shop.alice.id).await;
    let bruno = balance_of(&store, shop.bruno.id).await;
    assert_eq!(
        alice.pending.cents() + alice.available.cents() + bruno.pending.cents() + bruno.available.cents(),
        order.subtotal.cents() - order.commission.cents()
    );
    assert_eq!(alice.commission.cents() + bruno.commission.cents(), order.commission.cents());
    assert_eq!(
        alice.pending.cents() + alice.available.cents() + alice.commission.cents(),
        print.line_total.cents() + ebook.line_total.cents()
    );

    assert_eq!(
        stock_of(&store, shop.print.id).await,
        Some(3),
        "stock was taken at checkout, not again"
    );
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(2));
    assert_eq!(email_count(&store).await, emails + 1, "the confirmation email is queued");
    let queued = store
        .list_emails(
            &EmailFilter {
                template: Some("order_paid".into()),
                ..EmailFilter::default()
            },
            PageRequest::new(1, 10),
        )
        .await
        .unwrap();
    assert_eq!(queued.total, 1);
    assert_eq!(
        (queued.items[0].recipient.as_str(), queued.items[0].status.as_str()),
        ("buyer@example.com", "queued")
    );
}

pub async fn replayed_event_changes_nothing(store: Db) {
    let shop = shop(&store).await;
    let order = place(&store, mixed_order(&shop)).await;
    assert_eq!(
        apply(&store, payment_event(order.id, PaymentEventKind::Succeeded, "evt_1")).await,
        EventOutcome::Applied
    );
    let before = world(&store, &shop).await;
    for kind in [PaymentEventKind::Succeeded, PaymentEventKind::Failed, PaymentEventKind::Expired] {
        let mut replay = payment_event(order.id, kind, "evt_1");
        replay.payment_intent_id = Some("pi_other".into());
        replay.at = now() + secs(60);
        assert_eq!(apply(&store, replay).await, EventOutcome::Duplicate, "{kind:?}");
        assert_eq!(world(&store, &shop).await, before, "{kind:?}: nothing changed");
    }
    // The id is what counts, whatever order the replay names.
    let other = place(&store, order_of(shop.buyer.id, vec![line(&shop.print, 1, 1_000)])).await;
    let before = world(&store, &shop).await;
    assert_eq!(
        apply(&store, payment_event(other.id, PaymentEventKind::Succeeded, "evt_1")).await,
        EventOutcome::Duplicate
    );
    assert_eq!(world(&store, &shop).await, before);
    assert_eq!(order_now(&store, other.id).await.status, OrderStatus::PendingPayment);
    assert_paid_once(&store, &shop).await;
}

pub async fn late_events_for_a_paid_order_are_ignored(store: Db) {
    let shop = shop(&store).await;
    let order = place(&store, mixed_order(&shop)).await;
    pay(&store, order.id).await;
    let before = world(&store, &shop).await;
    for (kind, id) in [
        (PaymentEventKind::Succeeded, "evt_second_success"),
        (PaymentEventKind::Failed, "evt_late_failure"),
        (PaymentEventKind::Expired, "evt_late_expiry"),
    ] {
        assert_eq!(
            apply(&store, payment_event(order.id, kind, id)).await,
            EventOutcome::Ignored,
            "{kind:?}"
        );
        assert_eq!(world(&store, &shop).await, before, "{kind:?}: nothing changed");
        // Ignored events are recorded too: their replay is a duplicate.
        assert_eq!(apply(&store, payment_event(order.id, kind, id)).await, EventOutcome::Duplicate);
    }
    let paid = order_now(&store, order.id).await;
    assert_eq!(paid.status, OrderStatus::Paid);
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(2), "a late expiry releases nothing");
    assert_paid_once(&store, &shop).await;

    // Cancelled orders cannot be paid either.
    let cancelled = place(&store, order_of(shop.buyer.id, vec![line(&shop.print, 1, 1_000)])).await;
    store.cancel_order(cancelled.id, shop.buyer.id, now()).await.unwrap();
    let before = world(&store, &shop).await;
    assert_eq!(
        apply(&store, payment_event(cancelled.id, PaymentEventKind::Succeeded, "evt_after_cancel")).await,
        EventOutcome::Ignored
    );
    assert_eq!(world(&store, &shop).await, before);
}

pub async fn failed_then_succeeded_pays(store: Db) {
    let shop = shop(&store).await;
    let order = place(&store, mixed_order(&shop)).await;
    let emails = email_count(&store).await;
    let failure = payment_event(order.id, PaymentEventKind::Failed, "evt_f1");
    let failed_at = failure.at;
    assert_eq!(apply(&store, failure).await, EventOutcome::Applied);
    let failed = order_now(&store, order.id).await;
    assert_eq!(
        (failed.status, failed.updated_at, failed.paid_at),
        (OrderStatus::PaymentFailed, failed_at, None)
    );
    assert_eq!(failed.payment_intent_id.as_deref(), Some("pi_evt_f1"));
    assert!(failed.items.iter().all(|i| i.fulfilment_status == FulfilmentStatus::Unfulfilled));
    assert_eq!(balance_of(&store, shop.alice.id).await, Balance::default(), "no money yet");
    assert_eq!(sales_of(&store, shop.print.id).await, 0);
    assert_eq!(email_count(&store).await, emails);
    assert_eq!(stock_of(&store, shop.print.id).await, Some(3), "stock stays reserved for a retry");

    // A second failure changes nothing more.
    let before = world(&store, &shop).await;
    assert_eq!(
        apply(&store, payment_event(order.id, PaymentEventKind::Failed, "evt_f2")).await,
        EventOutcome::Ignored
    );
    assert_eq!(world(&store, &shop).await, before);

    // A success without an intent id keeps the one remembered.
    let mut success = payment_event(order.id, PaymentEventKind::Succeeded, "evt_s");
    success.payment_intent_id = None;
    let paid_at = success.at;
    assert_eq!(apply(&store, success).await, EventOutcome::Applied);
    let paid = order_now(&store, order.id).await;
    assert_eq!((paid.status, paid.paid_at), (OrderStatus::Paid, Some(paid_at)));
    assert_eq!(paid.payment_intent_id.as_deref(), Some("pi_evt_f1"));
    assert_paid_once(&store, &shop).await;
    assert_eq!(email_count(&store).await, emails + 1);
}

pub async fn expired_releases_stock_and_blocks_later_payment(store: Db) {
    let shop = shop(&store).await;
    let order = place(&store, mixed_order(&shop)).await;
    assert_eq!(
        (stock_of(&store, shop.print.id).await, stock_of(&store, shop.vase.id).await),
        (Some(3), Some(2))
    );
    let expiry = payment_event(order.id, PaymentEventKind::Expired, "evt_x");
    let at = expiry.at;
    assert_eq!(apply(&store, expiry).await, EventOutcome::Applied);
    let expired = order_now(&store, order.id).await;
    assert_eq!(
        (expired.status, expired.updated_at, expired.paid_at),
        (OrderStatus::Expired, at, None)
    );
    assert_eq!(stock_of(&store, shop.print.id).await, Some(5), "released");
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(3));

    let before = world(&store, &shop).await;
    for (kind, id) in [
        (PaymentEventKind::Succeeded, "evt_late_success"),
        (PaymentEventKind::Failed, "evt_late_failure"),
        (PaymentEventKind::Expired, "evt_second_expiry"),
    ] {
        assert_eq!(
            apply(&store, payment_event(order.id, kind, id)).await,
            EventOutcome::Ignored,
            "{kind:?}"
        );
    }
    assert_eq!(world(&store, &shop).await, before, "no payment, no second release");
    assert_eq!(balance_of(&store, shop.alice.id).await, Balance::default());

    // An order whose payment failed expires too.
    let retry = place(&store, order_of(shop.buyer.id, vec![line(&shop.vase, 2, 1_000)])).await;
    apply(&store, payment_event(retry.id, PaymentEventKind::Failed, "evt_rf")).await;
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(1));
    assert_eq!(
        apply(&store, payment_event(retry.id, PaymentEventKind::Expired, "evt_rx")).await,
        EventOutcome::Applied
    );
    assert_eq!(order_now(&store, retry.id).await.status, OrderStatus::Expired);
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(3));
}

pub async fn event_for_an_unknown_order_is_not_found_and_not_recorded(store: Db) {
    let shop = shop(&store).await;
    let before = world(&store, &shop).await;
    match store
        .apply_payment_event(payment_event(OrderId::new(), PaymentEventKind::Succeeded, "evt_lost"))
        .await
    {
        Err(StoreError::NotFound) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert_eq!(world(&store, &shop).await, before);
    // Rolled back with its effect: the same id applies once the order is known.
    let order = place(&store, mixed_order(&shop)).await;
    assert_eq!(
        apply(&store, payment_event(order.id, PaymentEventKind::Succeeded, "evt_lost")).await,
        EventOutcome::Applied
    );
    assert_paid_once(&store, &shop).await;
}

/// Applies `events` from concurrent tasks released together; returns their outcomes.
async fn concurrently(store: &Db, events: Vec<PaymentEventRecord>) -> Vec<EventOutcome> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(events.len()));
    let tasks: Vec<_> = events
        .into_iter()
        .map(|event| {
            let store = store.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store.apply_payment_event(event).await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.expect("task").expect("apply payment event"));
    }
    outcomes
}

fn count(outcomes: &[EventOutcome], wanted: EventOutcome) -> usize {
    outcomes.iter().filter(|o| **o == wanted).count()
}

pub async fn concurrent_replays_of_one_event_apply_once(store: Db) {
    let shop = shop(&store).await;
    let order = place(&store, mixed_order(&shop)).await;
    let emails = email_count(&store).await;
    let events = (0..8)
        .map(|_| payment_event(order.id, PaymentEventKind::Succeeded, "evt_storm"))
        .collect();
    let outcomes = concurrently(&store, events).await;
    assert_eq!(count(&outcomes, EventOutcome::Applied), 1, "{outcomes:?}");
    assert_eq!(count(&outcomes, EventOutcome::Duplicate), 7, "{outcomes:?}");
    assert_eq!(order_now(&store, order.id).await.status, OrderStatus::Paid);
    assert_paid_once(&store, &shop).await;
    assert_eq!(email_count(&store).await, emails + 1, "one confirmation");
}

pub async fn concurrent_distinct_events_pay_once(store: Db) {
    let shop = shop(&store).await;
    let order = place(&store, mixed_order(&shop)).await;
    let emails = email_count(&store).await;
    let events = (0..8)
        .map(|i| payment_event(order.id, PaymentEventKind::Succeeded, &format!("evt_{i}")))
        .collect();
    let outcomes = concurrently(&store, events).await;
    assert_eq!(count(&outcomes, EventOutcome::Applied), 1, "{outcomes:?}");
    assert_eq!(count(&outcomes, EventOutcome::Ignored), 7, "{outcomes:?}");
    assert_paid_once(&store, &shop).await;
    assert_eq!(email_count(&store).await, emails + 1, "one confirmation");
}

pub async fn concurrent_payments_and_cancellations_of_orders_sharing_products(store: Db) {
    let shop = shop(&store).await;
    let many = |title: &str, vendor| NewProduct {
        stock: Some(100),
        ..product(vendor, seeded::prints(), title)
    };
    let cup = add_product(&store, many("Cup", shop.alice.id)).await;
    let bowl = add_product(&store, many("Bowl", shop.bruno.id)).await;
    let jug = add_product(&store, many("Jug", shop.alice.id)).await;
    // Every order holds the three products (2 each), in different line orders.
    let arrangements = [[&cup, &bowl, &jug], [&jug, &bowl, &cup], [&bowl, &cup, &jug], [&jug, &cup, &bowl]];
    let order_for = |i: usize, buyer| order_of(buyer, arrangements[i % 4].iter().map(|p| line(p, 2, 1_000)).collect());
    let cutoff = now() - secs(3_600);
    let (mut to_pay, mut to_cancel, mut stale, mut fresh) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..32 {
        let buyer = new_user(&store, &format!("shopper{i}@example.com")).await;
        match i % 4 {
            0 => to_pay.push(place(&store, order_for(i, buyer.id)).await),
            1 => to_cancel.push(place(&store, order_for(i, buyer.id)).await),
            2 => {
                let old = NewOrder {
                    at: cutoff - secs(60),
                    ..order_for(i, buyer.id)
                };
                stale.push(place(&store, old).await.id);
            }
            _ => fresh.push(order_for(i, buyer.id)),
        }
    }
    for product in [&cup, &bowl, &jug] {
        assert_eq!(stock_of(&store, product.id).await, Some(100 - 48));
    }
    // Payments, cancellations, checkouts and two expiry sweeps, all at once.
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(26));
    let mut tasks = Vec::new();
    for order in to_pay {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let event = payment_event(order.id, PaymentEventKind::Succeeded, &format!("evt_{}", order.id));
            store
                .apply_payment_event(event)
                .await
                .map(|outcome| assert_eq!(outcome, EventOutcome::Applied))
        }));
    }
    for order in to_cancel {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.cancel_order(order.id, order.user_id, now()).await.map(|_| ())
        }));
    }
    for order in fresh {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store.place_order(order).await.map(|_| ())
        }));
    }
    let expired = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    for _ in 0..2 {
        let (store, barrier, expired) = (store.clone(), barrier.clone(), expired.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let ids = store.expire_orders(cutoff, now()).await?;
            expired.lock().unwrap().extend(ids);
            Ok(())
        }));
    }
    for task in tasks {
        task.await.expect("task").expect("no deadlock, no error");
    }
    let mut expired = expired.lock().unwrap().clone();
    expired.sort();
    stale.sort();
    assert_eq!(expired, stale, "each stale order expired once");
    for product in [&cup, &bowl, &jug] {
        assert_eq!(
            stock_of(&store, product.id).await,
            Some(100 - 2 * 16),
            "units of 8 paid and 8 new orders are out; 8 cancelled and 8 expired ones released theirs"
        );
        assert_eq!(sales_of(&store, product.id).await, 16, "8 paid orders sold 16 units");
    }
    // 8 paid orders × (cup + jug) for alice: 2 × 10.00 each, 10 % commission.
    let alice = balance_of(&store, shop.alice.id).await;
    assert_eq!((alice.pending, alice.commission), (Money(8 * 2 * 1_800), Money(8 * 2 * 200)));
    let bruno = balance_of(&store, shop.bruno.id).await;
    assert_eq!((bruno.pending, bruno.commission), (Money(8 * 1_800), Money(8 * 200)));
}
