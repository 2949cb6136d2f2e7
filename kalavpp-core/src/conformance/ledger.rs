//! Fulfilment, refunds and the vendor ledger: `OrderStore::fulfil_item`, `OrderStore::refund_order`,
//! `LedgerStore::vendor_balance` and `LedgerStore::ledger_entries`.

use std::collections::HashMap;

use crate::domain::{AuditFilter, Balance, EventOutcome, LedgerEntry, Order, OrderItem};
use crate::domain::{FulfilmentStatus, LedgerBucket, LedgerKind, Money, OrderId, OrderItemId, OrderStatus, PageRequest, VendorId};
use crate::payments::PaymentEventKind;
use crate::storage::{Conflict, HasStatus};
use crate::storage::{Fulfilment, NewOrder, Refund};

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_ledger {
    ($callback:ident) => {
        $callback! {
            group: ledger,
            store: [
                fulfil_item_ships_a_line_and_releases_its_money,
                fulfil_item_refuses_what_it_may_not_ship,
                refund_order_reverses_every_ledger_amount,
                refund_order_refuses_unpaid_and_refunded_orders,
                refund_of_a_completed_order,
                ledger_entries_paginate_newest_first,
                sales_wait_out_the_refund_window,
            ],
            sql: [],
        }
    };
}

__conformance_ledger!(define_cases);

fn ship(vendor_id: VendorId, order_id: OrderId, item_id: OrderItemId) -> Fulfilment {
    Fulfilment {
        vendor_id,
        order_id,
        item_id,
        tracking_number: Some("TRK-001".into()),
        carrier: Some("PostNL".into()),
        release_now: true,
        at: now(),
    }
}

fn refund(order: &Order) -> Refund {
    let at = now();
    Refund {
        order_id: order.id,
        refund_id: format!("re_{}", order.number),
        intent_id: None,
        audit: audit_of(None, "order.refund", "order", order.id, at),
        email: Some(mail("buyer@example.com", "order_refunded")),
        at,
    }
}

/// A paid [`mixed_order`]: lines print (alice, physical), vase (bruno, physical), ebook (alice, digital).
async fn paid_order(store: &Db, shop: &Shop) -> Order {
    let order = place(store, mixed_order(shop)).await;
    pay(store, order.id).await;
    order_now(store, order.id).await
}

pub async fn fulfil_item_ships_a_line_and_releases_its_money(store: Db) {
    let shop = shop(&store).await;
    let order = paid_order(&store, &shop).await;
    let (print, vase) = (order.items[0].clone(), order.items[1].clone());
    let fulfilment = ship(shop.alice.id, order.id, print.id);
    let at = fulfilment.at;
    let shipped = store.fulfil_item(fulfilment).await.unwrap();
    assert_eq!(
        shipped,
        OrderItem {
            fulfilment_status: FulfilmentStatus::Shipped,
            tracking_number: Some("TRK-001".into()),
            carrier: Some("PostNL".into()),
            shipped_at: Some(at),
            ..print.clone()
        }
    );
    let after = order_now(&store, order.id).await;
    assert_eq!(after.items[0], shipped);
    assert_eq!(after.status, OrderStatus::Paid, "the vase is not shipped yet");
    assert_eq!(after.paid_at, order.paid_at);
    assert_eq!(
        balance_of(&store, shop.alice.id).await,
        Balance {
            pending: Money(0),
            available: Money(2_221 + 2_697),
            commission: Money(547),
            ..Balance::default()
        },
        "the print's net moved from pending to available"
    );
    let releases: Vec<(LedgerKind, LedgerBucket, i64)> = ledger_of(&store, shop.alice.id)
        .await
        .into_iter()
        .filter(|e| e.kind == LedgerKind::Release)
        .map(|e| {
            assert_eq!((e.order_item_id, e.order_id, e.created_at), (Some(print.id), Some(order.id), at));
            (e.kind, e.bucket, e.amount.cents())
        })
        .collect();
    assert_eq!(releases.len(), 2);
    assert!(releases.contains(&(LedgerKind::Release, LedgerBucket::Pending, -2_221)));
    assert!(releases.contains(&(LedgerKind::Release, LedgerBucket::Available, 2_221)));
    assert_eq!(
        balance_of(&store, shop.bruno.id).await.pending,
        Money(3_996),
        "bruno's line is still pending"
    );

    // The last physical line shipped completes the order (the digital one was delivered on payment).
    let last = Fulfilment {
        tracking_number: None,
        carrier: None,
        ..ship(shop.bruno.id, order.id, vase.id)
    };
    let completed_at = last.at;
    let shipped = store.fulfil_item(last).await.unwrap();
    assert_eq!((shipped.tracking_number, shipped.carrier), (None, None));
    let completed = order_now(&store, order.id).await;
    assert_eq!((completed.status, completed.updated_at), (OrderStatus::Completed, completed_at));
    assert_eq!(
        balance_of(&store, shop.bruno.id).await,
        Balance {
            available: Money(3_996),
            commission: Money(571),
            ..Balance::default()
        }
    );
}

pub async fn fulfil_item_refuses_what_it_may_not_ship(store: Db) {
    let shop = shop(&store).await;
    let unpaid = place(&store, mixed_order(&shop)).await;
    assert_conflict(
        store.fulfil_item(ship(shop.alice.id, unpaid.id, unpaid.items[0].id)).await,
        Conflict::StaleStatus(HasStatus::OrderItem),
    );
    let order = paid_order(&store, &shop).await;
    let (print, vase, ebook) = (order.items[0].id, order.items[1].id, order.items[2].id);
    let before = world(&store, &shop).await;
    assert_not_found(store.fulfil_item(ship(shop.bruno.id, order.id, print)).await);
    assert_not_found(store.fulfil_item(ship(shop.alice.id, order.id, vase)).await);
    assert_not_found(store.fulfil_item(ship(shop.alice.id, order.id, OrderItemId::new())).await);
    assert_not_found(store.fulfil_item(ship(shop.alice.id, OrderId::new(), print)).await);
    assert_not_found(store.fulfil_item(ship(shop.alice.id, unpaid.id, print)).await);
    assert_conflict(
        store.fulfil_item(ship(shop.alice.id, order.id, ebook)).await,
        Conflict::StaleStatus(HasStatus::OrderItem),
    );
    assert_eq!(world(&store, &shop).await, before, "nothing changed");

    store.fulfil_item(ship(shop.alice.id, order.id, print)).await.unwrap();
    let shipped_once = world(&store, &shop).await;
    assert_conflict(
        store.fulfil_item(ship(shop.alice.id, order.id, print)).await,
        Conflict::StaleStatus(HasStatus::OrderItem),
    );
    assert_eq!(world(&store, &shop).await, shipped_once, "shipping twice releases nothing twice");

    // Nothing ships from a refunded order.
    store.refund_order(refund(&order)).await.unwrap();
    let refunded = world(&store, &shop).await;
    assert_conflict(
        store.fulfil_item(ship(shop.bruno.id, order.id, vase)).await,
        Conflict::StaleStatus(HasStatus::OrderItem),
    );
    assert_eq!(world(&store, &shop).await, refunded);
}

/// Sums of a vendor's ledger per (line, bucket).
fn sums(entries: &[LedgerEntry]) -> HashMap<(OrderItemId, LedgerBucket), i64> {
    let mut sums = HashMap::new();
    for entry in entries {
        *sums.entry((entry.order_item_id.expect("a line"), entry.bucket)).or_insert(0) += entry.amount.cents();
    }
    sums
}

pub async fn refund_order_reverses_every_ledger_amount(store: Db) {
    let shop = shop(&store).await;
    let order = paid_order(&store, &shop).await;
    let (print, vase, ebook) = (&order.items[0], &order.items[1], &order.items[2]);
    // The print's money is available (shipped), the vase's still pending, the e-book's available.
    store.fulfil_item(ship(shop.alice.id, order.id, print.id)).await.unwrap();
    let shipped = order_now(&store, order.id).await;
    let (audit, emails) = (audit_count(&store).await, email_count(&store).await);
    let alice_entries = ledger_of(&store, shop.alice.id).await.len();

    let request = refund(&order);
    let at = request.at;
    let refunded = store.refund_order(request).await.unwrap();
    assert_eq!(refunded.status, OrderStatus::Refunded);
    assert_eq!(refunded.refund_id, Some(format!("re_{}", order.number)));
    assert_eq!((refunded.updated_at, refunded.paid_at), (at, order.paid_at));
    assert_eq!(refunded.items, shipped.items, "lines keep their delivery state");
    assert_eq!(order_now(&store, order.id).await, refunded);
    for item in &order.items {
        let product = store.product_by_id(item.product_id).await.unwrap().unwrap();
        assert_eq!(product.sales_count, 0, "a refunded sale no longer counts towards popular");
    }

    // Every line's buckets are back to zero, so are the vendors' balances.
    for vendor in [shop.alice.id, shop.bruno.id] {
        assert_eq!(balance_of(&store, vendor).await, Balance::default());
        for ((item, bucket), sum) in sums(&ledger_of(&store, vendor).await) {
            assert_eq!(sum, 0, "line {item} bucket {bucket}");
        }
    }
    let reversals = |entries: Vec<LedgerEntry>| {
        let mut found: Vec<(OrderItemId, LedgerKind, LedgerBucket, i64)> = entries
            .into_iter()
            .filter(|e| e.created_at == at && matches!(e.kind, LedgerKind::RefundReversal | LedgerKind::CommissionReversal))
            .map(|e| (e.order_item_id.unwrap(), e.kind, e.bucket, e.amount.cents()))
            .collect();
        found.sort_by_key(|(item, _, bucket, _)| (*item, bucket.as_str()));
        found
    };
    let mut expected_alice = vec![
        (print.id, LedgerKind::RefundReversal, LedgerBucket::Available, -2_221),
        (print.id, LedgerKind::CommissionReversal, LedgerBucket::Platform, -247),
        (ebook.id, LedgerKind::RefundReversal, LedgerBucket::Available, -2_697),
        (ebook.id, LedgerKind::CommissionReversal, LedgerBucket::Platform, -300),
    ];
    expected_alice.sort_by_key(|(item, _, bucket, _)| (*item, bucket.as_str()));
    assert_eq!(reversals(ledger_of(&store, shop.alice.id).await), expected_alice);
    assert_eq!(
        ledger_of(&store, shop.alice.id).await.len(),
        alice_entries + 4,
        "no entry for the print's pending bucket, already at zero"
    );
    assert_eq!(
        reversals(ledger_of(&store, shop.bruno.id).await),
        [
            (vase.id, LedgerKind::RefundReversal, LedgerBucket::Pending, -3_996),
            (vase.id, LedgerKind::CommissionReversal, LedgerBucket::Platform, -571),
        ]
    );

    assert_eq!(stock_of(&store, shop.print.id).await, Some(5), "physical stock restored");
    assert_eq!(stock_of(&store, shop.vase.id).await, Some(3));
    assert_eq!(stock_of(&store, shop.ebook.id).await, None);
    assert_eq!(audit_count(&store).await, audit + 1);
    let row = store
        .list_audit(
            &AuditFilter {
                action: Some("order.refund".into()),
                ..AuditFilter::default()
            },
            PageRequest::new(1, 10),
        )
        .await
        .unwrap();
    assert_eq!(row.total, 1);
    assert_eq!(
        (row.items[0].target_type.as_str(), row.items[0].target_id.clone()),
        ("order", order.id.to_string())
    );
    assert_eq!(email_count(&store).await, emails + 1);

    // A second refund changes nothing.
    let before = world(&store, &shop).await;
    assert_conflict(store.refund_order(refund(&order)).await, Conflict::StaleStatus(HasStatus::Order));
    assert_eq!(world(&store, &shop).await, before);
    // Nor does a late payment event.
    assert_eq!(
        store
            .apply_payment_event(payment_event(order.id, PaymentEventKind::Succeeded, "evt_after_refund"))
            .await
            .unwrap(),
        EventOutcome::Ignored
    );
    assert_eq!(world(&store, &shop).await, before);
}

pub async fn refund_order_refuses_unpaid_and_refunded_orders(store: Db) {
    let shop = shop(&store).await;
    let pending = place(&store, mixed_order(&shop)).await;
    let cancelled = place(&store, order_of(shop.buyer.id, vec![line(&shop.print, 1, 1_000)])).await;
    store.cancel_order(cancelled.id, shop.buyer.id, now()).await.unwrap();
    let failed = place(&store, order_of(shop.buyer.id, vec![line(&shop.vase, 1, 1_000)])).await;
    store
        .apply_payment_event(payment_event(failed.id, PaymentEventKind::Failed, "evt_fail"))
        .await
        .unwrap();
    let before = world(&store, &shop).await;
    for order in [&pending, &cancelled, &failed] {
        assert_conflict(store.refund_order(refund(order)).await, Conflict::StaleStatus(HasStatus::Order));
    }
    assert_not_found(
        store
            .refund_order(Refund {
                order_id: OrderId::new(),
                ..refund(&pending)
            })
            .await,
    );
    assert_eq!(world(&store, &shop).await, before, "no stock, ledger, audit or email change");
    assert_eq!(order_now(&store, pending.id).await.status, OrderStatus::PendingPayment);
}

pub async fn refund_of_a_completed_order(store: Db) {
    let shop = shop(&store).await;
    let order = place(
        &store,
        order_of(shop.buyer.id, vec![line(&shop.print, 3, 1_500), line(&shop.ebook, 1, 0)]),
    )
    .await;
    // 3 × 12.34 = 37.02 at 15 % = 5.553 → 5.55; the e-book without commission.
    assert_eq!((order.items[0].commission, order.items[0].vendor_net), (Money(555), Money(3_147)));
    pay(&store, order.id).await;
    store.fulfil_item(ship(shop.alice.id, order.id, order.items[0].id)).await.unwrap();
    assert_eq!(order_now(&store, order.id).await.status, OrderStatus::Completed);
    assert_eq!(
        balance_of(&store, shop.alice.id).await,
        Balance {
            available: Money(3_147 + 999),
            commission: Money(555),
            ..Balance::default()
        }
    );
    assert_eq!(stock_of(&store, shop.print.id).await, Some(2));
    let refunded = store.refund_order(refund(&order)).await.unwrap();
    assert_eq!(refunded.status, OrderStatus::Refunded);
    assert_eq!(balance_of(&store, shop.alice.id).await, Balance::default());
    assert_eq!(stock_of(&store, shop.print.id).await, Some(5));
    let entries = ledger_of(&store, shop.alice.id).await;
    // sale credit + commission (print), sale credit (e-book), 2 releases, 3 reversals: zero amounts are not written.
    assert_eq!(entries.len(), 8);
    assert!(entries.iter().all(|e| e.amount.cents() != 0));
    assert_eq!(entries.iter().map(|e| e.amount.cents()).sum::<i64>(), 0);
}

pub async fn ledger_entries_paginate_newest_first(store: Db) {
    let shop = shop(&store).await;
    let t0 = now() - secs(3_600);
    let mut orders = Vec::new();
    for minute in [1, 2] {
        let order = place(
            &store,
            NewOrder {
                at: t0,
                ..order_of(shop.buyer.id, vec![line(&shop.print, 1, 1_000)])
            },
        )
        .await;
        let mut event = payment_event(order.id, PaymentEventKind::Succeeded, &format!("evt_{minute}"));
        event.at = t0 + secs(minute * 60);
        assert_eq!(store.apply_payment_event(event).await.unwrap(), EventOutcome::Applied);
        orders.push(order);
    }
    let shipped_at = t0 + secs(180);
    store
        .fulfil_item(Fulfilment {
            at: shipped_at,
            ..ship(shop.alice.id, orders[0].id, orders[0].items[0].id)
        })
        .await
        .unwrap();

    let mut seen = Vec::new();
    for page_number in 1..=2 {
        let page = store.ledger_entries(shop.alice.id, PageRequest::new(page_number, 4)).await.unwrap();
        assert_eq!((page.total, page.page, page.per_page), (6, page_number, 4));
        assert_eq!(page.items.len(), if page_number == 1 { 4 } else { 2 });
        seen.extend(page.items);
    }
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
    assert_eq!(seen, sorted, "newest first, then by id");
    let times: Vec<_> = seen.iter().map(|e| e.created_at).collect();
    assert_eq!(
        times,
        [shipped_at, shipped_at, t0 + secs(120), t0 + secs(120), t0 + secs(60), t0 + secs(60)]
    );
    assert!(
        seen[..2]
            .iter()
            .all(|e| e.kind == LedgerKind::Release && e.order_id == Some(orders[0].id))
    );
    assert!(seen[2..4].iter().all(|e| e.order_id == Some(orders[1].id)));
    assert_eq!(seen.iter().map(|e| e.vendor_id).collect::<std::collections::HashSet<_>>().len(), 1);
    // Each line: 12.34 → 1.23 commission, 11.11 net.
    let balance = balance_of(&store, shop.alice.id).await;
    assert_eq!(
        balance,
        Balance {
            pending: Money(1_111),
            available: Money(1_111),
            commission: Money(246),
            ..Balance::default()
        }
    );
    let by_bucket = |bucket| seen.iter().filter(|e| e.bucket == bucket).map(|e| e.amount.cents()).sum::<i64>();
    assert_eq!(
        (
            by_bucket(LedgerBucket::Pending),
            by_bucket(LedgerBucket::Available),
            by_bucket(LedgerBucket::Platform)
        ),
        (balance.pending.cents(), balance.available.cents(), balance.commission.cents()),
        "balances are the sums of the entries"
    );
    let beyond = store.ledger_entries(shop.alice.id, PageRequest::new(3, 4)).await.unwrap();
    assert_eq!((beyond.items.len(), beyond.total), (0, 6));

    // A vendor without sales has an empty ledger and zero balances.
    let empty = store.ledger_entries(shop.bruno.id, PageRequest::new(1, 10)).await.unwrap();
    assert_eq!((empty.items.len(), empty.total), (0, 0));
    assert_eq!(balance_of(&store, shop.bruno.id).await, Balance::default());
    assert_eq!(balance_of(&store, VendorId::new()).await, Balance::default());
}

/// With a refund window: every sale waits in `pending` (digital from payment, physical from
/// shipping) until `release_matured_credits` moves it, once; refunds before that take it back
/// from `pending`, and a refunded order releases nothing.
pub async fn sales_wait_out_the_refund_window(store: Db) {
    let shop = shop(&store).await;
    let order = place(&store, mixed_order(&shop)).await;
    let paid_at = now();
    let outcome = store
        .apply_payment_event(crate::storage::PaymentEventRecord {
            digital_credit_pending: true,
            at: paid_at,
            ..payment_event(order.id, crate::payments::PaymentEventKind::Succeeded, "evt_window")
        })
        .await
        .unwrap();
    assert_eq!(outcome, crate::domain::EventOutcome::Applied);
    // Alice: 2,221 (print) + 2,697 (ebook) pending, nothing available.
    assert_eq!(
        (
            balance_of(&store, shop.alice.id).await.pending,
            balance_of(&store, shop.alice.id).await.available
        ),
        (Money(4_918), Money(0))
    );
    // Not yet matured: nothing moves.
    assert_eq!(
        store
            .release_matured_credits(paid_at - secs(1), paid_at - secs(1), now())
            .await
            .unwrap(),
        0
    );
    // The ebook's window passed; the print is not shipped yet.
    assert_eq!(
        store
            .release_matured_credits(paid_at + secs(1), paid_at + secs(1), now())
            .await
            .unwrap(),
        1
    );
    let alice = balance_of(&store, shop.alice.id).await;
    assert_eq!((alice.pending, alice.available), (Money(2_221), Money(2_697)));
    // Again: idempotent.
    assert_eq!(
        store
            .release_matured_credits(paid_at + secs(1), paid_at + secs(1), now())
            .await
            .unwrap(),
        0
    );
    // Shipping keeps the print pending; its window runs from the shipment.
    let print = order.items.iter().find(|i| i.product_id == shop.print.id).unwrap();
    let shipped_at = now();
    store
        .fulfil_item(Fulfilment {
            release_now: false,
            at: shipped_at,
            ..ship(shop.alice.id, order.id, print.id)
        })
        .await
        .unwrap();
    assert_eq!(balance_of(&store, shop.alice.id).await.pending, Money(2_221));
    assert_eq!(
        store
            .release_matured_credits(shipped_at + secs(1), shipped_at - secs(1), now())
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .release_matured_credits(shipped_at + secs(1), shipped_at + secs(1), now())
            .await
            .unwrap(),
        1
    );
    let alice = balance_of(&store, shop.alice.id).await;
    assert_eq!((alice.pending, alice.available), (Money(0), Money(4_918)));

    // Refunded inside the window: the pending credit is reversed and never released.
    let second = place(&store, order_of(shop.buyer.id, vec![line(&shop.ebook, 1, 1_000)])).await;
    let paid_second = now();
    store
        .apply_payment_event(crate::storage::PaymentEventRecord {
            digital_credit_pending: true,
            ..payment_event(second.id, crate::payments::PaymentEventKind::Succeeded, "evt_window_2")
        })
        .await
        .unwrap();
    assert_eq!(
        order_now(&store, second.id).await.status,
        crate::domain::OrderStatus::Completed,
        "all digital: delivered"
    );
    store.refund_order(refund(&second)).await.unwrap();
    assert_eq!(
        store
            .release_matured_credits(paid_second + secs(60), paid_second + secs(60), now())
            .await
            .unwrap(),
        0
    );
    let alice = balance_of(&store, shop.alice.id).await;
    assert_eq!(
        (alice.pending, alice.available),
        (Money(0), Money(4_918)),
        "the refund took back only its own credit"
    );
}
