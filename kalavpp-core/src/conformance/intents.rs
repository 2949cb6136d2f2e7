//! `PaymentIntentStore` and the intents written by orders: refund requests (one at a time,
//! re-armed after a refusal), leases on claims, outcomes, automatic refunds of payments an order
//! cannot take (decided inside the event's transaction), session expiries on cancel and expiry.

use uuid::Uuid;

use crate::domain::{EventOutcome, IntentKind, IntentStatus};
use crate::domain::{OrderStatus, UserId};
use crate::payments::PaymentEventKind;
use crate::storage::{Conflict, HasStatus};
use crate::storage::{LatePayment, NewPaymentIntent, PaymentEventRecord, Refund, StoreError};

use crate::conformance::prelude::*;

// The cases of this module, in the order they are listed to `cases()` and to a runner.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_intents {
    ($callback:ident) => {
        $callback! {
            group: intents,
            store: [
                refund_requests_are_one_at_a_time_and_rearm_after_a_refusal,
                claims_are_leases_and_outcomes_stick,
                a_confirmed_refund_closes_its_intent_with_the_ledger,
                late_payments_are_given_back_once_and_on_time_ones_are_not,
                cancel_and_expiry_record_session_expiries,
            ],
            sql: [],
        }
    };
}

__conformance_intents!(define_cases);

fn refund_intent(order_id: crate::domain::OrderId, actor: Option<UserId>) -> NewPaymentIntent {
    NewPaymentIntent {
        id: Uuid::now_v7(),
        order_id,
        kind: IntentKind::Refund,
        idempotency_key: format!("refund-{order_id}"),
        session_id: None,
        payment_intent_id: Some("pi_1".into()),
        amount_cents: 1_000,
        actor_id: actor,
        next_attempt_at: now(),
        at: now(),
    }
}

fn late(order: &crate::domain::Order, payment: &str, always: bool) -> LatePayment {
    LatePayment {
        intent: NewPaymentIntent {
            kind: IntentKind::AutoRefund,
            idempotency_key: format!("auto-refund-{payment}"),
            payment_intent_id: Some(payment.into()),
            amount_cents: order.total.cents(),
            ..refund_intent(order.id, None)
        },
        audit: audit_of(None, "order.auto_refund", "order", order.id, now()),
        email: Some(mail("buyer@example.com", "payment_returned")),
        always,
    }
}

fn succeeded(order: &crate::domain::Order, event_id: &str, payment: &str, always: bool) -> PaymentEventRecord {
    PaymentEventRecord {
        payment_intent_id: Some(payment.into()),
        late_payment: Some(late(order, payment, always)),
        ..payment_event(order.id, PaymentEventKind::Succeeded, event_id)
    }
}

pub async fn refund_requests_are_one_at_a_time_and_rearm_after_a_refusal(store: Db) {
    let shop = shop(&store).await;
    let order = place(&store, mixed_order(&shop)).await;
    // Unpaid: nothing to refund.
    assert_conflict(
        store.request_refund(refund_intent(order.id, None)).await,
        Conflict::StaleStatus(HasStatus::Order),
    );
    pay(&store, order.id).await;
    let first = store
        .request_refund(refund_intent(order.id, Some(shop.buyer.id)))
        .await
        .expect("request");
    assert_eq!(
        (first.kind, first.status, first.attempts),
        (IntentKind::Refund, IntentStatus::Pending, 0)
    );
    assert_conflict(store.request_refund(refund_intent(order.id, None)).await, Conflict::RefundPending);
    // Refused for good: a new request re-arms the same intent (same key), nothing else.
    store
        .fail_payment_intent(first.id, "insufficient funds", None, now())
        .await
        .expect("fail");
    let failed = store.payment_intents_in(IntentStatus::Failed, 10).await.expect("list");
    assert_eq!(failed.iter().map(|i| i.id).collect::<Vec<_>>(), vec![first.id]);
    assert_eq!(failed[0].last_error.as_deref(), Some("insufficient funds"));
    let rearm = refund_intent(order.id, None);
    let again = store.request_refund(rearm.clone()).await.expect("re-armed");
    assert_eq!((again.id, again.status), (first.id, IntentStatus::Pending));
    assert_eq!(
        again.idempotency_key,
        format!("refund-{}-{}", order.id, rearm.id.simple()),
        "a new key after a refusal"
    );
    assert_eq!(store.payment_intents_for_order(order.id).await.expect("list").len(), 1);
    assert_not_found(store.request_refund(refund_intent(crate::domain::OrderId::new(), None)).await);
}

pub async fn claims_are_leases_and_outcomes_stick(store: Db) {
    let shop = shop(&store).await;
    let order = place(&store, mixed_order(&shop)).await;
    pay(&store, order.id).await;
    let t0 = now();
    let intent = store
        .request_refund(NewPaymentIntent {
            next_attempt_at: t0 + secs(60),
            ..refund_intent(order.id, None)
        })
        .await
        .expect("request");
    // Not due while the inline attempt holds it.
    assert!(
        store
            .claim_payment_intents(t0, t0 + secs(120), 10, None)
            .await
            .expect("claim")
            .is_empty()
    );
    let claimed = store
        .claim_payment_intents(t0 + secs(61), t0 + secs(200), 10, None)
        .await
        .expect("claim");
    assert_eq!(claimed.iter().map(|i| (i.id, i.attempts)).collect::<Vec<_>>(), vec![(intent.id, 1)]);
    assert_eq!(claimed[0].next_attempt_at, t0 + secs(200));
    // Leased: nobody else gets it until the lease ends.
    assert!(
        store
            .claim_payment_intents(t0 + secs(100), t0 + secs(300), 10, None)
            .await
            .expect("claim")
            .is_empty()
    );
    // A failed call with a retry time: pending again, due then.
    store
        .fail_payment_intent(intent.id, "timeout", Some(t0 + secs(150)), t0 + secs(101))
        .await
        .expect("fail");
    let again = store
        .claim_payment_intents(t0 + secs(150), t0 + secs(400), 10, None)
        .await
        .expect("claim");
    assert_eq!(
        again.iter().map(|i| (i.attempts, i.last_error.clone())).collect::<Vec<_>>(),
        vec![(2, Some("timeout".into()))]
    );
    // Done sticks: later failures and finishes change nothing.
    assert!(
        store
            .finish_payment_intent(intent.id, Some("re_1"), t0 + secs(151))
            .await
            .expect("finish")
    );
    assert!(
        !store
            .finish_payment_intent(intent.id, Some("re_2"), t0 + secs(152))
            .await
            .expect("finish")
    );
    store
        .fail_payment_intent(intent.id, "late", None, t0 + secs(153))
        .await
        .expect("fail");
    let stored = store.payment_intents_for_order(order.id).await.expect("list");
    assert_eq!(
        (stored[0].status, stored[0].result_id.as_deref(), stored[0].last_error.as_deref()),
        (IntentStatus::Done, Some("re_1"), None)
    );
    assert!(
        store
            .claim_payment_intents(t0 + secs(9_999), t0 + secs(99_999), 10, None)
            .await
            .expect("claim")
            .is_empty()
    );
}

pub async fn a_confirmed_refund_closes_its_intent_with_the_ledger(store: Db) {
    let shop = shop(&store).await;
    let order = place(&store, mixed_order(&shop)).await;
    pay(&store, order.id).await;
    let intent = store.request_refund(refund_intent(order.id, None)).await.expect("request");
    store
        .refund_order(Refund {
            order_id: order.id,
            refund_id: "re_9".into(),
            intent_id: Some(intent.id),
            audit: audit_of(None, "order.refund", "order", order.id, now()),
            email: None,
            at: now(),
        })
        .await
        .expect("refund");
    assert_eq!(order_now(&store, order.id).await.status, OrderStatus::Refunded);
    let stored = store.payment_intents_for_order(order.id).await.expect("list");
    assert_eq!(
        (stored[0].status, stored[0].result_id.as_deref()),
        (IntentStatus::Done, Some("re_9"))
    );
    assert_eq!(balance_of(&store, shop.alice.id).await, crate::domain::Balance::default());
}

pub async fn late_payments_are_given_back_once_and_on_time_ones_are_not(store: Db) {
    let shop = shop(&store).await;
    // On time: paid, no intent, even though a refund was prepared.
    let order = place(&store, mixed_order(&shop)).await;
    assert_eq!(
        store
            .apply_payment_event(succeeded(&order, "evt_ok", "pi_ok", false))
            .await
            .expect("apply"),
        EventOutcome::Applied
    );
    assert!(store.payment_intents_for_order(order.id).await.expect("list").is_empty());
    // The same payment's second event: ignored, not refunded.
    assert_eq!(
        store
            .apply_payment_event(succeeded(&order, "evt_ok_2", "pi_ok", false))
            .await
            .expect("apply"),
        EventOutcome::Ignored
    );
    // Another payment for the paid order: given back, nothing else moves.
    let before = world(&store, &shop).await;
    let audits = audit_count(&store).await;
    let emails = email_count(&store).await;
    assert_eq!(
        store
            .apply_payment_event(succeeded(&order, "evt_twice", "pi_twice", false))
            .await
            .expect("apply"),
        EventOutcome::AutoRefund
    );
    // Its second event (same payment): one refund only, one audit row, one email.
    assert_eq!(
        store
            .apply_payment_event(succeeded(&order, "evt_twice_2", "pi_twice", false))
            .await
            .expect("apply"),
        EventOutcome::AutoRefund
    );
    let after = world(&store, &shop).await;
    assert_eq!(
        (&after.orders, &after.balances, &after.ledgers, &after.stock, &after.sales),
        (&before.orders, &before.balances, &before.ledgers, &before.stock, &before.sales),
        "no ledger, stock or status change"
    );
    assert_eq!((audit_count(&store).await, email_count(&store).await), (audits + 1, emails + 1));
    let intents = store.payment_intents_for_order(order.id).await.expect("list");
    assert_eq!(intents.len(), 1);
    assert_eq!(
        (
            intents[0].kind,
            intents[0].status,
            intents[0].payment_intent_id.as_deref(),
            intents[0].amount_cents
        ),
        (IntentKind::AutoRefund, IntentStatus::Pending, Some("pi_twice"), order.total.cents())
    );

    // After a cancel: given back, the order stays cancelled.
    let cancelled = place(&store, order_of(shop.buyer.id, vec![line(&shop.vase, 1, 1_000)])).await;
    store.cancel_order(cancelled.id, shop.buyer.id, now()).await.expect("cancel");
    assert_eq!(
        store
            .apply_payment_event(succeeded(&cancelled, "evt_late", "pi_late", false))
            .await
            .expect("apply"),
        EventOutcome::AutoRefund
    );
    assert_eq!(order_now(&store, cancelled.id).await.status, OrderStatus::Cancelled);
    // A wrong amount on an open order: given back, the order stays unpaid.
    let open = place(&store, order_of(shop.buyer.id, vec![line(&shop.vase, 1, 1_000)])).await;
    assert_eq!(
        store
            .apply_payment_event(succeeded(&open, "evt_wrong", "pi_wrong", true))
            .await
            .expect("apply"),
        EventOutcome::AutoRefund
    );
    assert_eq!(order_now(&store, open.id).await.status, OrderStatus::PendingPayment);
    // Replays are duplicates.
    assert_eq!(
        store
            .apply_payment_event(succeeded(&cancelled, "evt_late", "pi_late", false))
            .await
            .expect("apply"),
        EventOutcome::Duplicate
    );
    let due = store
        .claim_payment_intents(now() + secs(1), now() + secs(60), 10, None)
        .await
        .expect("claim");
    assert_eq!(due.len(), 3, "three payments to give back: {due:?}");
}

pub async fn cancel_and_expiry_record_session_expiries(store: Db) {
    let shop = shop(&store).await;
    let cancelled = place(&store, order_of(shop.buyer.id, vec![line(&shop.vase, 1, 1_000)])).await;
    store.attach_payment_session(cancelled.id, "cs_cancel").await.expect("attach");
    store.cancel_order(cancelled.id, shop.buyer.id, now()).await.expect("cancel");
    let stale = place(
        &store,
        crate::storage::NewOrder {
            at: now() - secs(7_200),
            ..order_of(shop.buyer.id, vec![line(&shop.vase, 1, 1_000)])
        },
    )
    .await;
    store.attach_payment_session(stale.id, "cs_stale").await.expect("attach");
    let no_session = place(
        &store,
        crate::storage::NewOrder {
            at: now() - secs(7_200),
            ..order_of(shop.buyer.id, vec![line(&shop.print, 1, 1_000)])
        },
    )
    .await;
    let expired = store.expire_orders(now() - secs(3_600), now()).await.expect("expire");
    assert_eq!(expired.len(), 2);
    for (order, session) in [
        (cancelled.id, Some("cs_cancel")),
        (stale.id, Some("cs_stale")),
        (no_session.id, None),
    ] {
        let intents = store.payment_intents_for_order(order).await.expect("list");
        let expected: Vec<_> = session
            .map(|s| {
                (
                    IntentKind::ExpireSession,
                    IntentStatus::Pending,
                    Some(s.to_owned()),
                    format!("expire-{s}"),
                )
            })
            .into_iter()
            .collect();
        assert_eq!(
            intents
                .iter()
                .map(|i| (i.kind, i.status, i.session_id.clone(), i.idempotency_key.clone()))
                .collect::<Vec<_>>(),
            expected
        );
    }
    // The unpaid-orders guard counts only open orders of the buyer.
    let guarded = crate::storage::NewOrder {
        max_unpaid: Some(0),
        ..order_of(shop.buyer.id, vec![line(&shop.print, 1, 1_000)])
    };
    assert_conflict(store.place_order(guarded).await, Conflict::TooManyUnpaidOrders);
    let one_open = place(&store, order_of(shop.buyer.id, vec![line(&shop.print, 1, 1_000)])).await;
    let limited = |limit| crate::storage::NewOrder {
        max_unpaid: Some(limit),
        ..order_of(shop.buyer.id, vec![line(&shop.print, 1, 1_000)])
    };
    assert_conflict(store.place_order(limited(1)).await, Conflict::TooManyUnpaidOrders);
    place(&store, limited(2)).await;
    let _ = (one_open, StoreError::NotFound);
}
