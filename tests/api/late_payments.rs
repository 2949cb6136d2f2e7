//! Money never vanishes: payments an order can no longer take are given back automatically,
//! cancelled and expired orders close their Stripe Checkout Session, and a refund survives a
//! provider that times out or a process that dies between the provider call and the commit.

use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, ResponseTemplate};

use crate::catalog_support::text;
use crate::helpers::TestApp;
use crate::payment_support::{
    FakeStripe, Scene, add_to_cart, address, checkout, completed_event, deliver, digital, earnings, email_count, field, form_pairs, header,
    now, on_both_backends_with_stripe, order, physical,
};

on_both_backends_with_stripe!(
    a_payment_after_a_cancel_is_refunded_once,
    a_second_payment_for_a_paid_order_is_refunded,
    a_refund_survives_a_provider_timeout,
    a_refund_recorded_before_a_crash_is_completed_by_the_reconciler,
    a_refund_made_in_stripes_dashboard_reverses_the_ledger,
    a_dispute_holds_the_vendors_share_until_it_closes,
);

/// A pending order of the customer: one of Ana's paintings and Bo's digital brush pack.
async fn pending(app: &TestApp, scene: &Scene) -> Value {
    let harbour = text(&physical(app, &scene.ana.user.access, "Harbour at dawn", 12_345, 2).await, "id");
    let brushes = text(&digital(app, &scene.bo.user.access, "Brush pack", 1_999).await, "id");
    let cat = scene.customer.access.as_str();
    add_to_cart(app, cat, &harbour, 1).await;
    add_to_cart(app, cat, &brushes, 1).await;
    checkout(app, cat, Some(address())).await["order"].clone()
}

async fn admin_order(app: &TestApp, scene: &Scene, id: &str) -> Value {
    app.get(&format!("/admin/orders/{id}"), Some(&scene.admin.access))
        .await
        .expect(200)
        .body
}

fn actions<'a>(order: &'a Value, kind: &str) -> Vec<&'a Value> {
    order["payment_actions"]
        .as_array()
        .expect("payment_actions")
        .iter()
        .filter(|a| a["kind"] == kind)
        .collect()
}

async fn reconcile(app: &TestApp) -> usize {
    app.market.orders().reconcile_payments().await.expect("reconcile")
}

async fn ledger_entries(app: &TestApp, scene: &Scene) -> i64 {
    earnings(app, &scene.ana.user.access).await["total"].as_i64().unwrap()
        + earnings(app, &scene.bo.user.access).await["total"].as_i64().unwrap()
}

async fn a_payment_after_a_cancel_is_refunded_once(app: TestApp, stripe: FakeStripe) {
    let scene = Scene::new(&app).await;
    let placed = pending(&app, &scene).await;
    let id = text(&placed, "id");
    let session = text(&placed, "payment_session_id");
    let total = placed["total_cents"].as_i64().unwrap();

    // The session was opened to expire with the local reservation (60 minutes).
    let created = &stripe.requests("/v1/checkout/sessions").await[0];
    let expires_at: i64 = field(&form_pairs(&created.body), "expires_at")
        .expect("expires_at")
        .parse()
        .unwrap();
    assert!((expires_at - (now() + 3_600)).abs() < 120, "expires_at {expires_at}");

    // The buyer cancels: the Stripe session is expired, with its own idempotency key.
    app.post(&format!("/orders/{id}/cancel"), Some(&scene.customer.access), json!({}))
        .await
        .expect(200);
    reconcile(&app).await;
    let expiries = stripe.requests(&format!("/v1/checkout/sessions/{session}/expire")).await;
    assert_eq!(expiries.len(), 1, "one expiry call");
    assert_eq!(header(&expiries[0], "idempotency-key"), format!("expire-{session}"));
    let expiry = admin_order(&app, &scene, &id).await;
    assert_eq!(actions(&expiry, "expire_session")[0]["status"], "done", "{expiry}");
    // Opening the session was recorded with the order, and closed with its session id.
    let opened = actions(&expiry, "create_session");
    assert_eq!(
        (&opened[0]["status"], &opened[0]["result_id"]),
        (&json!("done"), &json!(session)),
        "{expiry}"
    );

    // ... and pays anyway on a page that was still open: the money goes straight back.
    deliver(&app, &completed_event("evt_late_1", &placed, "pi_late"), "auto_refund").await;
    reconcile(&app).await;
    // Stripe's second event for the same payment refunds nothing more.
    deliver(&app, &completed_event("evt_late_2", &placed, "pi_late"), "auto_refund").await;
    reconcile(&app).await;
    let refunds = stripe.requests("/v1/refunds").await;
    assert_eq!(refunds.len(), 1, "one refund for one payment");
    let pairs = form_pairs(&refunds[0].body);
    assert_eq!(field(&pairs, "payment_intent"), Some("pi_late"));
    assert_eq!(field(&pairs, "amount"), Some(total.to_string().as_str()));
    assert_eq!(header(&refunds[0], "idempotency-key"), "auto-refund-pi_late");

    let seen = admin_order(&app, &scene, &id).await;
    assert_eq!(seen["status"], "cancelled", "the order stays cancelled");
    let auto = actions(&seen, "auto_refund");
    assert_eq!(auto.len(), 1, "{seen}");
    assert_eq!(
        (&auto[0]["status"], &auto[0]["amount_cents"], &auto[0]["payment_intent_id"]),
        (&json!("done"), &json!(total), &json!("pi_late"))
    );
    assert!(auto[0]["result_id"].as_str().is_some_and(|r| r.starts_with("re_test_")), "{seen}");
    let audit = app
        .get("/admin/audit-log?action=order.auto_refund", Some(&scene.admin.access))
        .await
        .expect(200)
        .body;
    assert_eq!(audit["total"], 1, "{audit}");
    assert_eq!(audit["items"][0]["actor_id"], Value::Null, "the system acted: {audit}");
    assert_eq!(audit["items"][0]["target_id"], json!(id));
    assert_eq!(email_count(&app, &scene.admin.access, "payment_returned").await, 1);
    assert_eq!(ledger_entries(&app, &scene).await, 0, "nothing was ever credited");
    assert_eq!(order(&app, &scene.customer.access, &id).await["status"], "cancelled");
}

async fn a_second_payment_for_a_paid_order_is_refunded(app: TestApp, stripe: FakeStripe) {
    let scene = Scene::new(&app).await;
    let placed = pending(&app, &scene).await;
    let id = text(&placed, "id");
    deliver(&app, &completed_event("evt_pay", &placed, "pi_first"), "applied").await;
    let entries = ledger_entries(&app, &scene).await;
    // The same payment again (Stripe's retry): nothing.
    deliver(&app, &completed_event("evt_pay_again", &placed, "pi_first"), "ignored").await;
    // Another payment of the same order (a second tab): given back.
    deliver(&app, &completed_event("evt_second", &placed, "pi_second"), "auto_refund").await;
    reconcile(&app).await;
    let refunds = stripe.requests("/v1/refunds").await;
    assert_eq!(refunds.len(), 1);
    assert_eq!(field(&form_pairs(&refunds[0].body), "payment_intent"), Some("pi_second"));
    let seen = admin_order(&app, &scene, &id).await;
    assert_eq!(seen["status"], "paid");
    assert_eq!(actions(&seen, "auto_refund")[0]["status"], "done");
    assert_eq!(ledger_entries(&app, &scene).await, entries, "the sale stands as it was");
}

async fn a_refund_survives_a_provider_timeout(app: TestApp, stripe: FakeStripe) {
    let scene = Scene::new(&app).await;
    let placed = pending(&app, &scene).await;
    let id = text(&placed, "id");
    deliver(&app, &completed_event("evt_paid", &placed, "pi_paid"), "applied").await;
    let entries = ledger_entries(&app, &scene).await;

    // Stripe fails once (it may or may not have refunded: the answer is lost).
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": {"type": "api_error", "message": "timeout"}})))
        .with_priority(1)
        .up_to_n_times(1)
        .mount(&stripe.server)
        .await;
    app.post(&format!("/admin/orders/{id}/refund"), Some(&scene.admin.access), json!({}))
        .await
        .expect_problem(502, "refund_pending");
    let waiting = admin_order(&app, &scene, &id).await;
    assert_eq!(waiting["status"], "paid", "the ledger moves only once Stripe confirms");
    let refund = actions(&waiting, "refund");
    assert_eq!(
        (&refund[0]["status"], &refund[0]["attempts"]),
        (&json!("pending"), &json!(0)),
        "{waiting}"
    );
    assert!(refund[0]["last_error"].as_str().is_some(), "{waiting}");
    assert_eq!(ledger_entries(&app, &scene).await, entries);
    // A second admin click meanwhile does not start a second refund.
    app.post(&format!("/admin/orders/{id}/refund"), Some(&scene.admin.access), json!({}))
        .await
        .expect_problem(409, "not_refundable");

    // The reconciler retries with the same key; Stripe confirms; the ledger follows once.
    reconcile(&app).await;
    reconcile(&app).await;
    let refunds = stripe.requests("/v1/refunds").await;
    assert_eq!(refunds.len(), 2, "one failed call, one retry");
    for request in &refunds {
        assert_eq!(header(request, "idempotency-key"), format!("refund-{id}"));
    }
    let done = admin_order(&app, &scene, &id).await;
    assert_eq!(done["status"], "refunded", "{done}");
    assert_eq!(actions(&done, "refund")[0]["status"], "done");
    assert_eq!(ledger_entries(&app, &scene).await, 2 * entries, "every entry reversed exactly once");
    for shop in [&scene.ana, &scene.bo] {
        let balance = &earnings(&app, &shop.user.access).await["balance"];
        assert_eq!(
            (balance["pending_cents"].as_i64(), balance["available_cents"].as_i64()),
            (Some(0), Some(0))
        );
    }
    assert_eq!(email_count(&app, &scene.admin.access, "refund_issued").await, 1);
    let audit = app
        .get("/admin/audit-log?action=order.refund", Some(&scene.admin.access))
        .await
        .expect(200)
        .body;
    assert_eq!(audit["total"], 1);
    assert_eq!(audit["items"][0]["actor_id"], json!(scene.admin.id), "the admin who asked: {audit}");
}

async fn a_refund_recorded_before_a_crash_is_completed_by_the_reconciler(app: TestApp, stripe: FakeStripe) {
    use kalavpp_core::domain::IntentKind;
    use kalavpp_core::storage::NewPaymentIntent;

    let scene = Scene::new(&app).await;
    let placed = pending(&app, &scene).await;
    let id = text(&placed, "id");
    deliver(&app, &completed_event("evt_paid", &placed, "pi_crash"), "applied").await;
    let entries = ledger_entries(&app, &scene).await;
    let order_id = kalavpp_core::domain::OrderId::parse(&id).unwrap();
    // What a refund leaves behind when the process dies after asking Stripe and before writing
    // the result: the intent (written first), Stripe's refund, and an expired lease.
    let at = chrono::Utc::now();
    let admin_id = kalavpp_core::domain::UserId::parse(&scene.admin.id).unwrap();
    app.market
        .store()
        .request_refund(NewPaymentIntent {
            id: uuid::Uuid::now_v7(),
            order_id,
            kind: IntentKind::Refund,
            idempotency_key: format!("refund-{id}"),
            session_id: placed["payment_session_id"].as_str().map(str::to_owned),
            payment_intent_id: Some("pi_crash".into()),
            amount_cents: placed["total_cents"].as_i64().unwrap(),
            actor_id: Some(admin_id),
            next_attempt_at: at,
            at,
        })
        .await
        .expect("intent");
    reqwest::Client::new()
        .post(format!("{}/v1/refunds", stripe.server.uri()))
        .header("Idempotency-Key", format!("refund-{id}"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("payment_intent=pi_crash&amount=1")
        .send()
        .await
        .expect("the refund Stripe made before the crash");
    assert_eq!(admin_order(&app, &scene, &id).await["status"], "paid");

    assert_eq!(reconcile(&app).await, 1);
    let refunds = stripe.requests("/v1/refunds").await;
    assert_eq!(refunds.len(), 2);
    assert!(
        refunds.iter().all(|r| header(r, "idempotency-key") == format!("refund-{id}")),
        "Stripe acts once on one key"
    );
    let done = admin_order(&app, &scene, &id).await;
    assert_eq!(done["status"], "refunded");
    assert_eq!(ledger_entries(&app, &scene).await, 2 * entries);
    // Nothing left to do, and doing it again changes nothing.
    assert_eq!(reconcile(&app).await, 0);
    assert_eq!(stripe.requests("/v1/refunds").await.len(), 2);
    let _ = path_regex("^/v1/checkout/sessions/[^/]+/expire$");
}

async fn a_refund_made_in_stripes_dashboard_reverses_the_ledger(app: TestApp, stripe: FakeStripe) {
    let scene = Scene::new(&app).await;
    let placed = pending(&app, &scene).await;
    let id = text(&placed, "id");
    deliver(&app, &completed_event("evt_paid", &placed, "pi_dash"), "applied").await;
    let entries = ledger_entries(&app, &scene).await;
    let charge = json!({"id": "ch_dash", "object": "charge", "payment_intent": "pi_dash", "amount": placed["total_cents"],
                        "amount_refunded": placed["total_cents"], "refunded": true, "currency": "usd"});
    deliver(
        &app,
        &crate::payment_support::event("evt_dash_refund", "charge.refunded", charge.clone()),
        "applied",
    )
    .await;
    let seen = admin_order(&app, &scene, &id).await;
    assert_eq!(seen["status"], "refunded");
    assert_eq!(ledger_entries(&app, &scene).await, 2 * entries, "reversed like an admin refund");
    assert!(
        stripe.requests("/v1/refunds").await.is_empty(),
        "Stripe already refunded; we do not again"
    );
    let audit = app
        .get("/admin/audit-log?action=order.refund", Some(&scene.admin.access))
        .await
        .expect(200)
        .body;
    assert_eq!((audit["total"].as_i64(), &audit["items"][0]["actor_id"]), (Some(1), &Value::Null));
    // The same event again, or the event of our own refund: nothing more.
    deliver(
        &app,
        &crate::payment_support::event("evt_dash_refund_2", "charge.refunded", charge),
        "ignored",
    )
    .await;
    assert_eq!(ledger_entries(&app, &scene).await, 2 * entries);
    // Out of order: the refund of a payment arrives before the payment's own event. The payment
    // event then pays nothing (the money is already back with the buyer).
    let early = pending(&app, &scene).await;
    let early_id = text(&early, "id");
    let refunded_first = json!({"id": "ch_early", "object": "charge", "payment_intent": "pi_early", "amount": early["total_cents"],
                                "amount_refunded": early["total_cents"], "refunded": true, "currency": "usd",
                                "metadata": {"order_id": early_id}});
    deliver(
        &app,
        &crate::payment_support::event("evt_early_refund", "charge.refunded", refunded_first),
        "ignored",
    )
    .await;
    deliver(&app, &completed_event("evt_early_paid", &early, "pi_early"), "ignored").await;
    assert_eq!(
        admin_order(&app, &scene, &early_id).await["status"],
        "pending_payment",
        "never paid"
    );
    assert_eq!(ledger_entries(&app, &scene).await, 2 * entries, "nothing credited");
    // A partial refund in the dashboard leaves orders alone (full refunds only).
    let partial =
        json!({"id": "ch_part", "object": "charge", "payment_intent": "pi_dash", "amount": 100, "amount_refunded": 10, "refunded": false});
    deliver(
        &app,
        &crate::payment_support::event("evt_partial", "charge.refunded", partial),
        "ignored",
    )
    .await;
}

async fn a_dispute_holds_the_vendors_share_until_it_closes(app: TestApp, _stripe: FakeStripe) {
    let scene = Scene::new(&app).await;
    let placed = pending(&app, &scene).await;
    deliver(&app, &completed_event("evt_paid", &placed, "pi_disputed"), "applied").await;
    let balance = |shop: &crate::catalog_support::Shop| {
        let app = &app;
        let token = shop.user.access.clone();
        async move {
            let b = earnings(app, &token).await["balance"].clone();
            (
                b["pending_cents"].as_i64().unwrap(),
                b["available_cents"].as_i64().unwrap(),
                b["held_cents"].as_i64().unwrap(),
            )
        }
    };
    let (ana_before, bo_before) = (balance(&scene.ana).await, balance(&scene.bo).await);
    assert!(bo_before.1 > 0, "Bo's digital sale is available: {bo_before:?}");
    let dispute = |status: &str| {
        json!({"id": "dp_1", "object": "dispute", "charge": "ch_1", "payment_intent": "pi_disputed", "amount": placed["total_cents"],
               "currency": "usd", "status": status})
    };
    deliver(
        &app,
        &crate::payment_support::event("evt_dispute", "charge.dispute.created", dispute("needs_response")),
        "applied",
    )
    .await;
    let (ana_held, bo_held) = (balance(&scene.ana).await, balance(&scene.bo).await);
    assert_eq!(ana_held, (0, 0, ana_before.0 + ana_before.1), "Ana's share held");
    assert_eq!(bo_held, (0, 0, bo_before.0 + bo_before.1), "Bo's share held");
    app.post("/vendor/payouts", Some(&scene.bo.user.access), json!({"amount_cents": 100}))
        .await
        .expect(409);
    // Replayed: nothing more moves.
    deliver(
        &app,
        &crate::payment_support::event("evt_dispute_again", "charge.dispute.created", dispute("needs_response")),
        "ignored",
    )
    .await;
    // Won: the shares come back where they were.
    deliver(
        &app,
        &crate::payment_support::event("evt_dispute_won", "charge.dispute.closed", dispute("won")),
        "applied",
    )
    .await;
    assert_eq!((balance(&scene.ana).await, balance(&scene.bo).await), (ana_before, bo_before));

    // A second order's dispute is lost: reversed like a refund.
    let again = pending(&app, &scene).await;
    deliver(&app, &completed_event("evt_paid_2", &again, "pi_lost"), "applied").await;
    let lost = json!({"id": "dp_2", "object": "dispute", "charge": "ch_2", "payment_intent": "pi_lost", "amount": again["total_cents"],
                      "currency": "usd", "status": "lost"});
    deliver(
        &app,
        &crate::payment_support::event("evt_dispute_2", "charge.dispute.created", lost.clone()),
        "applied",
    )
    .await;
    deliver(
        &app,
        &crate::payment_support::event("evt_dispute_lost", "charge.dispute.closed", lost),
        "applied",
    )
    .await;
    assert_eq!(admin_order(&app, &scene, &text(&again, "id")).await["status"], "refunded");
    assert_eq!(
        (balance(&scene.ana).await, balance(&scene.bo).await),
        (ana_before, bo_before),
        "the lost sale is gone, the first stands"
    );
}
