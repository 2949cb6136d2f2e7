//! The development payment provider (no `STRIPE_SECRET_KEY`): a checkout page on our own server
//! whose Pay and Fail buttons feed the same event path as Stripe webhooks.

use std::collections::HashMap;

use serde_json::json;

use crate::catalog_support::text;
use crate::helpers::{TestApp, on_both_backends};
use crate::payment_support::{
    Scene, add_to_cart, address, asset_bytes, attach_asset, balance, checkout, digital, email_count, fetch, order, physical, sign, stock,
};

on_both_backends!(dev_checkout_page_pays, dev_checkout_fail_then_pay);

/// A raw request to the server outside `/api/v1`: status, content type and body text.
async fn page(app: &TestApp, method: reqwest::Method, url: &str) -> (u16, String, String) {
    let response = app.client.request(method, url).send().await.expect("request sent");
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.expect("body"))
}

async fn dev_checkout_page_pays(app: TestApp) {
    let scene = Scene::new(&app).await;
    let cat = scene.customer.access.as_str();
    let harbour = text(&physical(&app, &scene.ana.user.access, "Harbour at dawn", 12_345, 2).await, "id");
    let brushes = text(&digital(&app, &scene.bo.user.access, "Brush pack", 1_999).await, "id");
    attach_asset(&app, &scene.bo.user.access, &brushes, "brushes.zip", asset_bytes(1_000)).await;
    add_to_cart(&app, cat, &harbour, 1).await;
    add_to_cart(&app, cat, &brushes, 1).await;

    let placed = checkout(&app, cat, Some(address())).await;
    let order_id = text(&placed["order"], "id");
    let number = text(&placed["order"], "number");
    let session = text(&placed, "payment_session_id");
    let url = text(&placed, "checkout_url");
    assert_eq!(url, format!("{}/dev/checkout/{session}", app.base));
    assert_eq!(placed["order"]["status"], "pending_payment");
    assert_eq!(stock(&app, &harbour).await, Some(1));

    // The page shows the order and its buttons.
    let (status, content_type, html) = page(&app, reqwest::Method::GET, &url).await;
    assert_eq!(status, 200, "{html}");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(html.contains(&number), "{html}");
    assert!(html.contains("Harbour at dawn") && html.contains("Brush pack"), "{html}");
    assert!(html.contains("143.44 USD"), "{html}");
    assert!(html.contains(&format!("/dev/checkout/{session}/pay")), "{html}");
    assert_eq!(email_count(&app, &scene.admin.access, "order_confirmation").await, 0);

    // Pay.
    let (status, _, html) = page(&app, reqwest::Method::POST, &format!("{url}/pay")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("paid"), "{html}");
    let paid = order(&app, cat, &order_id).await;
    assert_eq!(paid["status"], "paid");
    assert!(paid["paid_at"].is_string());
    assert_eq!(email_count(&app, &scene.admin.access, "order_confirmation").await, 1);
    assert_eq!(balance(&app, &scene.ana.user.access).await, (11_110, 0));
    assert_eq!(balance(&app, &scene.bo.user.access).await, (0, 1_799));
    let links = app.get(&format!("/orders/{order_id}/downloads"), Some(cat)).await.expect(200).body;
    let (status, _, bytes) = fetch(&app, &text(&links[0], "url"), None).await;
    assert_eq!(status.as_u16(), 200);
    assert_eq!(bytes, asset_bytes(1_000));

    // Pressing Pay (or Fail) again changes nothing.
    let (status, _, html) = page(&app, reqwest::Method::POST, &format!("{url}/pay")).await;
    assert_eq!(status, 200, "{html}");
    let (status, _, _) = page(&app, reqwest::Method::POST, &format!("{url}/fail")).await;
    assert_eq!(status, 200);
    assert_eq!(order(&app, cat, &order_id).await["status"], "paid");
    assert_eq!(email_count(&app, &scene.admin.access, "order_confirmation").await, 1);
    assert_eq!(balance(&app, &scene.ana.user.access).await, (11_110, 0));
    let entries = app.get("/vendor/earnings", Some(&scene.bo.user.access)).await.expect(200).body;
    assert_eq!(entries["total"], 2, "{entries}");
    let (_, _, html) = page(&app, reqwest::Method::GET, &url).await;
    assert!(!html.contains("/pay\""), "no Pay button once paid: {html}");

    // Unknown sessions are not found; the Stripe webhook is closed without Stripe.
    let unknown = format!("{}/dev/checkout/dev_cs_00000000000000000000000000000000", app.base);
    assert_eq!(page(&app, reqwest::Method::GET, &unknown).await.0, 404);
    assert_eq!(page(&app, reqwest::Method::POST, &format!("{unknown}/pay")).await.0, 404);
    let payload = json!({"id": "evt_dev", "type": "checkout.session.completed"}).to_string();
    let reply = crate::payment_support::post_webhook(&app, &payload, Some(&sign(&payload))).await;
    assert_eq!(reply.status.as_u16(), 400, "{}", reply.body);
    assert_eq!(order(&app, cat, &order_id).await["status"], "paid");
}

async fn dev_checkout_fail_then_pay(app: TestApp) {
    let scene = Scene::new(&app).await;
    let cat = scene.customer.access.as_str();
    let harbour = text(&physical(&app, &scene.ana.user.access, "Harbour", 5_000, 2).await, "id");
    add_to_cart(&app, cat, &harbour, 1).await;
    let placed = checkout(&app, cat, Some(address())).await;
    let order_id = text(&placed["order"], "id");
    let url = text(&placed, "checkout_url");
    assert!(url.starts_with(&format!("{}/dev/checkout/", app.base)), "{url}");

    // The card is declined: payment_failed, the unit stays reserved, the page offers Pay again.
    let (status, _, html) = page(&app, reqwest::Method::POST, &format!("{url}/fail")).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("payment_failed"), "{html}");
    assert!(html.contains("/pay\""), "{html}");
    let failed = order(&app, cat, &order_id).await;
    assert_eq!(failed["status"], "payment_failed");
    assert!(failed["paid_at"].is_null());
    assert_eq!(stock(&app, &harbour).await, Some(1));
    assert_eq!(email_count(&app, &scene.admin.access, "order_confirmation").await, 0);
    assert_eq!(balance(&app, &scene.ana.user.access).await, (0, 0));

    // Then it goes through.
    let (status, _, _) = page(&app, reqwest::Method::POST, &format!("{url}/pay")).await;
    assert_eq!(status, 200);
    let paid = order(&app, cat, &order_id).await;
    assert_eq!(paid["status"], "paid");
    assert!(paid["paid_at"].is_string());
    assert_eq!(email_count(&app, &scene.admin.access, "order_confirmation").await, 1);
    assert_eq!(balance(&app, &scene.ana.user.access).await, (4_500, 0));

    // The admin's refund goes through the dev provider too.
    let refunded = app
        .post(&format!("/admin/orders/{order_id}/refund"), Some(&scene.admin.access), json!({}))
        .await
        .expect(200)
        .body;
    assert_eq!(refunded["status"], "refunded");
    assert_eq!(balance(&app, &scene.ana.user.access).await, (0, 0));
    assert_eq!(stock(&app, &harbour).await, Some(2));
}

#[test]
fn the_dev_provider_is_refused_in_production() {
    let dir = tempfile::tempdir().unwrap();
    let vars: HashMap<String, String> = [
        ("KALAVPP_ENV", "production"),
        ("KALAVPP_DATA_DIR", dir.path().to_str().unwrap()),
        ("DATABASE_URL", "postgres://kalavpp@db.internal/kalavpp"),
        ("JWT_SECRET", crate::helpers::JWT_SECRET),
        ("JWT_REFRESH_SECRET", crate::helpers::JWT_REFRESH_SECRET),
        ("CORS_ORIGIN", "https://shop.example.com"),
        ("BACKEND_URL", "https://api.example.com"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let problems = kalavpp_server::settings::load(&vars, false).expect_err("production without Stripe is refused");
    assert!(problems.iter().any(|p| p.starts_with("STRIPE_SECRET_KEY")), "{problems:?}");
}
