//! What goes wrong or gets attacked around orders and payments: forged, stale, replayed and
//! reordered webhooks, other people's orders, vendors overreaching, hostile carts, the race for
//! the last unit, cancellations and download tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::catalog_support::{UNKNOWN_ID, create_product, delete, ids, painting, text};
use crate::helpers::{JWT_REFRESH_SECRET, Reply, TestApp};
use crate::payment_support::{
    FakeStripe, Scene, WEBHOOK_SECRET, add_to_cart, address, asset_bytes, attach_asset, checkout, completed_event, deliver, digital,
    earnings, email_count, event, fetch, fetch_token, now, on_both_backends_with_stripe, order, paid_session, physical, post_webhook, sign,
    stock, token_of,
};

on_both_backends_with_stripe!(
    webhook_signatures_are_verified,
    replayed_and_reordered_events_change_nothing,
    expiry_failure_mismatch_and_unknown_events,
    other_customers_orders_are_not_found,
    vendor_and_role_boundaries,
    cart_attacks,
    checkout_validation,
    stock_race_has_exactly_one_winner,
    double_submitted_checkout_places_one_order,
    stripe_outage_keeps_the_cart,
    cancelling_pending_orders,
    refunds_happen_once,
    download_token_attacks,
);

/// A pending order of the scene's customer: one of Ana's paintings (stock `stock`) and Bo's
/// digital brush pack (with a file). Returns `(order, painting id, brushes id)`.
async fn pending_order(app: &TestApp, scene: &Scene, stock: i64) -> (Value, String, String) {
    let harbour = text(&physical(app, &scene.ana.user.access, "Harbour at dawn", 12_345, stock).await, "id");
    let brushes = text(&digital(app, &scene.bo.user.access, "Brush pack", 1_999).await, "id");
    attach_asset(app, &scene.bo.user.access, &brushes, "brushes.zip", asset_bytes(2_000)).await;
    let cat = scene.customer.access.as_str();
    add_to_cart(app, cat, &harbour, 1).await;
    add_to_cart(app, cat, &brushes, 1).await;
    let placed = checkout(app, cat, Some(address())).await;
    (placed["order"].clone(), harbour, brushes)
}

/// Everything a payment event could change: the order, both vendors' earnings (balances and
/// ledger entries), the outbox and the painting's stock.
async fn snapshot(app: &TestApp, scene: &Scene, order_id: &str, product: &str) -> Value {
    json!({
        "order": order(app, &scene.admin.access, order_id).await,
        "ana": earnings(app, &scene.ana.user.access).await,
        "bo": earnings(app, &scene.bo.user.access).await,
        "emails": app.get("/admin/emails", Some(&scene.admin.access)).await.expect(200).body["total"],
        "stock": stock(app, product).await,
    })
}

fn ledger_total(snapshot: &Value) -> i64 {
    snapshot["ana"]["total"].as_i64().unwrap() + snapshot["bo"]["total"].as_i64().unwrap()
}

async fn webhook_signatures_are_verified(app: TestApp, _stripe: FakeStripe) {
    let scene = Scene::new(&app).await;
    let (placed, harbour, _) = pending_order(&app, &scene, 3).await;
    let order_id = text(&placed, "id");
    let before = snapshot(&app, &scene, &order_id, &harbour).await;
    assert_eq!(before["order"]["status"], "pending_payment");

    let payload = completed_event("evt_sig_1", &placed, "pi_sig");
    let tampered = payload.replace("\"amount_total\":14344", "\"amount_total\":1");
    assert_ne!(tampered, payload);
    let sign_at = |secret: &str, at: i64| kalavpp_core::payments::stripe::sign_test_payload(&payload, secret, at);
    let cases: Vec<(&str, &str, Option<String>)> = vec![
        ("missing header", payload.as_str(), None),
        ("empty header", payload.as_str(), Some(String::new())),
        ("garbage", payload.as_str(), Some("nonsense".into())),
        ("bad hex", payload.as_str(), Some(format!("t={},v1=deadbeef", now()))),
        ("unreadable timestamp", payload.as_str(), Some("t=abc,v1=00".into())),
        ("wrong secret", payload.as_str(), Some(sign_at("whsec_other", now()))),
        ("stale", payload.as_str(), Some(sign_at(WEBHOOK_SECRET, now() - 400))),
        ("just past tolerance", payload.as_str(), Some(sign_at(WEBHOOK_SECRET, now() - 310))),
        ("from the future", payload.as_str(), Some(sign_at(WEBHOOK_SECRET, now() + 400))),
        ("tampered body", tampered.as_str(), Some(sign_at(WEBHOOK_SECRET, now()))),
        (
            "v0 scheme only",
            payload.as_str(),
            Some(sign_at(WEBHOOK_SECRET, now()).replace("v1=", "v0=")),
        ),
    ];
    for (case, body, signature) in cases {
        let reply = post_webhook(&app, body, signature.as_deref()).await;
        assert_eq!(reply.status.as_u16(), 400, "{case}: {}", reply.body);
        assert_eq!(reply.code(), "invalid_signature", "{case}: {}", reply.body);
        let body = reply.body.to_string();
        assert!(!body.contains(WEBHOOK_SECRET), "{case}: {body}");
    }
    // A signed body that is not an event is a bad request too.
    let junk = "this is not json";
    post_webhook(&app, junk, Some(&sign(junk)))
        .await
        .expect_problem(400, "malformed_event");
    assert_eq!(snapshot(&app, &scene, &order_id, &harbour).await, before, "nothing changed");

    // Refused attempts did not use up the event id: the genuine delivery still applies.
    deliver(&app, &payload, "applied").await;
    assert_eq!(order(&app, &scene.customer.access, &order_id).await["status"], "paid");
}

async fn replayed_and_reordered_events_change_nothing(app: TestApp, _stripe: FakeStripe) {
    let scene = Scene::new(&app).await;
    let (placed, harbour, _) = pending_order(&app, &scene, 3).await;
    let order_id = text(&placed, "id");
    let session = text(&placed, "payment_session_id");
    let paid_event = completed_event("evt_replay_1", &placed, "pi_replay");
    deliver(&app, &paid_event, "applied").await;
    let after = snapshot(&app, &scene, &order_id, &harbour).await;
    assert_eq!(after["order"]["status"], "paid");
    assert_eq!(ledger_total(&after), 4, "a sale credit and a commission per line: {after}");
    assert_eq!(after["ana"]["balance"]["pending_cents"], 11_110);
    assert_eq!(after["bo"]["balance"]["available_cents"], 1_799);
    assert_eq!(email_count(&app, &scene.admin.access, "order_confirmation").await, 1);

    // The same event again (as Stripe retries it, freshly signed): a duplicate.
    deliver(&app, &paid_event, "duplicate").await;
    deliver(&app, &paid_event, "duplicate").await;
    assert_eq!(snapshot(&app, &scene, &order_id, &harbour).await, after);

    let object = |id: &str, extra: Value| {
        let mut object = json!({"id": id, "metadata": {"order_id": order_id}});
        object.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        object
    };
    let total = placed["total_cents"].as_i64().unwrap();
    let late = [
        // Another completed event for the already-paid order.
        (
            "evt_replay_2",
            "checkout.session.completed",
            paid_session(&placed, total, "usd", "pi_replay"),
        ),
        (
            "evt_replay_3",
            "payment_intent.succeeded",
            object(
                "pi_replay",
                json!({"object": "payment_intent", "amount_received": total, "currency": "usd"}),
            ),
        ),
        // Out of order: a failure and an expiry after the payment.
        (
            "evt_replay_4",
            "payment_intent.payment_failed",
            object(
                "pi_replay",
                json!({"object": "payment_intent", "status": "requires_payment_method"}),
            ),
        ),
        (
            "evt_replay_5",
            "checkout.session.expired",
            object(
                &session,
                json!({"object": "checkout.session", "status": "expired", "payment_status": "unpaid",
                       "client_reference_id": order_id}),
            ),
        ),
    ];
    for (id, kind, object) in late {
        deliver(&app, &event(id, kind, object), "ignored").await;
        assert_eq!(snapshot(&app, &scene, &order_id, &harbour).await, after, "{kind} changed something");
    }
    // …and each of those is a duplicate from now on.
    deliver(
        &app,
        &event(
            "evt_replay_2",
            "checkout.session.completed",
            paid_session(&placed, total, "usd", "pi_replay"),
        ),
        "duplicate",
    )
    .await;

    // The same new event delivered many times at once takes effect once.
    let cat = scene.customer.access.as_str();
    add_to_cart(&app, cat, &harbour, 1).await;
    let second = checkout(&app, cat, Some(address())).await["order"].clone();
    let second_id = text(&second, "id");
    let payload = completed_event("evt_replay_burst", &second, "pi_burst");
    let signature = sign(&payload);
    let deliveries: Vec<_> = (0..6)
        .map(|_| {
            let app = &app;
            let payload = payload.as_str();
            let signature = signature.as_str();
            async move { post_webhook(app, payload, Some(signature)).await }
        })
        .collect();
    let replies: Vec<Reply> = futures_util::future::join_all(deliveries).await;
    let outcomes: Vec<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status.as_u16(), 200, "{}", r.body);
            r.body["outcome"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(outcomes.iter().filter(|o| *o == "applied").count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| *o == "duplicate").count(), 5, "{outcomes:?}");
    let now_paid = snapshot(&app, &scene, &second_id, &harbour).await;
    assert_eq!(now_paid["order"]["status"], "paid");
    assert_eq!(now_paid["ana"]["total"], 4, "{now_paid}");
    assert_eq!(now_paid["ana"]["balance"]["pending_cents"], 2 * 11_110);
    assert_eq!(email_count(&app, &scene.admin.access, "order_confirmation").await, 2);
}

async fn expiry_failure_mismatch_and_unknown_events(app: TestApp, _stripe: FakeStripe) {
    let scene = Scene::new(&app).await;
    let cat = scene.customer.access.as_str();
    let (first, harbour, brushes) = pending_order(&app, &scene, 3).await;
    let first_id = text(&first, "id");
    assert_eq!(stock(&app, &harbour).await, Some(2));

    // The session expired: the order expires and its unit goes back on sale.
    let expired_session = json!({
        "id": text(&first, "payment_session_id"), "object": "checkout.session", "status": "expired",
        "payment_status": "unpaid", "client_reference_id": first_id, "metadata": {"order_id": first_id},
        "payment_intent": null
    });
    deliver(&app, &event("evt_exp_1", "checkout.session.expired", expired_session), "applied").await;
    let expired = order(&app, cat, &first_id).await;
    assert_eq!(expired["status"], "expired");
    assert!(expired["paid_at"].is_null());
    assert_eq!(stock(&app, &harbour).await, Some(3));
    // A payment arriving after the expiry is given back (and the stock stays released).
    deliver(&app, &completed_event("evt_exp_2", &first, "pi_late"), "auto_refund").await;
    assert_eq!(order(&app, cat, &first_id).await["status"], "expired");
    assert_eq!(stock(&app, &harbour).await, Some(3));
    assert_eq!(earnings(&app, &scene.ana.user.access).await["total"], 0);
    app.post(&format!("/orders/{first_id}/cancel"), Some(cat), json!({}))
        .await
        .expect_problem(409, "order_not_cancellable");

    // Paid amount or currency not the order's: it stays unpaid.
    add_to_cart(&app, cat, &harbour, 1).await;
    add_to_cart(&app, cat, &brushes, 1).await;
    let second = checkout(&app, cat, Some(address())).await["order"].clone();
    let second_id = text(&second, "id");
    let total = second["total_cents"].as_i64().unwrap();
    for (id, amount, currency) in [
        ("evt_mis_1", total - 1, "usd"),
        ("evt_mis_2", total + 100, "usd"),
        ("evt_mis_3", total, "eur"),
    ] {
        let payload = event(id, "checkout.session.completed", paid_session(&second, amount, currency, "pi_mis"));
        // The money that came in is given back; the order stays unpaid.
        deliver(&app, &payload, "auto_refund").await;
        let seen = order(&app, cat, &second_id).await;
        assert_eq!(seen["status"], "pending_payment", "{id}");
        assert!(seen["paid_at"].is_null());
    }
    assert_eq!(earnings(&app, &scene.ana.user.access).await["total"], 0);
    assert_eq!(email_count(&app, &scene.admin.access, "order_confirmation").await, 0);

    // A declined card: payment_failed, which can still be paid afterwards.
    let failed = json!({"id": "pi_retry", "object": "payment_intent", "status": "requires_payment_method",
                        "metadata": {"order_id": second_id}});
    deliver(&app, &event("evt_fail_1", "payment_intent.payment_failed", failed), "applied").await;
    assert_eq!(order(&app, cat, &second_id).await["status"], "payment_failed");
    assert_eq!(stock(&app, &harbour).await, Some(2), "a failed attempt keeps the reservation");
    deliver(&app, &completed_event("evt_fail_2", &second, "pi_retry"), "applied").await;
    let paid = order(&app, cat, &second_id).await;
    assert_eq!(paid["status"], "paid");
    assert!(paid["paid_at"].is_string());

    // Paid through `payment_intent.succeeded` alone (a delayed payment method).
    add_to_cart(&app, cat, &brushes, 1).await;
    let third = checkout(&app, cat, None).await["order"].clone();
    let third_id = text(&third, "id");
    let intent = |id: &str, amount: i64| {
        json!({"id": id, "object": "payment_intent", "status": "succeeded", "amount_received": amount,
               "currency": "usd", "metadata": {"order_id": third_id}})
    };
    deliver(
        &app,
        &event("evt_pi_1", "payment_intent.succeeded", intent("pi_short", 1_998)),
        "auto_refund",
    )
    .await;
    assert_eq!(order(&app, cat, &third_id).await["status"], "pending_payment");
    deliver(
        &app,
        &event("evt_pi_2", "payment_intent.succeeded", intent("pi_delayed", 1_999)),
        "applied",
    )
    .await;
    assert_eq!(order(&app, cat, &third_id).await["status"], "completed", "all digital: delivered");

    // Events the platform does not handle, or for orders it does not know: 200, ignored.
    let ignored = [
        event(
            "evt_other_1",
            "customer.created",
            json!({"id": "cus_1", "object": "customer", "created": 1_700_000_000, "livemode": false}),
        ),
        event("evt_other_2", "charge.refunded", json!({"id": "ch_1", "object": "charge"})),
        event(
            "evt_other_3",
            "checkout.session.completed",
            json!({"id": "cs_unpaid", "object": "checkout.session", "payment_status": "unpaid",
                   "client_reference_id": second_id, "amount_total": total, "currency": "usd"}),
        ),
        event(
            "evt_other_4",
            "checkout.session.completed",
            json!({"id": "cs_nobody", "object": "checkout.session", "payment_status": "paid",
                   "client_reference_id": UNKNOWN_ID, "amount_total": 100, "currency": "usd"}),
        ),
        event(
            "evt_other_5",
            "payment_intent.succeeded",
            json!({"id": "pi_nobody", "object": "payment_intent", "amount_received": 100, "currency": "usd",
                   "metadata": {"order_id": "not-an-order"}}),
        ),
    ];
    for payload in &ignored {
        deliver(&app, payload, "ignored").await;
    }
    assert_eq!(order(&app, cat, &second_id).await["status"], "paid");
    assert_eq!(order(&app, cat, &first_id).await["status"], "expired");
}

async fn other_customers_orders_are_not_found(app: TestApp, _stripe: FakeStripe) {
    let scene = Scene::new(&app).await;
    let (placed, _, _) = pending_order(&app, &scene, 3).await;
    let order_id = text(&placed, "id");
    let dan = app.register("dan@example.com").await;
    let snoop = |token: String| {
        let app = &app;
        let order_id = order_id.clone();
        async move {
            app.get(&format!("/orders/{order_id}"), Some(&token))
                .await
                .expect_problem(404, "order_not_found");
            app.post(&format!("/orders/{order_id}/cancel"), Some(&token), json!({}))
                .await
                .expect_problem(404, "order_not_found");
            app.get(&format!("/orders/{order_id}/downloads"), Some(&token))
                .await
                .expect_problem(404, "order_not_found");
        }
    };
    // Another customer, and even a vendor with a line in the order.
    snoop(dan.access.clone()).await;
    snoop(scene.ana.user.access.clone()).await;
    assert_eq!(app.get("/orders", Some(&dan.access)).await.expect(200).body["total"], 0);
    assert_eq!(order(&app, &scene.customer.access, &order_id).await["status"], "pending_payment");

    deliver(&app, &completed_event("evt_snoop", &placed, "pi_snoop"), "applied").await;
    snoop(dan.access.clone()).await;
    // Unknown and malformed ids look the same.
    for id in [UNKNOWN_ID, "not-an-order", "1"] {
        app.get(&format!("/orders/{id}"), Some(&scene.customer.access))
            .await
            .expect_problem(404, "order_not_found");
    }
    // Without a token: 401.
    app.get(&format!("/orders/{order_id}"), None).await.expect(401);
    app.get("/orders", None).await.expect(401);
    app.post(&format!("/orders/{order_id}/cancel"), None, json!({})).await.expect(401);
    // Admins see it.
    order(&app, &scene.admin.access, &order_id).await;
    app.get(&format!("/admin/orders/{order_id}"), Some(&scene.admin.access))
        .await
        .expect(200);
    assert_eq!(order(&app, &scene.customer.access, &order_id).await["status"], "paid");
}

async fn vendor_and_role_boundaries(app: TestApp, _stripe: FakeStripe) {
    let scene = Scene::new(&app).await;
    let (placed, harbour, brushes) = pending_order(&app, &scene, 3).await;
    let order_id = text(&placed, "id");
    let line_id = |product: &str| text(crate::payment_support::line(&placed, product), "id");
    let (harbour_line, brushes_line) = (line_id(&harbour), line_id(&brushes));
    let fulfil = |token: String, order: String, item: String| {
        let app = &app;
        async move {
            app.post(
                &format!("/vendor/orders/{order}/items/{item}/fulfil"),
                Some(&token),
                json!({"carrier": "DHL"}),
            )
            .await
        }
    };
    let ana = scene.ana.user.access.clone();
    let bo = scene.bo.user.access.clone();

    // Unpaid: nothing ships.
    fulfil(ana.clone(), order_id.clone(), harbour_line.clone())
        .await
        .expect_problem(409, "not_fulfillable");
    deliver(&app, &completed_event("evt_roles", &placed, "pi_roles"), "applied").await;

    // Another vendor's line: not found. A digital line: nothing to ship.
    fulfil(bo.clone(), order_id.clone(), harbour_line.clone())
        .await
        .expect_problem(404, "order_item_not_found");
    fulfil(bo.clone(), order_id.clone(), brushes_line.clone())
        .await
        .expect_problem(409, "not_fulfillable");
    // A line under the wrong order, unknown and malformed ids.
    fulfil(ana.clone(), UNKNOWN_ID.into(), harbour_line.clone()).await.expect(404);
    fulfil(ana.clone(), order_id.clone(), UNKNOWN_ID.into()).await.expect(404);
    fulfil(ana.clone(), order_id.clone(), "nope".into()).await.expect(404);
    // Customers and admins are not vendors.
    fulfil(scene.customer.access.clone(), order_id.clone(), harbour_line.clone())
        .await
        .expect(403);
    let long = "x".repeat(101);
    app.post(
        &format!("/vendor/orders/{order_id}/items/{harbour_line}/fulfil"),
        Some(&ana),
        json!({"tracking_number": long}),
    )
    .await
    .expect_problem(422, "validation_failed");
    app.post(
        &format!("/vendor/orders/{order_id}/items/{harbour_line}/fulfil"),
        Some(&ana),
        json!({"fulfilment_status": "delivered"}),
    )
    .await
    .expect(422);
    assert_eq!(earnings(&app, &ana).await["balance"]["pending_cents"], 11_110);

    // The owner ships once.
    let shipped = fulfil(ana.clone(), order_id.clone(), harbour_line.clone()).await.expect(200);
    assert_eq!(shipped.body["fulfilment_status"], "shipped");
    assert_eq!(shipped.body["carrier"], "DHL");
    fulfil(ana.clone(), order_id.clone(), harbour_line.clone())
        .await
        .expect_problem(409, "not_fulfillable");
    assert_eq!(earnings(&app, &ana).await["balance"]["available_cents"], 11_110);
    assert_eq!(earnings(&app, &ana).await["balance"]["pending_cents"], 0);

    // Role boundaries on the order routes.
    let customer = scene.customer.access.as_str();
    app.get("/vendor/orders", Some(customer)).await.expect(403);
    app.get("/vendor/earnings", Some(customer)).await.expect(403);
    app.get("/admin/orders", Some(customer)).await.expect_problem(403, "admin_only");
    app.get(&format!("/admin/orders/{order_id}"), Some(customer))
        .await
        .expect_problem(403, "admin_only");
    app.post(&format!("/admin/orders/{order_id}/refund"), Some(customer), json!({}))
        .await
        .expect_problem(403, "admin_only");
    app.get("/admin/orders", Some(&ana)).await.expect_problem(403, "admin_only");
    app.post(&format!("/admin/orders/{order_id}/refund"), Some(&ana), json!({}))
        .await
        .expect_problem(403, "admin_only");
    for path in ["/vendor/orders", "/vendor/earnings", "/admin/orders", "/cart"] {
        app.get(path, None).await.expect(401);
    }
    app.post("/checkout", None, json!({})).await.expect(401);
    // Bo's view holds only Bo's line.
    let bo_orders = app.get("/vendor/orders", Some(&bo)).await.expect(200).body;
    assert_eq!(ids(&bo_orders), vec![order_id.clone()]);
    let lines = bo_orders["items"][0]["items"].as_array().unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["id"], brushes_line.as_str());
    // Admin filters.
    let by_vendor = app
        .get(&format!("/admin/orders?vendor={}", scene.bo.id), Some(&scene.admin.access))
        .await
        .expect(200)
        .body;
    assert_eq!(ids(&by_vendor), vec![order_id.clone()]);
    let none = app
        .get("/admin/orders?status=refunded", Some(&scene.admin.access))
        .await
        .expect(200)
        .body;
    assert_eq!(none["total"], 0);
    app.get("/admin/orders?status=bogus", Some(&scene.admin.access))
        .await
        .expect_problem(422, "validation_failed");
}

async fn cart_attacks(app: TestApp, _stripe: FakeStripe) {
    let scene = Scene::new(&app).await;
    let cat = scene.customer.access.as_str();
    let harbour = text(&physical(&app, &scene.ana.user.access, "Harbour", 5_000, 2).await, "id");
    let draft = text(
        &create_product(&app, &scene.ana.user.access, painting("Unfinished", 7_000)).await,
        "id",
    );
    let brushes = text(&digital(&app, &scene.bo.user.access, "Brush pack", 1_999).await, "id");

    let add = |body: Value| {
        let app = &app;
        async move { app.post("/cart/items", Some(cat), body).await }
    };
    for quantity in [json!(0), json!(-1), json!(-1000), json!(1001), json!(i64::MAX), json!(i64::MIN)] {
        let reply = add(json!({"product_id": harbour, "quantity": quantity}))
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.fields(), vec!["quantity"], "{quantity}");
    }
    for quantity in [json!(1.5), json!("1"), json!(null), json!(1e30)] {
        add(json!({"product_id": harbour, "quantity": quantity}))
            .await
            .expect_problem(422, "validation_failed");
    }
    add(json!({"product_id": harbour})).await.expect(422);
    // Smuggled price or vendor.
    let reply = add(json!({"product_id": harbour, "quantity": 1, "price_cents": 1}))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.fields(), vec!["price_cents"]);
    add(json!({"product_id": harbour, "quantity": 1, "unit_price_cents": 1}))
        .await
        .expect(422);
    add(json!({"product_id": harbour, "quantity": 1, "vendor_id": scene.bo.id}))
        .await
        .expect(422);
    // Not for sale, own work, unknown.
    let reply = add(json!({"product_id": draft, "quantity": 1}))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.fields(), vec!["product_id"]);
    let reply = app
        .post(
            "/cart/items",
            Some(&scene.ana.user.access),
            json!({"product_id": harbour, "quantity": 1}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.fields(), vec!["product_id"]);
    add(json!({"product_id": UNKNOWN_ID, "quantity": 1})).await.expect(404);
    add(json!({"product_id": "../etc", "quantity": 1})).await.expect(404);
    // Over stock, at once or in steps.
    add(json!({"product_id": harbour, "quantity": 3}))
        .await
        .expect_problem(409, "insufficient_stock");
    add_to_cart(&app, cat, &harbour, 2).await;
    add(json!({"product_id": harbour, "quantity": 1}))
        .await
        .expect_problem(409, "insufficient_stock");
    let cart = app.get("/cart", Some(cat)).await.expect(200).body;
    assert_eq!(cart["items"][0]["quantity"], 2);
    assert_eq!(cart["subtotal_cents"], 10_000);

    // Setting quantities.
    let path = format!("/cart/items/{harbour}");
    app.patch(&path, Some(cat), json!({"quantity": 3}))
        .await
        .expect_problem(409, "insufficient_stock");
    for quantity in [json!(-1), json!(1001)] {
        app.patch(&path, Some(cat), json!({"quantity": quantity}))
            .await
            .expect_problem(422, "validation_failed");
    }
    app.patch(&path, Some(cat), json!({"quantity": 1, "price_cents": 1}))
        .await
        .expect_problem(422, "validation_failed");
    let cart = app.patch(&path, Some(cat), json!({"quantity": 1})).await.expect(200).body;
    assert_eq!(cart["subtotal_cents"], 5_000);
    app.patch(&format!("/cart/items/{brushes}"), Some(cat), json!({"quantity": 1}))
        .await
        .expect_problem(404, "not_in_cart");
    let cart = app.patch(&path, Some(cat), json!({"quantity": 0})).await.expect(200).body;
    assert_eq!(cart["items"], json!([]));
    add_to_cart(&app, cat, &harbour, 1).await;
    let cart = delete(&app, &path, Some(cat)).await.expect(200).body;
    assert_eq!(cart["items"], json!([]));
    delete(&app, &path, Some(cat)).await.expect(200);

    // A work withdrawn after it was added: unavailable in the cart, and checkout refuses.
    add_to_cart(&app, cat, &brushes, 1).await;
    add_to_cart(&app, cat, &harbour, 1).await;
    delete(&app, &format!("/products/{brushes}"), Some(&scene.bo.user.access))
        .await
        .expect(204);
    let cart = app.get("/cart", Some(cat)).await.expect(200).body;
    let line = |product: &str| {
        cart["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["product_id"] == product)
            .cloned()
            .unwrap()
    };
    assert_eq!(line(&brushes)["available"], false, "{cart}");
    assert_eq!(line(&harbour)["available"], true, "{cart}");
    app.post("/checkout", Some(cat), json!({"shipping_address": address()}))
        .await
        .expect(409);
    assert_eq!(
        app.get("/cart", Some(cat)).await.expect(200).body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(stock(&app, &harbour).await, Some(2), "nothing reserved");
    add(json!({"product_id": brushes, "quantity": 1}))
        .await
        .expect_problem(422, "validation_failed");

    // A suspended vendor's works cannot be added.
    app.post(
        &format!("/admin/vendors/{}/suspend", scene.ana.id),
        Some(&scene.admin.access),
        json!({}),
    )
    .await
    .expect(200);
    let dan = app.register("dan@example.com").await;
    let reply = app
        .post("/cart/items", Some(&dan.access), json!({"product_id": harbour, "quantity": 1}))
        .await;
    assert!(matches!(reply.status.as_u16(), 404 | 422), "{}", reply.body);
    let cart = app.get("/cart", Some(cat)).await.expect(200).body;
    assert!(cart["items"].as_array().unwrap().iter().all(|i| i["available"] == false), "{cart}");
    assert_eq!(app.get("/orders", Some(cat)).await.expect(200).body["total"], 0);
}

async fn checkout_validation(app: TestApp, stripe: FakeStripe) {
    let scene = Scene::new(&app).await;
    let cat = scene.customer.access.as_str();
    let harbour = text(&physical(&app, &scene.ana.user.access, "Harbour", 5_000, 2).await, "id");
    let brushes = text(&digital(&app, &scene.bo.user.access, "Brush pack", 1_999).await, "id");

    let reply = app
        .post("/checkout", Some(cat), json!({"shipping_address": address()}))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.fields(), vec!["cart"]);
    app.post("/checkout", Some(cat), json!({})).await.expect(422);

    add_to_cart(&app, cat, &harbour, 1).await;
    add_to_cart(&app, cat, &brushes, 1).await;
    for body in [json!({}), json!({"shipping_address": null})] {
        let reply = app
            .post("/checkout", Some(cat), body)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.fields(), vec!["shipping_address"]);
    }
    // An empty body is the same as `{}`.
    let reply = app.client.post(app.url("/checkout")).bearer_auth(cat).send().await.expect("sent");
    let reply = crate::helpers::read(reply).await.expect_problem(422, "validation_failed");
    assert_eq!(reply.fields(), vec!["shipping_address"]);

    let mut no_city = address();
    no_city.as_object_mut().unwrap().remove("city");
    let mut extra = address();
    extra["is_admin"] = json!(true);
    let mut blank = address();
    blank["name"] = json!("   ");
    let mut long = address();
    long["line1"] = json!("x".repeat(201));
    for (address, field) in [
        (no_city, "shipping_address.city"),
        (extra, "shipping_address.is_admin"),
        (blank, "shipping_address.name"),
        (long, "shipping_address.line1"),
        (json!("12 Harbour Road"), "shipping_address"),
    ] {
        let reply = app
            .post("/checkout", Some(cat), json!({"shipping_address": address}))
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.fields(), vec![field.to_owned()], "{}", reply.body);
    }
    // Totals and statuses cannot be smuggled in.
    for smuggled in [
        json!({"shipping_address": address(), "total_cents": 1}),
        json!({"shipping_address": address(), "status": "paid"}),
    ] {
        app.post("/checkout", Some(cat), smuggled)
            .await
            .expect_problem(422, "validation_failed");
    }
    // Nothing was created or reserved, and the cart is intact.
    assert_eq!(app.get("/orders", Some(cat)).await.expect(200).body["total"], 0);
    assert_eq!(stock(&app, &harbour).await, Some(2));
    assert_eq!(
        app.get("/cart", Some(cat)).await.expect(200).body["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(stripe.requests("/v1/checkout/sessions").await.is_empty());

    // A digital-only cart needs no address.
    delete(&app, &format!("/cart/items/{harbour}"), Some(cat)).await.expect(200);
    let placed = checkout(&app, cat, None).await;
    assert!(placed["order"]["shipping_address"].is_null());
    assert_eq!(placed["order"]["total_cents"], 1_999);
    // Prices are taken at checkout: a later price change does not touch the order.
    app.patch(
        &format!("/products/{brushes}"),
        Some(&scene.bo.user.access),
        json!({"price_cents": 9_999}),
    )
    .await
    .expect(200);
    let kept = order(&app, cat, &text(&placed["order"], "id")).await;
    assert_eq!(kept["total_cents"], 1_999);
    assert_eq!(kept["items"][0]["unit_price_cents"], 1_999);
    assert_eq!(stripe.requests("/v1/checkout/sessions").await.len(), 1);
}

async fn stock_race_has_exactly_one_winner(app: TestApp, stripe: FakeStripe) {
    let scene = Scene::new(&app).await;
    let last = text(&physical(&app, &scene.ana.user.access, "The only one", 40_000, 1).await, "id");
    let mut buyers = Vec::new();
    for n in 0..5 {
        let buyer = app.register(&format!("buyer{n}@example.com")).await;
        add_to_cart(&app, &buyer.access, &last, 1).await;
        buyers.push(buyer);
    }
    let attempts = buyers.iter().map(|buyer| {
        let app = &app;
        let token = buyer.access.clone();
        async move { app.post("/checkout", Some(&token), json!({"shipping_address": address()})).await }
    });
    let replies: Vec<Reply> = futures_util::future::join_all(attempts).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 4, "{statuses:?}");
    for reply in replies.iter().filter(|r| r.status.as_u16() == 409) {
        assert_eq!(reply.headers["content-type"], "application/problem+json");
    }
    assert_eq!(stock(&app, &last).await, Some(0));
    let all = app.get("/admin/orders", Some(&scene.admin.access)).await.expect(200).body;
    assert_eq!(all["total"], 1, "{all}");
    assert_eq!(stripe.requests("/v1/checkout/sessions").await.len(), 1);

    // The losers keep their carts (now unavailable); when the winner cancels, one can buy.
    let winner = replies.iter().position(|r| r.status.as_u16() == 201).unwrap();
    let loser = (winner + 1) % buyers.len();
    let cart = app.get("/cart", Some(&buyers[loser].access)).await.expect(200).body;
    assert_eq!(cart["items"][0]["available"], false, "{cart}");
    let won = text(&replies[winner].body["order"], "id");
    app.post(&format!("/orders/{won}/cancel"), Some(&buyers[winner].access), json!({}))
        .await
        .expect(200);
    assert_eq!(stock(&app, &last).await, Some(1));
    checkout(&app, &buyers[loser].access, Some(address())).await;
    assert_eq!(stock(&app, &last).await, Some(0));
}

async fn double_submitted_checkout_places_one_order(app: TestApp, stripe: FakeStripe) {
    let scene = Scene::new(&app).await;
    let cat = scene.customer.access.as_str();
    let harbour = text(&physical(&app, &scene.ana.user.access, "Harbour", 5_000, 5).await, "id");
    let brushes = text(&digital(&app, &scene.bo.user.access, "Brush pack", 1_999).await, "id");
    add_to_cart(&app, cat, &harbour, 1).await;
    add_to_cart(&app, cat, &brushes, 1).await;
    // A double (quintuple) click on "Pay": one cart, one order.
    let attempts = (0..5).map(|_| {
        let app = &app;
        async move { app.post("/checkout", Some(cat), json!({"shipping_address": address()})).await }
    });
    let replies: Vec<Reply> = futures_util::future::join_all(attempts).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "{statuses:?}");
    for reply in replies.iter().filter(|r| r.status.as_u16() != 201) {
        assert!(matches!(reply.status.as_u16(), 409 | 422), "{}", reply.body);
    }
    assert_eq!(app.get("/orders", Some(cat)).await.expect(200).body["total"], 1);
    assert_eq!(stock(&app, &harbour).await, Some(4));
    assert_eq!(stripe.requests("/v1/checkout/sessions").await.len(), 1);
    assert_eq!(app.get("/cart", Some(cat)).await.expect(200).body["items"], json!([]));
}

async fn stripe_outage_keeps_the_cart(app: TestApp, stripe: FakeStripe) {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    let scene = Scene::new(&app).await;
    let cat = scene.customer.access.as_str();
    let harbour = text(&physical(&app, &scene.ana.user.access, "Harbour", 5_000, 2).await, "id");
    let brushes = text(&digital(&app, &scene.bo.user.access, "Brush pack", 1_999).await, "id");
    add_to_cart(&app, cat, &harbour, 1).await;
    add_to_cart(&app, cat, &brushes, 1).await;
    let before = app.get("/cart", Some(cat)).await.expect(200).body;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({
            "error": {"type": "api_error", "message": "Something went wrong on Stripe's end."}
        })))
        .with_priority(1)
        .up_to_n_times(1)
        .mount(&stripe.server)
        .await;
    let reply = app
        .post("/checkout", Some(cat), json!({"shipping_address": address()}))
        .await
        .expect_problem(502, "payment_provider_unavailable");
    assert!(!reply.body.to_string().contains("sk_test"), "{}", reply.body);
    // Nothing is left reserved, and the buyer's cart is as it was.
    assert_eq!(stock(&app, &harbour).await, Some(2));
    let orders = app.get("/orders", Some(cat)).await.expect(200).body;
    assert!(
        orders["items"].as_array().unwrap().iter().all(|o| o["status"] == "cancelled"),
        "{orders}"
    );
    assert_eq!(app.get("/cart", Some(cat)).await.expect(200).body, before);
    // Stripe is back: the same cart checks out.
    let placed = checkout(&app, cat, Some(address())).await;
    assert_eq!(placed["order"]["items"].as_array().unwrap().len(), 2);
    assert_eq!(stock(&app, &harbour).await, Some(1));
}

async fn cancelling_pending_orders(app: TestApp, _stripe: FakeStripe) {
    let scene = Scene::new(&app).await;
    let cat = scene.customer.access.as_str();
    let (placed, harbour, brushes) = pending_order(&app, &scene, 2).await;
    let order_id = text(&placed, "id");
    assert_eq!(stock(&app, &harbour).await, Some(1));

    let cancelled = app
        .post(&format!("/orders/{order_id}/cancel"), Some(cat), json!({}))
        .await
        .expect(200)
        .body;
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(stock(&app, &harbour).await, Some(2));
    app.post(&format!("/orders/{order_id}/cancel"), Some(cat), json!({}))
        .await
        .expect_problem(409, "order_not_cancellable");
    assert_eq!(stock(&app, &harbour).await, Some(2), "released once");
    // A late payment for the cancelled order is given back and changes nothing else.
    deliver(&app, &completed_event("evt_cancel_late", &placed, "pi_cancel"), "auto_refund").await;
    assert_eq!(order(&app, cat, &order_id).await["status"], "cancelled");
    assert_eq!(earnings(&app, &scene.ana.user.access).await["total"], 0);
    assert_eq!(stock(&app, &harbour).await, Some(2));

    // A paid order cannot be cancelled by its buyer.
    add_to_cart(&app, cat, &harbour, 1).await;
    add_to_cart(&app, cat, &brushes, 1).await;
    let second = checkout(&app, cat, Some(address())).await["order"].clone();
    let second_id = text(&second, "id");
    deliver(&app, &completed_event("evt_cancel_paid", &second, "pi_cancel_2"), "applied").await;
    app.post(&format!("/orders/{second_id}/cancel"), Some(cat), json!({}))
        .await
        .expect_problem(409, "order_not_cancellable");
    assert_eq!(order(&app, cat, &second_id).await["status"], "paid");
    assert_eq!(stock(&app, &harbour).await, Some(1));
    // Only a paid order can be refunded.
    app.post(&format!("/admin/orders/{order_id}/refund"), Some(&scene.admin.access), json!({}))
        .await
        .expect_problem(409, "not_refundable");
}

async fn refunds_happen_once(app: TestApp, stripe: FakeStripe) {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};

    let scene = Scene::new(&app).await;
    let (placed, harbour, _) = pending_order(&app, &scene, 3).await;
    let order_id = text(&placed, "id");
    let refund_path = format!("/admin/orders/{order_id}/refund");
    // Not paid yet: nothing to refund, Stripe is not asked.
    app.post(&refund_path, Some(&scene.admin.access), json!({}))
        .await
        .expect_problem(409, "not_refundable");
    assert!(stripe.requests("/v1/refunds").await.is_empty());
    deliver(&app, &completed_event("evt_refund", &placed, "pi_refund"), "applied").await;
    let paid = snapshot(&app, &scene, &order_id, &harbour).await;

    // Stripe refuses: the order stays paid and nothing moves.
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(402).set_body_json(json!({
            "error": {"type": "invalid_request_error", "code": "insufficient_funds",
                      "message": "Insufficient funds in Stripe account."}
        })))
        .with_priority(1)
        .up_to_n_times(1)
        .mount(&stripe.server)
        .await;
    app.post(&refund_path, Some(&scene.admin.access), json!({}))
        .await
        .expect_problem(502, "refund_failed");
    assert_eq!(snapshot(&app, &scene, &order_id, &harbour).await, paid);

    // Several admins at once: one refund, reversed once.
    let attempts = (0..4).map(|_| {
        let app = &app;
        let (path, token) = (refund_path.clone(), scene.admin.access.clone());
        async move { app.post(&path, Some(&token), json!({})).await }
    });
    let replies: Vec<Reply> = futures_util::future::join_all(attempts).await;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 3, "{statuses:?}");
    let keys: Vec<String> = stripe
        .requests("/v1/refunds")
        .await
        .iter()
        .map(|r| crate::payment_support::header(r, "idempotency-key").to_owned())
        .collect();
    assert_eq!(keys.len(), 2, "the refused call and one retry: {keys:?}");
    assert_eq!(keys[0], format!("refund-{order_id}"));
    assert!(
        keys[1].starts_with(&format!("refund-{order_id}-")),
        "a retry after a refusal gets a key of its own (Stripe replays a refusal for its key): {keys:?}"
    );
    let refunded = snapshot(&app, &scene, &order_id, &harbour).await;
    assert_eq!(refunded["order"]["status"], "refunded");
    assert_eq!(refunded["stock"], 3);
    for vendor in ["ana", "bo"] {
        let balance = &refunded[vendor]["balance"];
        assert_eq!(
            (
                balance["pending_cents"].as_i64(),
                balance["available_cents"].as_i64(),
                balance["commission_cents"].as_i64()
            ),
            (Some(0), Some(0), Some(0)),
            "{vendor}: {refunded}"
        );
        // Each credit is reversed exactly once.
        let before = paid[vendor]["total"].as_i64().unwrap();
        assert_eq!(refunded[vendor]["total"].as_i64().unwrap(), 2 * before, "{vendor}: {refunded}");
    }
    assert_eq!(email_count(&app, &scene.admin.access, "refund_issued").await, 1);
    // A late Stripe event cannot revive a refunded order.
    deliver(&app, &completed_event("evt_refund_late", &placed, "pi_refund"), "ignored").await;
    assert_eq!(snapshot(&app, &scene, &order_id, &harbour).await, refunded);
}

/// Re-signs a download token's claims with the servers' derived link key.
fn resign(token: &str, edit: impl FnOnce(&mut Value)) -> String {
    let (payload, _) = token.split_once('.').expect("payload.signature");
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    edit(&mut claims);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let mut derive = Hmac::<Sha256>::new_from_slice(JWT_REFRESH_SECRET.as_bytes()).unwrap();
    derive.update(b"kalavpp download links v1");
    let key = derive.finalize().into_bytes();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(payload.as_bytes());
    format!("{payload}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

async fn download_token_attacks(app: TestApp, _stripe: FakeStripe) {
    let scene = Scene::new(&app).await;
    let cat = scene.customer.access.as_str();
    let (placed, _, _) = pending_order(&app, &scene, 3).await;
    let order_id = text(&placed, "id");
    app.get(&format!("/orders/{order_id}/downloads"), Some(cat))
        .await
        .expect_problem(409, "order_not_paid");
    deliver(&app, &completed_event("evt_dl", &placed, "pi_dl"), "applied").await;
    let links = app.get(&format!("/orders/{order_id}/downloads"), Some(cat)).await.expect(200).body;
    let url = text(&links[0], "url");
    let token = token_of(&url);
    let (payload, signature) = token.split_once('.').unwrap();

    let flip = |text: &str, at: usize| {
        let mut chars: Vec<char> = text.chars().collect();
        chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect::<String>()
    };
    let refused = [
        format!("{}.{signature}", flip(payload, 5)),
        format!("{payload}.{}", flip(signature, 3)),
        format!("{payload}.{}", &signature[..signature.len() - 2]),
        format!("{payload}.{signature}x"),
        payload.to_owned(),
        format!("{payload}."),
        format!(".{signature}"),
        "garbage".to_owned(),
        "a.b".to_owned(),
        // Correctly signed, but for a link or user that does not exist.
        resign(&token, |c| c["l"] = json!(UNKNOWN_ID)),
        resign(&token, |c| c["u"] = json!(scene.ana.user.id)),
    ];
    for bad in &refused {
        let (status, headers, _) = fetch_token(&app, bad).await;
        assert_eq!(status.as_u16(), 403, "{bad}");
        assert!(headers.get("content-disposition").is_none(), "{bad}");
    }
    // Correctly signed but expired: gone.
    let expired = resign(&token, |c| c["e"] = json!(now() - 60));
    let reply = crate::helpers::read(app.client.get(app.url(&format!("/downloads/{expired}"))).send().await.unwrap()).await;
    reply.expect_problem(410, "download_expired");

    // One download; neither a HEAD nor its continuations (a Range after byte 0, within the
    // hour) count again.
    let (status, _, _) = fetch(&app, &url, None).await;
    assert_eq!(status.as_u16(), 200);
    for _ in 0..3 {
        let head = app.client.head(&url).send().await.unwrap();
        assert_eq!(head.status().as_u16(), 200);
        let (status, _, bytes) = fetch(&app, &url, Some("bytes=1000-")).await;
        assert_eq!(status.as_u16(), 206);
        assert_eq!(bytes.len(), 1_000);
    }
    // Four more downloads, then the link is used up.
    for n in 0..4 {
        let (status, _, bytes) = fetch(&app, &url, None).await;
        assert_eq!(status.as_u16(), 200, "download {n}");
        assert_eq!(bytes, asset_bytes(2_000));
    }
    let reply = crate::helpers::read(app.client.get(&url).send().await.unwrap()).await;
    reply.expect_problem(410, "download_exhausted");
    // The last download can still be resumed (it was counted just now); a fresh start cannot.
    let (status, _, bytes) = fetch(&app, &url, Some("bytes=1500-")).await;
    assert_eq!((status.as_u16(), bytes.len()), (206, 500));
    // The limit is the purchased line's: asking for the links again does not reset it.
    let links = app.get(&format!("/orders/{order_id}/downloads"), Some(cat)).await.expect(200).body;
    assert_eq!(links[0]["downloads_left"], 0);
    let reply = crate::helpers::read(app.client.get(text(&links[0], "url")).send().await.unwrap()).await;
    reply.expect_problem(410, "download_exhausted");
}
