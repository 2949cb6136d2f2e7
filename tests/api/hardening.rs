//! Sessions and roles that hold: an access token dies with its session, a demoted vendor stops
//! selling at once, vendors see only their own money and no address before payment, one
//! customer cannot hold a shop's stock hostage, and password checks are rate limited.

use serde_json::{Value, json};

use crate::catalog_support::{approved_shop, create_product, painting, text};
use crate::helpers::{PASSWORD, TestApp, on_both_backends, spawn_app};
use crate::payment_support::{Scene, add_to_cart, address, checkout, digital};

on_both_backends!(
    access_tokens_die_with_their_session,
    a_demoted_vendor_stops_selling_at_once,
    vendors_see_their_own_lines_and_no_address_before_payment,
    one_customer_holds_at_most_five_unpaid_orders,
);

async fn me(app: &TestApp, access: &str) -> u16 {
    app.get("/auth/me", Some(access)).await.status.as_u16()
}

async fn access_tokens_die_with_their_session(app: TestApp) {
    // Logout ends the session and its access token.
    let first = app.register("ada@example.com").await;
    assert_eq!(me(&app, &first.access).await, 200);
    app.post("/auth/logout", None, json!({"refresh_token": first.refresh}))
        .await
        .expect(204);
    assert_eq!(me(&app, &first.access).await, 401, "logged out");

    // A password change keeps the session that made it and ends the others.
    let here = crate::helpers::session_from(&app.login("ada@example.com", PASSWORD).await.expect(200).body);
    let there = crate::helpers::session_from(&app.login("ada@example.com", PASSWORD).await.expect(200).body);
    app.patch(
        "/auth/me",
        Some(&here.access),
        json!({"current_password": PASSWORD, "new_password": "a brand new passphrase"}),
    )
    .await
    .expect(200);
    assert_eq!(me(&app, &here.access).await, 200);
    assert_eq!(me(&app, &there.access).await, 401, "other session ended");

    // A replayed refresh token revokes its session: the access token of the rotation dies too.
    let rotated = app
        .post("/auth/refresh", None, json!({"refresh_token": here.refresh}))
        .await
        .expect(200)
        .body;
    let new_access = rotated["access_token"].as_str().unwrap().to_owned();
    assert_eq!(me(&app, &new_access).await, 200);
    app.post("/auth/refresh", None, json!({"refresh_token": here.refresh}))
        .await
        .expect(401);
    assert_eq!(me(&app, &new_access).await, 401, "reuse revoked the session");

    // Suspension ends every session.
    let admin = app.admin().await;
    let bob = app.register("bob@example.com").await;
    app.patch(
        &format!("/admin/users/{}", bob.id),
        Some(&admin.access),
        json!({"status": "suspended"}),
    )
    .await
    .expect(200);
    app.patch(
        &format!("/admin/users/{}", bob.id),
        Some(&admin.access),
        json!({"status": "active"}),
    )
    .await
    .expect(200);
    assert_eq!(me(&app, &bob.access).await, 401, "reactivation does not revive old sessions");
}

async fn a_demoted_vendor_stops_selling_at_once(app: TestApp) {
    let admin = app.admin().await;
    let shop = approved_shop(&app, &admin, "vera@example.com", "Vera Studio").await;
    let work = create_product(&app, &shop.user.access, painting("Quiet field", 40_000)).await;
    let id = text(&work, "id");
    app.patch(
        &format!("/products/{id}"),
        Some(&shop.user.access),
        json!({"title": "Quiet field II"}),
    )
    .await
    .expect(200);
    // Demoted to customer with the same, still valid, access token.
    app.patch(
        &format!("/admin/users/{}", shop.user.id),
        Some(&admin.access),
        json!({"role": "customer"}),
    )
    .await
    .expect(200);
    let token = shop.user.access.as_str();
    app.patch(&format!("/products/{id}"), Some(token), json!({"title": "Mine still"}))
        .await
        .expect_problem(403, "vendor_only");
    app.call(reqwest::Method::DELETE, &format!("/products/{id}"), Some(token), None)
        .await
        .expect(403);
    app.post("/products", Some(token), painting("Another", 1_000)).await.expect(403);
    app.get("/vendor/orders", Some(token)).await.expect(403);
    let seen = app.get(&format!("/products/{id}"), Some(&admin.access)).await.expect(200).body;
    assert_eq!(
        (&seen["title"], &seen["status"]),
        (&json!("Quiet field II"), &json!("draft")),
        "nothing changed"
    );
}

async fn vendors_see_their_own_lines_and_no_address_before_payment(app: TestApp) {
    let scene = Scene::new(&app).await;
    let harbour = text(
        &crate::payment_support::physical(&app, &scene.ana.user.access, "Harbour", 12_345, 2).await,
        "id",
    );
    let brushes = text(&digital(&app, &scene.bo.user.access, "Brushes", 1_999).await, "id");
    let cat = scene.customer.access.as_str();
    add_to_cart(&app, cat, &harbour, 1).await;
    add_to_cart(&app, cat, &brushes, 1).await;
    let placed = checkout(&app, cat, Some(address())).await["order"].clone();
    let ana_view = |body: &Value| body["items"][0].clone();
    let listed = app.get("/vendor/orders", Some(&scene.ana.user.access)).await.expect(200).body;
    let unpaid = ana_view(&listed);
    assert_eq!(unpaid["status"], "pending_payment");
    assert_eq!(unpaid["shipping_address"], Value::Null, "no address for an unpaid reservation");
    assert_eq!(unpaid["payment_session_id"], Value::Null);
    assert_eq!(unpaid["total_cents"], 12_345, "Ana's line only, not Bo's");
    assert_eq!(unpaid["subtotal_cents"], 12_345);
    assert_eq!(unpaid["items"].as_array().unwrap().len(), 1);

    let session = text(&placed, "payment_session_id");
    app.market
        .orders()
        .apply_event(kalavpp_core::payments::PaymentEvent {
            event_id: "evt_paid".into(),
            kind: kalavpp_core::payments::PaymentEventKind::Succeeded,
            session_id: Some(session),
            payment_intent_id: Some("pi_1".into()),
            order_id: None,
            amount_cents: placed["total_cents"].as_i64(),
            currency: Some("usd".into()),
        })
        .await
        .expect("paid");
    let paid = ana_view(&app.get("/vendor/orders", Some(&scene.ana.user.access)).await.expect(200).body);
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["shipping_address"]["city"], address()["city"], "the address once paid");
    assert_eq!(paid["payment_session_id"], Value::Null);
    let bo = ana_view(&app.get("/vendor/orders", Some(&scene.bo.user.access)).await.expect(200).body);
    assert_eq!(bo["total_cents"], 1_999);
}

async fn one_customer_holds_at_most_five_unpaid_orders(app: TestApp) {
    let scene = Scene::new(&app).await;
    let print = text(&digital(&app, &scene.ana.user.access, "Print", 1_000).await, "id");
    let cat = scene.customer.access.as_str();
    let mut orders = Vec::new();
    for _ in 0..5 {
        add_to_cart(&app, cat, &print, 1).await;
        orders.push(checkout(&app, cat, None).await["order"]["id"].as_str().unwrap().to_owned());
    }
    add_to_cart(&app, cat, &print, 1).await;
    app.post("/checkout", Some(cat), json!({}))
        .await
        .expect_problem(409, "too_many_unpaid_orders");
    let cart = app.get("/cart", Some(cat)).await.expect(200).body;
    assert_eq!(cart["items"].as_array().unwrap().len(), 1, "the cart is kept: {cart}");
    app.post(&format!("/orders/{}/cancel", orders[0]), Some(cat), json!({}))
        .await
        .expect(200);
    app.post("/checkout", Some(cat), json!({})).await.expect(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_checks_in_patch_me_are_rate_limited() {
    let app = spawn_app(crate::helpers::Backend::Sqlite, &[("AUTH_RATE_LIMIT_MAX_REQUESTS", "5")])
        .await
        .expect("app");
    let user = app.register("guess@example.com").await;
    // Registration took one of the five; reading the account is not limited.
    for _ in 0..10 {
        app.get("/auth/me", Some(&user.access)).await.expect(200);
    }
    let guess = |n: usize| json!({"current_password": format!("guess number {n}"), "new_password": "whatever it takes"});
    for n in 0..4 {
        app.patch("/auth/me", Some(&user.access), guess(n)).await.expect(422);
    }
    app.patch("/auth/me", Some(&user.access), guess(9)).await.expect(429);
}

/// The bytes a cache reports on `/metrics` (`kalavpp_cache_bytes{cache="..."}`).
async fn cache_bytes(app: &TestApp, cache: &str) -> f64 {
    let text = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let prefix = format!("kalavpp_cache_bytes{{cache=\"{cache}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_distinct_anonymous_queries_stay_within_the_cache_budget() {
    let budget = 1024 * 1024;
    let app = spawn_app(crate::helpers::Backend::Sqlite, &[("CACHE_MAX_BYTES", "1048576")])
        .await
        .expect("app");
    let admin = app.admin().await;
    let shop = approved_shop(&app, &admin, "big@example.com", "Big Catalogue").await;
    for n in 0..40 {
        let mut work = painting(&format!("Large study {n}"), 1_000 + n);
        work["description"] = json!("A long description of brush strokes. ".repeat(20));
        work["status"] = json!("published");
        create_product(&app, &shop.user.access, work).await;
    }
    // 1,200 distinct valid queries of ~20-40 KB each: ~40 MB if nothing bounded them.
    let sorts = ["newest", "price_asc", "price_desc", "rating", "popular"];
    for n in 0..1_200usize {
        let path = format!(
            "/products?per_page={}&sort={}&min_price={}&junk{n}=x",
            60 + n % 41,
            sorts[n % 5],
            n / 123
        );
        app.get(&path, None).await.expect(200);
    }
    // Junk parameters, their order and spelling make no new entries.
    let before = cache_bytes(&app, "responses").await;
    for n in 0..300 {
        app.get(&format!("/products?zz{n}=1&sort=newest&per_page=20&q=%20&aa{n}=2"), None)
            .await
            .expect(200);
    }
    let after = cache_bytes(&app, "responses").await;
    assert!(after - before < 64.0 * 1024.0, "junk made new entries: {before} -> {after}");
    let responses = cache_bytes(&app, "responses").await;
    let catalog = cache_bytes(&app, "catalog").await;
    assert!(responses <= f64::from(budget / 4), "response cache holds {responses} bytes");
    assert!(cache_bytes(&app, "pages").await <= f64::from(budget / 4));
    assert!(catalog <= f64::from(budget / 2), "catalog caches hold {catalog} bytes");
    assert!(responses > 64.0 * 1024.0, "the cache is in use: {responses}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_asset_upload_cut_short_leaves_no_temporary_file() {
    let app = spawn_app(crate::helpers::Backend::Sqlite, &[]).await.expect("app");
    let admin = app.admin().await;
    let shop = approved_shop(&app, &admin, "dig@example.com", "Digital Den").await;
    let work = digital(&app, &shop.user.access, "Big download", 5_000).await;
    let id = text(&work, "id");
    // A multipart body that breaks off after 256 KiB, as a dropped connection would.
    let boundary = "kalavpp-test-boundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.zip\"\r\nContent-Type: application/zip\r\n\r\n"
    );
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = std::iter::once(Ok(head.into_bytes()))
        .chain((0..4).map(|_| Ok(vec![7u8; 64 * 1024])))
        .chain(std::iter::once(Err(std::io::Error::other("connection lost"))))
        .collect();
    let sent = app
        .client
        .post(format!("{}/api/v1/products/{id}/asset", app.base))
        .bearer_auth(&shop.user.access)
        .header("Content-Type", format!("multipart/form-data; boundary={boundary}"))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await;
    assert!(sent.is_err() || !sent.unwrap().status().is_success());
    let temp = app.market.config().data_dir.join("files").join("~tmp");
    let mut left = Vec::new();
    for _ in 0..50 {
        left = std::fs::read_dir(&temp)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(left.is_empty(), "temporary files left: {left:?}");
    let product = app.get(&format!("/products/{id}"), Some(&shop.user.access)).await.expect(200).body;
    assert_eq!(product["has_asset"], false, "{product}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digital_sale_waits_out_the_refund_window_before_it_can_be_paid_out() {
    let app = spawn_app(crate::helpers::Backend::Sqlite, &[("REFUND_WINDOW_DAYS", "14")])
        .await
        .expect("app");
    let scene = Scene::new(&app).await;
    let print = text(&digital(&app, &scene.ana.user.access, "Print", 10_000).await, "id");
    crate::payment_support::attach_asset(
        &app,
        &scene.ana.user.access,
        &print,
        "print.zip",
        crate::payment_support::asset_bytes(100),
    )
    .await;
    add_to_cart(&app, &scene.customer.access, &print, 1).await;
    let placed = checkout(&app, &scene.customer.access, None).await;
    crate::vendor_dashboard::pay(&app, &placed).await;
    let order = crate::payment_support::order(&app, &scene.customer.access, &text(&placed["order"], "id")).await;
    assert_eq!(order["status"], "completed", "an all-digital order is complete once delivered");
    let balance = crate::payment_support::earnings(&app, &scene.ana.user.access).await["balance"].clone();
    assert_eq!(
        (balance["pending_cents"].as_i64(), balance["available_cents"].as_i64()),
        (Some(9_000), Some(0)),
        "{balance}"
    );
    // Nothing to pay out yet, and the release job moves nothing before the window ends.
    app.post("/vendor/payouts", Some(&scene.ana.user.access), json!({"amount_cents": 100}))
        .await
        .expect(409);
    assert_eq!(app.market.orders().release_matured_sales().await.unwrap(), 0);
}
