//! The seed's vendor flow: dashboard → stats → orders → earnings → request payout, with the money
//! figures checked against the ledger to the cent, and the payout rules an attacker would probe.

use serde_json::{Value, json};

use crate::catalog_support::text;
use crate::helpers::{TestApp, on_both_backends};
use crate::payment_support::{Scene, add_to_cart, address, asset_bytes, attach_asset, checkout, digital, email_count, physical};

on_both_backends!(
    vendor_sees_stats_orders_earnings_and_requests_a_payout,
    payout_requests_are_validated_and_race_free
);

/// Half-up commission of `cents` at `bps`, as the core computes it.
fn commission(cents: i64, bps: i64) -> i64 {
    (cents * bps + 5_000).div_euclid(10_000)
}

/// Presses Pay on the dev checkout page of a checkout reply.
pub async fn pay(app: &TestApp, placed: &Value) {
    let url = format!("{}/pay", text(placed, "checkout_url"));
    let response = app.client.post(url).send().await.expect("pay");
    assert_eq!(response.status().as_u16(), 200);
}

fn sum(values: &Value, key: &str) -> i64 {
    values.as_array().expect("array").iter().map(|v| v[key].as_i64().expect(key)).sum()
}

async fn vendor_sees_stats_orders_earnings_and_requests_a_payout(app: TestApp) {
    let Scene { admin, ana, bo, customer } = Scene::new(&app).await;
    let (ana_token, cat) = (ana.user.access.as_str(), customer.access.as_str());

    // A fresh shop's dashboard is all zeros, with 30 empty days.
    let empty = app.get("/vendor/stats", Some(ana_token)).await.expect(200).body;
    assert_eq!(empty["order_count"], 0);
    assert_eq!(empty["gross_sales_cents"], 0);
    assert_eq!(empty["sales_by_day"].as_array().unwrap().len(), 30, "{empty}");
    assert_eq!(empty["balance"]["available_cents"], 0);

    // Ana lists a painting and a digital study; Bo a brush pack.
    let harbour = text(&physical(&app, ana_token, "Harbour at dawn", 12_345, 3).await, "id");
    let study = text(&digital(&app, ana_token, "Colour study", 1_999).await, "id");
    attach_asset(&app, ana_token, &study, "study.zip", asset_bytes(500)).await;
    let brushes = text(&digital(&app, &bo.user.access, "Brush pack", 999).await, "id");
    attach_asset(&app, &bo.user.access, &brushes, "brushes.zip", asset_bytes(500)).await;

    // The customer buys two paintings, the study and the brushes, and pays.
    add_to_cart(&app, cat, &harbour, 2).await;
    add_to_cart(&app, cat, &study, 1).await;
    add_to_cart(&app, cat, &brushes, 1).await;
    let placed = checkout(&app, cat, Some(address())).await;
    let order_id = text(&placed["order"], "id");
    pay(&app, &placed).await;
    // A second order is never paid: it counts nowhere.
    add_to_cart(&app, cat, &harbour, 1).await;
    let unpaid = checkout(&app, cat, Some(address())).await;

    // Stats: only Ana's lines of the paid order.
    let gross = 2 * 12_345 + 1_999;
    let fee = commission(2 * 12_345, 1_000) + commission(1_999, 1_000);
    let stats = app.get("/vendor/stats", Some(ana_token)).await.expect(200).body;
    assert_eq!(stats["product_count"], 2, "{stats}");
    assert_eq!(stats["order_count"], 1);
    assert_eq!(stats["units_sold"], 3);
    assert_eq!(stats["gross_sales_cents"], gross);
    assert_eq!(stats["commission_cents"], fee);
    assert_eq!(stats["net_earnings_cents"], gross - fee);
    let net_painting = 2 * 12_345 - commission(2 * 12_345, 1_000);
    let net_study = 1_999 - commission(1_999, 1_000);
    assert_eq!(stats["balance"]["pending_cents"], net_painting, "the painting waits for shipping");
    assert_eq!(stats["balance"]["available_cents"], net_study, "the download is delivered");
    assert_eq!(stats["balance"]["paid_out_cents"], 0);
    let days = stats["sales_by_day"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(sum(&stats["sales_by_day"], "gross_cents"), gross);
    let today = days.last().unwrap();
    assert_eq!(today["date"], chrono::Utc::now().date_naive().to_string());
    assert_eq!((today["orders"].as_i64(), today["gross_cents"].as_i64()), (Some(1), Some(gross)));
    assert!(days[..29].iter().all(|d| d["orders"] == 0), "{stats}");
    assert_eq!(stats["top_products"][0]["product_id"], harbour.as_str());
    assert_eq!(stats["top_products"][0]["units_sold"], 2);
    assert_eq!(stats["top_products"][1]["product_id"], study.as_str());

    // Orders: her lines only, with the buyer's address; filters by status and date.
    let orders = app.get("/vendor/orders", Some(ana_token)).await.expect(200).body;
    assert_eq!(orders["total"], 2, "{orders}");
    let paid = app.get("/vendor/orders?status=paid", Some(ana_token)).await.expect(200).body;
    assert_eq!(paid["total"], 1);
    assert_eq!(paid["items"][0]["id"], order_id.as_str());
    let lines = paid["items"][0]["items"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["vendor_id"] == ana.id.as_str()), "{paid}");
    assert_eq!(paid["items"][0]["shipping_address"]["city"], "Lisbon");
    let pending = app
        .get("/vendor/orders?status=pending_payment", Some(ana_token))
        .await
        .expect(200)
        .body;
    assert_eq!(pending["items"][0]["id"], placed_id(&unpaid));
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let yesterday = today.pred_opt().unwrap();
    assert_eq!(
        app.get(&format!("/vendor/orders?from={today}"), Some(ana_token))
            .await
            .expect(200)
            .body["total"],
        2
    );
    assert_eq!(
        app.get(&format!("/vendor/orders?from={tomorrow}"), Some(ana_token))
            .await
            .expect(200)
            .body["total"],
        0
    );
    assert_eq!(
        app.get(&format!("/vendor/orders?to={yesterday}"), Some(ana_token))
            .await
            .expect(200)
            .body["total"],
        0
    );
    app.get("/vendor/orders?from=last-week", Some(ana_token))
        .await
        .expect_problem(422, "validation_failed");
    app.get("/vendor/orders?status=shipped", Some(ana_token))
        .await
        .expect_problem(422, "validation_failed");
    let bo_orders = app.get("/vendor/orders", Some(&bo.user.access)).await.expect(200).body;
    assert_eq!(bo_orders["total"], 1, "Bo sees only the order with his line");
    assert_eq!(bo_orders["items"][0]["items"].as_array().unwrap().len(), 1);

    // Earnings: the same balance, and the ledger adds up to the stats.
    let earnings = app.get("/vendor/earnings?per_page=100", Some(ana_token)).await.expect(200).body;
    assert_eq!(earnings["balance"], stats["balance"]);
    let entries = earnings["entries"].as_array().unwrap();
    let vendor_money: i64 = entries
        .iter()
        .filter(|e| e["bucket"] != "platform" && !e["order_item_id"].is_null())
        .map(|e| e["amount_cents"].as_i64().unwrap())
        .sum();
    let platform: i64 = entries
        .iter()
        .filter(|e| e["bucket"] == "platform")
        .map(|e| e["amount_cents"].as_i64().unwrap())
        .sum();
    assert_eq!(vendor_money, gross - fee);
    assert_eq!(platform, fee);

    // Request a payout of part of the available money.
    let payout = app
        .post("/vendor/payouts", Some(ana_token), json!({"amount_cents": 1_000}))
        .await
        .expect(201)
        .body;
    assert_eq!(payout["status"], "requested", "{payout}");
    assert_eq!(payout["amount_cents"], 1_000);
    assert_eq!(payout["vendor_id"], ana.id.as_str());
    assert_eq!(payout["currency"], "usd");
    let stats = app.get("/vendor/stats", Some(ana_token)).await.expect(200).body;
    assert_eq!(stats["balance"]["available_cents"], net_study - 1_000);
    assert_eq!(stats["balance"]["held_cents"], 1_000);
    assert_eq!(stats["net_earnings_cents"], gross - fee, "a payout is not a sale");
    let mine = app.get("/vendor/payouts", Some(ana_token)).await.expect(200).body;
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["items"][0]["id"], payout["id"]);
    assert_eq!(
        app.get("/vendor/payouts?status=paid", Some(ana_token)).await.expect(200).body["total"],
        0
    );
    assert_eq!(email_count(&app, &admin.access, "payout_requested").await, 1);
    let earnings = app.get("/vendor/earnings?per_page=100", Some(ana_token)).await.expect(200).body;
    let holds: Vec<_> = earnings["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "payout_hold")
        .collect();
    assert_eq!(holds.len(), 2);
    assert!(holds.iter().all(|e| e["payout_id"] == payout["id"]));

    // Another vendor sees none of it.
    assert_eq!(app.get("/vendor/payouts", Some(&bo.user.access)).await.expect(200).body["total"], 0);

    // Shipping the painting makes its money available.
    let item = paid["items"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["product_id"] == harbour.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("/vendor/orders/{order_id}/items/{item}/fulfil"),
        Some(ana_token),
        json!({"tracking_number": "TRK1"}),
    )
    .await
    .expect(200);
    let stats = app.get("/vendor/stats", Some(ana_token)).await.expect(200).body;
    assert_eq!(stats["balance"]["pending_cents"], 0);
    assert_eq!(stats["balance"]["available_cents"], net_painting + net_study - 1_000);
}

fn placed_id(placed: &Value) -> &str {
    placed["order"]["id"].as_str().expect("order id")
}

async fn payout_requests_are_validated_and_race_free(app: TestApp) {
    let Scene { ana, customer, .. } = Scene::new(&app).await;
    let ana_token = ana.user.access.as_str();
    let study = text(&digital(&app, ana_token, "Colour study", 10_000).await, "id");
    attach_asset(&app, ana_token, &study, "study.zip", asset_bytes(100)).await;
    add_to_cart(&app, &customer.access, &study, 1).await;
    let placed = checkout(&app, &customer.access, None).await;
    pay(&app, &placed).await;
    let available = 10_000 - commission(10_000, 1_000);

    // Who may ask: approved vendors only.
    app.post("/vendor/payouts", None, json!({"amount_cents": 100})).await.expect(401);
    app.post("/vendor/payouts", Some(&customer.access), json!({"amount_cents": 100}))
        .await
        .expect(403);
    app.get("/vendor/payouts", Some(&customer.access)).await.expect(403);
    app.get("/vendor/stats", Some(&customer.access)).await.expect(403);
    app.get("/vendor/stats", None).await.expect(401);

    // What may be asked.
    for bad in [
        json!({"amount_cents": 0}),
        json!({"amount_cents": -500}),
        json!({"amount_cents": "100"}),
        json!({"amount_cents": 1.5}),
        json!({}),
    ] {
        let reply = app.post("/vendor/payouts", Some(ana_token), bad.clone()).await.expect(422);
        assert_eq!(reply.code(), "validation_failed", "{bad}: {}", reply.body);
        assert_eq!(reply.fields(), vec!["amount_cents"], "{bad}: {}", reply.body);
    }
    let reply = app
        .post("/vendor/payouts", Some(ana_token), json!({"amount_cents": 100, "status": "paid"}))
        .await
        .expect(422);
    assert_eq!(reply.fields(), vec!["status"]);
    app.post(
        "/vendor/payouts",
        Some(ana_token),
        json!({"amount_cents": 100, "vendor_id": ana.id}),
    )
    .await
    .expect(422);
    app.post("/vendor/payouts", Some(ana_token), json!({"amount_cents": i64::MAX}))
        .await
        .expect(422);
    app.post("/vendor/payouts", Some(ana_token), json!({"amount_cents": available + 1}))
        .await
        .expect_problem(409, "insufficient_balance");
    assert_eq!(app.get("/vendor/payouts", Some(ana_token)).await.expect(200).body["total"], 0);

    // Eight concurrent requests of 40 % each: exactly two pass, the balance never goes negative.
    let part = available * 4 / 10;
    let replies =
        futures_util::future::join_all((0..8).map(|_| app.post("/vendor/payouts", Some(ana_token), json!({"amount_cents": part})))).await;
    let created = replies.iter().filter(|r| r.status.as_u16() == 201).count();
    let refused = replies.iter().filter(|r| r.status.as_u16() == 409).count();
    assert_eq!((created, refused), (2, 6));
    let balance = app.get("/vendor/earnings", Some(ana_token)).await.expect(200).body["balance"].clone();
    assert_eq!(balance["available_cents"], available - 2 * part);
    assert_eq!(balance["held_cents"], 2 * part);
    assert_eq!(app.get("/vendor/payouts", Some(ana_token)).await.expect(200).body["total"], 2);
}
