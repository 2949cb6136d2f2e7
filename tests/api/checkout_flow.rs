//! The seed's customer flow over HTTP with a fake Stripe: two vendors' works in one cart, checkout,
//! a signed webhook, confirmation, download, vendor views and earnings, fulfilment and a refund.

use serde_json::{Value, json};

use crate::catalog_support::{ids, text};
use crate::helpers::TestApp;
use crate::payment_support::{
    FRONTEND_URL, FakeStripe, STRIPE_SECRET_KEY, Scene, add_to_cart, address, asset_bytes, attach_asset, balance, completed_event, deliver,
    digital, earnings, email_count, fetch, field, form_pairs, header, line, on_both_backends_with_stripe, order, physical, stock,
};

on_both_backends_with_stripe!(two_vendors_one_cart_paid_once_through_stripe);

/// Half-up commission of `cents` at `bps`, as the core computes it.
fn commission(cents: i64, bps: i64) -> i64 {
    (cents * bps + 5_000).div_euclid(10_000)
}

async fn two_vendors_one_cart_paid_once_through_stripe(app: TestApp, stripe: FakeStripe) {
    let Scene { admin, ana, bo, customer } = Scene::new(&app).await;
    let cat = customer.access.as_str();

    // Ana negotiated a 12.5 % commission; Bo pays the default 10 %.
    let set = app
        .patch(
            &format!("/admin/vendors/{}", ana.id),
            Some(&admin.access),
            json!({"commission_bps": 1250}),
        )
        .await
        .expect(200);
    assert_eq!(set.body["commission_bps"], 1250);

    // Ana lists a physical painting (two in stock), Bo a digital brush pack with its file.
    let harbour = physical(&app, &ana.user.access, "Harbour at dawn", 12_345, 2).await;
    let harbour_id = text(&harbour, "id");
    let brushes = digital(&app, &bo.user.access, "Brush pack", 1_999).await;
    let brushes_id = text(&brushes, "id");
    let file = asset_bytes(3_000);
    let filename = attach_asset(&app, &bo.user.access, &brushes_id, "Brush Pack.zip", file.clone()).await;
    assert_eq!(filename, "Brush Pack.zip");

    // The customer browses.
    let listed = app.get("/products", None).await.expect(200);
    assert_eq!(listed.body["total"], 2, "{}", listed.body);
    let mut listed_ids = ids(&listed.body);
    listed_ids.sort();
    let mut expected_ids = vec![harbour_id.clone(), brushes_id.clone()];
    expected_ids.sort();
    assert_eq!(listed_ids, expected_ids);
    let detail = app.get(&format!("/products/{}", text(&harbour, "slug")), None).await.expect(200);
    assert_eq!(detail.body["price_cents"], 12_345);
    assert_eq!(detail.body["stock"], 2);
    let digital_only = app.get("/products?kind=digital", None).await.expect(200);
    assert_eq!(ids(&digital_only.body), vec![brushes_id.clone()]);

    // Both works into the cart; adding again adds to the quantity.
    add_to_cart(&app, cat, &harbour_id, 1).await;
    add_to_cart(&app, cat, &brushes_id, 1).await;
    let cart = add_to_cart(&app, cat, &harbour_id, 1).await;
    assert_eq!(cart["items"].as_array().unwrap().len(), 2, "{cart}");
    let cart = app.get("/cart", Some(cat)).await.expect(200).body;
    assert_eq!(cart["currency"], "usd");
    assert_eq!(cart["subtotal_cents"], 2 * 12_345 + 1_999);
    let cart_line = |product: &str| {
        cart["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["product_id"] == product)
            .cloned()
            .unwrap_or_else(|| panic!("{product} in {cart}"))
    };
    let harbour_line = cart_line(&harbour_id);
    assert_eq!(harbour_line["quantity"], 2);
    assert_eq!(harbour_line["unit_price_cents"], 12_345);
    assert_eq!(harbour_line["line_total_cents"], 24_690);
    assert_eq!(harbour_line["vendor_id"], ana.id.as_str());
    assert_eq!(harbour_line["title"], "Harbour at dawn");
    assert_eq!(harbour_line["available"], true);
    let brushes_line = cart_line(&brushes_id);
    assert_eq!(brushes_line["quantity"], 1);
    assert_eq!(brushes_line["line_total_cents"], 1_999);
    assert_eq!(brushes_line["vendor_id"], bo.id.as_str());
    assert_eq!(brushes_line["available"], true);

    // Checkout: one pending order over both vendors, commission snapshotted per line.
    let placed = app
        .post("/checkout", Some(cat), json!({"shipping_address": address()}))
        .await
        .expect(201)
        .body;
    let placed_order = &placed["order"];
    let order_id = text(placed_order, "id");
    let number = text(placed_order, "number");
    let session_id = text(&placed, "payment_session_id");
    assert!(number.starts_with("KV-"), "{number}");
    assert_eq!(placed_order["status"], "pending_payment");
    assert_eq!(placed_order["user_id"], customer.id.as_str());
    assert_eq!(placed_order["subtotal_cents"], 26_689);
    assert_eq!(placed_order["total_cents"], 26_689);
    assert_eq!(placed_order["currency"], "usd");
    assert!(placed_order["paid_at"].is_null());
    assert_eq!(placed_order["payment_session_id"], session_id.as_str());
    assert_eq!(placed["checkout_url"], format!("https://checkout.stripe.test/c/pay/{session_id}"));
    let stored_address = &placed_order["shipping_address"];
    for key in ["name", "line1", "line2", "city", "postal_code", "country", "phone"] {
        assert_eq!(stored_address[key], address()[key], "{key}");
    }
    assert_eq!(placed_order["items"].as_array().unwrap().len(), 2);
    let check_line = |item: &Value, vendor: &str, kind: &str, quantity: i64, unit: i64, bps: i64| {
        let total = quantity * unit;
        assert_eq!(item["vendor_id"], vendor, "{item}");
        assert_eq!(item["kind"], kind, "{item}");
        assert_eq!(item["quantity"], quantity, "{item}");
        assert_eq!(item["unit_price_cents"], unit, "{item}");
        assert_eq!(item["line_total_cents"], total, "{item}");
        assert_eq!(item["commission_bps"], bps, "{item}");
        assert_eq!(item["commission_cents"], commission(total, bps), "{item}");
        assert_eq!(item["vendor_net_cents"], total - commission(total, bps), "{item}");
        assert_eq!(
            item["commission_cents"].as_i64().unwrap() + item["vendor_net_cents"].as_i64().unwrap(),
            item["line_total_cents"].as_i64().unwrap(),
            "{item}"
        );
    };
    let harbour_item = line(placed_order, &harbour_id).clone();
    let brushes_item = line(placed_order, &brushes_id).clone();
    check_line(&harbour_item, &ana.id, "physical", 2, 12_345, 1250);
    check_line(&brushes_item, &bo.id, "digital", 1, 1_999, 1000);
    // To the cent: 24 690 × 12.5 % = 3 086.25 → 3 086; 1 999 × 10 % = 199.9 → 200.
    assert_eq!(harbour_item["commission_cents"], 3_086);
    assert_eq!(harbour_item["vendor_net_cents"], 21_604);
    assert_eq!(brushes_item["commission_cents"], 200);
    assert_eq!(brushes_item["vendor_net_cents"], 1_799);
    assert_eq!(harbour_item["title"], "Harbour at dawn");
    assert_eq!(harbour_item["fulfilment_status"], "unfulfilled");
    assert_eq!(brushes_item["fulfilment_status"], "unfulfilled");
    let harbour_item_id = text(&harbour_item, "id");
    let brushes_item_id = text(&brushes_item, "id");

    // Exactly what the fake Stripe was asked for.
    let sessions = stripe.requests("/v1/checkout/sessions").await;
    assert_eq!(sessions.len(), 1);
    let request = &sessions[0];
    assert_eq!(header(request, "idempotency-key"), format!("checkout-{order_id}"));
    assert_eq!(header(request, "authorization"), format!("Bearer {STRIPE_SECRET_KEY}"));
    assert_eq!(header(request, "content-type"), "application/x-www-form-urlencoded");
    let pairs = form_pairs(&request.body);
    let success = format!("{FRONTEND_URL}/orders/{order_id}?payment=success");
    let cancel = format!("{FRONTEND_URL}/orders/{order_id}?payment=cancelled");
    for (key, value) in [
        ("mode", "payment"),
        ("client_reference_id", order_id.as_str()),
        ("customer_email", "cat@example.com"),
        ("metadata[order_id]", order_id.as_str()),
        ("metadata[order_number]", number.as_str()),
        ("payment_intent_data[metadata][order_id]", order_id.as_str()),
        ("success_url", success.as_str()),
        ("cancel_url", cancel.as_str()),
    ] {
        assert_eq!(field(&pairs, key), Some(value), "{key} in {pairs:?}");
    }
    let mut sent_lines: Vec<(String, String, String, String)> = (0..2)
        .map(|i| {
            let get = |suffix: &str| {
                field(&pairs, &format!("line_items[{i}]{suffix}"))
                    .unwrap_or_else(|| panic!("line_items[{i}]{suffix} in {pairs:?}"))
                    .to_owned()
            };
            (
                get("[price_data][product_data][name]"),
                get("[price_data][unit_amount]"),
                get("[quantity]"),
                get("[price_data][currency]"),
            )
        })
        .collect();
    sent_lines.sort();
    assert_eq!(
        sent_lines,
        vec![
            ("Brush pack".into(), "1999".into(), "1".into(), "usd".into()),
            ("Harbour at dawn".into(), "12345".into(), "2".into(), "usd".into()),
        ]
    );
    assert!(field(&pairs, "line_items[2][quantity]").is_none(), "{pairs:?}");
    assert!(pairs.iter().all(|(key, _)| !key.contains("unit_amount_decimal")), "{pairs:?}");

    // The cart is empty and the painting's stock is reserved.
    let cart = app.get("/cart", Some(cat)).await.expect(200).body;
    assert_eq!(cart["items"], json!([]));
    assert_eq!(cart["subtotal_cents"], 0);
    assert_eq!(stock(&app, &harbour_id).await, Some(0));
    assert_eq!(stock(&app, &brushes_id).await, None);
    let mine = app.get("/orders", Some(cat)).await.expect(200).body;
    assert_eq!(ids(&mine), vec![order_id.clone()]);
    assert_eq!(mine["items"][0]["status"], "pending_payment");
    // Nothing is paid, queued or credited yet.
    assert_eq!(email_count(&app, &admin.access, "order_confirmation").await, 0);
    assert_eq!(earnings(&app, &ana.user.access).await["total"], 0);
    app.get(&format!("/orders/{order_id}/downloads"), Some(cat))
        .await
        .expect_problem(409, "order_not_paid");

    // A commission change after checkout does not touch this order: it was snapshotted.
    app.patch(
        &format!("/admin/vendors/{}", ana.id),
        Some(&admin.access),
        json!({"commission_bps": 0}),
    )
    .await
    .expect(200);

    // Stripe says it is paid.
    deliver(&app, &completed_event("evt_flow_paid", placed_order, "pi_test_flow"), "applied").await;
    let paid = order(&app, cat, &order_id).await;
    assert_eq!(paid["status"], "paid");
    assert!(paid["paid_at"].is_string(), "{paid}");
    assert_eq!(line(&paid, &brushes_id)["fulfilment_status"], "delivered");
    assert_eq!(line(&paid, &harbour_id)["fulfilment_status"], "unfulfilled");
    assert_eq!(paid["total_cents"], 26_689);

    // The confirmation is in the outbox.
    let sent = app
        .get("/admin/emails?template=order_confirmation", Some(&admin.access))
        .await
        .expect(200)
        .body;
    assert_eq!(sent["total"], 1, "{sent}");
    assert_eq!(sent["items"][0]["recipient"], "cat@example.com");
    assert_eq!(sent["items"][0]["template"], "order_confirmation");

    // One download link, for the digital line.
    let links = app.get(&format!("/orders/{order_id}/downloads"), Some(cat)).await.expect(200).body;
    let links = links.as_array().expect("a list").clone();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0]["item_id"], brushes_item_id.as_str());
    assert_eq!(links[0]["filename"], filename.as_str());
    assert_eq!(links[0]["downloads_left"], 5);
    assert!(links[0]["expires_at"].is_string());
    let url = text(&links[0], "url");
    assert!(url.starts_with(&format!("{}/api/v1/downloads/", app.base)), "{url}");
    let (status, headers, bytes) = fetch(&app, &url, None).await;
    assert_eq!(status.as_u16(), 200);
    let disposition = headers.get("content-disposition").unwrap().to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment; filename=\"Brush Pack.zip\""), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''Brush%20Pack.zip"), "{disposition}");
    assert_eq!(bytes, file);
    let (status, headers, bytes) = fetch(&app, &url, Some("bytes=0-9")).await;
    assert_eq!(status.as_u16(), 206);
    assert_eq!(bytes, file[..10].to_vec());
    assert_eq!(headers.get("content-range").unwrap().to_str().unwrap(), "bytes 0-9/3000");
    // Links are the buyer's alone.
    app.get(&format!("/orders/{order_id}/downloads"), Some(&ana.user.access))
        .await
        .expect_problem(404, "order_not_found");

    // Each vendor sees its own line of the order, with the shipping address.
    let vendor_view = |orders: &Value, product: &str| {
        assert_eq!(orders["total"], 1, "{orders}");
        let seen = &orders["items"][0];
        assert_eq!(seen["id"], order_id.as_str());
        assert_eq!(seen["number"], number.as_str());
        assert_eq!(seen["shipping_address"]["line1"], "12 Harbour Road");
        let items = seen["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "only the vendor's own line: {seen}");
        assert_eq!(items[0]["product_id"], product);
    };
    vendor_view(
        &app.get("/vendor/orders", Some(&ana.user.access)).await.expect(200).body,
        &harbour_id,
    );
    vendor_view(
        &app.get("/vendor/orders", Some(&bo.user.access)).await.expect(200).body,
        &brushes_id,
    );

    // The digital net is available at once; the physical net waits for shipping.
    let ana_earnings = earnings(&app, &ana.user.access).await;
    assert_eq!(ana_earnings["balance"]["pending_cents"], 21_604, "{ana_earnings}");
    assert_eq!(ana_earnings["balance"]["available_cents"], 0);
    assert_eq!(ana_earnings["balance"]["commission_cents"], 3_086);
    let bo_earnings = earnings(&app, &bo.user.access).await;
    assert_eq!(bo_earnings["balance"]["available_cents"], 1_799, "{bo_earnings}");
    assert_eq!(bo_earnings["balance"]["pending_cents"], 0);
    assert_eq!(bo_earnings["balance"]["commission_cents"], 200);
    let entries = bo_earnings["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{bo_earnings}");
    for entry in entries {
        assert_eq!(entry["order_id"], order_id.as_str());
        assert_eq!(entry["order_item_id"], brushes_item_id.as_str());
    }
    let kinds: Vec<(&str, &str, i64)> = entries
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap(),
                e["bucket"].as_str().unwrap(),
                e["amount_cents"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(kinds.contains(&("sale_credit", "available", 1_799)), "{kinds:?}");
    assert!(kinds.contains(&("commission", "platform", 200)), "{kinds:?}");
    // Commission plus net is the line, per vendor, to the cent.
    for (earned, item) in [(&ana_earnings, &harbour_item), (&bo_earnings, &brushes_item)] {
        let credited = earned["balance"]["pending_cents"].as_i64().unwrap() + earned["balance"]["available_cents"].as_i64().unwrap();
        assert_eq!(
            credited + earned["balance"]["commission_cents"].as_i64().unwrap(),
            item["line_total_cents"].as_i64().unwrap()
        );
    }

    // Ana ships: her net becomes available and the order is complete.
    let shipped = app
        .post(
            &format!("/vendor/orders/{order_id}/items/{harbour_item_id}/fulfil"),
            Some(&ana.user.access),
            json!({"tracking_number": "1Z999AA10123456784", "carrier": "UPS"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(shipped["fulfilment_status"], "shipped");
    assert_eq!(shipped["tracking_number"], "1Z999AA10123456784");
    assert_eq!(shipped["carrier"], "UPS");
    assert!(shipped["shipped_at"].is_string());
    assert_eq!(balance(&app, &ana.user.access).await, (0, 21_604));
    assert_eq!(balance(&app, &bo.user.access).await, (0, 1_799));
    let completed = order(&app, cat, &order_id).await;
    assert_eq!(completed["status"], "completed");
    assert_eq!(line(&completed, &harbour_id)["fulfilment_status"], "shipped");
    let by_admin = app
        .get("/admin/orders?status=completed", Some(&admin.access))
        .await
        .expect(200)
        .body;
    assert_eq!(ids(&by_admin), vec![order_id.clone()]);
    let full = app
        .get(&format!("/admin/orders/{order_id}"), Some(&admin.access))
        .await
        .expect(200)
        .body;
    assert_eq!(full["items"].as_array().unwrap().len(), 2);

    // The admin refunds: through Stripe, every balance back to zero, stock restored.
    let refunded = app
        .post(&format!("/admin/orders/{order_id}/refund"), Some(&admin.access), json!({}))
        .await
        .expect(200)
        .body;
    assert_eq!(refunded["status"], "refunded");
    let refunds = stripe.requests("/v1/refunds").await;
    assert_eq!(refunds.len(), 1);
    assert_eq!(header(&refunds[0], "idempotency-key"), format!("refund-{order_id}"));
    let pairs = form_pairs(&refunds[0].body);
    assert_eq!(field(&pairs, "payment_intent"), Some("pi_test_flow"));
    assert_eq!(field(&pairs, "amount"), Some("26689"));
    for token in [&ana.user.access, &bo.user.access] {
        let earned = earnings(&app, token).await;
        let balance = &earned["balance"];
        assert_eq!(balance["pending_cents"], 0, "{earned}");
        assert_eq!(balance["available_cents"], 0, "{earned}");
        assert_eq!(balance["commission_cents"], 0, "{earned}");
        let sum: i64 = earned["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["bucket"] != "platform")
            .map(|e| e["amount_cents"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, 0, "{earned}");
    }
    assert_eq!(stock(&app, &harbour_id).await, Some(2));
    assert_eq!(order(&app, cat, &order_id).await["status"], "refunded");
    app.post(&format!("/admin/orders/{order_id}/refund"), Some(&admin.access), json!({}))
        .await
        .expect_problem(409, "not_refundable");
    assert_eq!(stripe.requests("/v1/refunds").await.len(), 1, "no second refund at Stripe");
    assert_eq!(email_count(&app, &admin.access, "refund_issued").await, 1);
    let log = app
        .get("/admin/audit-log?action=order.refund", Some(&admin.access))
        .await
        .expect(200)
        .body;
    assert_eq!(log["total"], 1, "{log}");
    assert_eq!(log["items"][0]["target_id"], order_id.as_str());

    // The download link stops working.
    let (status, _, _) = fetch(&app, &url, None).await;
    assert!(matches!(status.as_u16(), 403 | 410), "{status}");
    app.get(&format!("/orders/{order_id}/downloads"), Some(cat))
        .await
        .expect_problem(409, "order_not_paid");
}
