//! The seed's admin flow: dashboard statistics → approve vendor → manage users → all orders →
//! analytics → pay out, with every mutation checked in the audit log; and function-level
//! authorization: every `/admin` route of the OpenAPI document refuses customers and vendors with
//! `403` and anonymous callers with `401`, whatever they send.

use serde_json::{Value, json};

use crate::catalog_support::{UNKNOWN_ID, add_image, approved_shop, delete, png_rgb, text};
use crate::helpers::{TestApp, on_both_backends};
use crate::payment_support::{Scene, add_to_cart, address, asset_bytes, attach_asset, checkout, digital, email_count, physical};
use crate::vendor_dashboard::pay;

on_both_backends!(
    admin_runs_the_marketplace,
    every_admin_route_refuses_non_admins,
    analytics_validate_their_window,
    every_admin_mutation_writes_one_audit_row,
    payouts_resist_self_dealing_and_refunds,
);

fn commission(cents: i64, bps: i64) -> i64 {
    (cents * bps + 5_000).div_euclid(10_000)
}

async fn audit(app: &TestApp, admin: &str, action: &str) -> Vec<Value> {
    let reply = app.get(&format!("/admin/audit-log?action={action}"), Some(admin)).await.expect(200);
    reply.body["items"].as_array().expect("items").clone()
}

async fn admin_runs_the_marketplace(app: TestApp) {
    let Scene { admin, ana, bo, customer } = Scene::new(&app).await;
    let a = admin.access.as_str();

    // Dashboard statistics.
    let stats = app.get("/admin/stats", Some(a)).await.expect(200).body;
    assert_eq!(stats["users"]["total"], 4, "{stats}");
    assert_eq!(stats["users"]["customers"], 1);
    assert_eq!(stats["users"]["vendors"], 2);
    assert_eq!(stats["users"]["admins"], 1);
    assert_eq!(stats["users"]["new_last_30d"], 4);
    assert_eq!(
        stats["vendors"],
        json!({"pending": 0, "approved": 2, "rejected": 0, "suspended": 0})
    );
    assert_eq!(stats["orders"]["total"], 0);
    assert_eq!(stats["gmv_cents"], 0);
    assert_eq!(stats["payouts"]["requested_cents"], 0);

    // A new applicant, approved from the dashboard.
    let dana = app.register("dana@example.com").await;
    let application = app
        .post("/vendors/apply", Some(&dana.access), json!({"shop_name": "Dana Draws"}))
        .await
        .expect(201)
        .body;
    let stats = app.get("/admin/stats", Some(a)).await.expect(200).body;
    assert_eq!(stats["vendors"]["pending"], 1);
    let pending = app.get("/admin/vendors?status=pending", Some(a)).await.expect(200).body;
    assert_eq!(pending["total"], 1);
    assert_eq!(pending["items"][0]["id"], application["id"]);
    app.get("/admin/vendors?status=sleeping", Some(a)).await.expect(422);
    let vendor_id = text(&application, "id");
    app.post(&format!("/admin/vendors/{vendor_id}/approve"), Some(a), json!({}))
        .await
        .expect(200);
    let stats = app.get("/admin/stats", Some(a)).await.expect(200).body;
    assert_eq!(stats["vendors"]["pending"], 0);
    assert_eq!(stats["vendors"]["approved"], 3);
    assert_eq!(stats["users"]["vendors"], 3);
    let rows = audit(&app, a, "vendor.approve").await;
    assert!(
        rows.iter()
            .any(|r| r["target_id"] == vendor_id.as_str() && r["actor_id"] == admin.id.as_str()),
        "{rows:?}"
    );

    // Manage users: find and suspend a troublemaker.
    let troll = app.register("troll@example.com").await;
    let found = app.get("/admin/users?q=troll", Some(a)).await.expect(200).body;
    assert_eq!(found["total"], 1);
    app.patch(&format!("/admin/users/{}", troll.id), Some(a), json!({"status": "suspended"}))
        .await
        .expect(200);
    app.get("/auth/me", Some(&troll.access)).await.expect(403);
    let rows = audit(&app, a, "user.update").await;
    assert!(rows.iter().any(|r| r["target_id"] == troll.id.as_str()), "{rows:?}");

    // Sales happen.
    let harbour = text(&physical(&app, &ana.user.access, "Harbour at dawn", 20_000, 5).await, "id");
    let brushes = text(&digital(&app, &bo.user.access, "Brush pack", 3_000).await, "id");
    attach_asset(&app, &bo.user.access, &brushes, "brushes.zip", asset_bytes(100)).await;
    add_to_cart(&app, &customer.access, &harbour, 1).await;
    add_to_cart(&app, &customer.access, &brushes, 2).await;
    let placed = checkout(&app, &customer.access, Some(address())).await;
    pay(&app, &placed).await;
    add_to_cart(&app, &customer.access, &harbour, 1).await;
    checkout(&app, &customer.access, Some(address())).await;

    // All orders.
    let orders = app.get("/admin/orders", Some(a)).await.expect(200).body;
    assert_eq!(orders["total"], 2);
    let paid = app.get("/admin/orders?status=paid", Some(a)).await.expect(200).body;
    assert_eq!(paid["total"], 1);
    let order_id = text(&placed["order"], "id");
    assert_eq!(paid["items"][0]["id"], order_id.as_str());
    let by_vendor = app.get(&format!("/admin/orders?vendor={}", bo.id), Some(a)).await.expect(200).body;
    assert_eq!(by_vendor["total"], 1);
    let full = app.get(&format!("/admin/orders/{order_id}"), Some(a)).await.expect(200).body;
    assert_eq!(full["items"].as_array().unwrap().len(), 2);

    // Statistics agree with the orders to the cent.
    let gmv = 20_000 + 2 * 3_000;
    let fee = commission(20_000, 1_000) + commission(6_000, 1_000);
    let stats = app.get("/admin/stats", Some(a)).await.expect(200).body;
    assert_eq!(stats["orders"]["total"], 2);
    assert_eq!(stats["orders"]["paid"], 1);
    assert_eq!(stats["orders"]["pending_payment"], 1);
    assert_eq!(stats["gmv_cents"], gmv);
    assert_eq!(stats["commission_cents"], fee);
    assert_eq!(stats["products"]["published"], 2);

    // Analytics: today carries the paid order; the rankings name who sold what.
    let analytics = app.get("/admin/analytics", Some(a)).await.expect(200).body;
    let series = analytics["series"].as_array().unwrap();
    assert_eq!(series.len(), 30, "{analytics}");
    let today = series.last().unwrap();
    assert_eq!(today["period"], chrono::Utc::now().date_naive().to_string());
    assert_eq!(today["orders"], 1);
    assert_eq!(today["gmv_cents"], gmv);
    assert_eq!(today["commission_cents"], fee);
    assert_eq!(today["new_users"], 6, "ana, bo, the customer, the admin, dana and the troll");
    assert_eq!(analytics["top_vendors"][0]["vendor_id"], ana.id.as_str());
    assert_eq!(analytics["top_vendors"][0]["gmv_cents"], 20_000);
    assert_eq!(analytics["top_vendors"][1]["vendor_id"], bo.id.as_str());
    assert_eq!(analytics["top_products"][0]["product_id"], harbour.as_str());
    assert_eq!(analytics["top_products"][1]["units_sold"], 2);
    let categories: Vec<_> = analytics["top_categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].clone())
        .collect();
    assert_eq!(categories.len(), 2, "{analytics}");
    let monthly = app.get("/admin/analytics?interval=month", Some(a)).await.expect(200).body;
    let months = monthly["series"].as_array().unwrap();
    assert!(!months.is_empty() && months.len() <= 2, "{monthly}");
    assert_eq!(months.last().unwrap()["gmv_cents"], gmv);
    let weekly = app.get("/admin/analytics?interval=week", Some(a)).await.expect(200).body;
    let weeks = weekly["series"].as_array().unwrap();
    assert_eq!(weeks.iter().map(|w| w["orders"].as_i64().unwrap()).sum::<i64>(), 1);
    let yesterday = chrono::Utc::now().date_naive().pred_opt().unwrap();
    let long_ago = yesterday - chrono::Days::new(300);
    let before = app
        .get(&format!("/admin/analytics?from={long_ago}&to={yesterday}"), Some(a))
        .await
        .expect(200)
        .body;
    assert!(before["series"].as_array().unwrap().iter().all(|p| p["orders"] == 0));
    assert!(before["top_vendors"].as_array().unwrap().is_empty());

    // Pay out: Bo's brushes money is available at once.
    let bo_available = 6_000 - commission(6_000, 1_000);
    let first = app
        .post("/vendor/payouts", Some(&bo.user.access), json!({"amount_cents": 2_000}))
        .await
        .expect(201)
        .body;
    let second = app
        .post("/vendor/payouts", Some(&bo.user.access), json!({"amount_cents": 1_000}))
        .await
        .expect(201)
        .body;
    let (first_id, second_id) = (text(&first, "id"), text(&second, "id"));
    let requested = app.get("/admin/payouts?status=requested", Some(a)).await.expect(200).body;
    assert_eq!(requested["total"], 2);
    assert_eq!(
        app.get("/admin/stats", Some(a)).await.expect(200).body["payouts"]["requested_cents"],
        3_000
    );
    app.get("/admin/payouts?status=lost", Some(a)).await.expect(422);

    // Paying needs an approval first; then it is paid once.
    app.post(
        &format!("/admin/payouts/{first_id}/mark-paid"),
        Some(a),
        json!({"reference": "SEPA-1"}),
    )
    .await
    .expect_problem(409, "invalid_payout_transition");
    let approved = app
        .post(&format!("/admin/payouts/{first_id}/approve"), Some(a), json!({}))
        .await
        .expect(200)
        .body;
    assert_eq!(approved["status"], "approved");
    app.post(&format!("/admin/payouts/{first_id}/approve"), Some(a), json!({}))
        .await
        .expect(409);
    app.post(&format!("/admin/payouts/{first_id}/mark-paid"), Some(a), json!({"reference": "  "}))
        .await
        .expect(422);
    app.post(&format!("/admin/payouts/{first_id}/mark-paid"), Some(a), json!({}))
        .await
        .expect(422);
    let paid = app
        .post(
            &format!("/admin/payouts/{first_id}/mark-paid"),
            Some(a),
            json!({"reference": "SEPA-1"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["reference"], "SEPA-1");
    assert!(paid["paid_at"].is_string());
    app.post(
        &format!("/admin/payouts/{first_id}/mark-paid"),
        Some(a),
        json!({"reference": "SEPA-1"}),
    )
    .await
    .expect_problem(409, "invalid_payout_transition");
    app.post(&format!("/admin/payouts/{first_id}/reject"), Some(a), json!({"reason": "too late"}))
        .await
        .expect(409);

    // The other one is rejected: its money is available again.
    app.post(&format!("/admin/payouts/{second_id}/reject"), Some(a), json!({"reason": ""}))
        .await
        .expect(422);
    let rejected = app
        .post(
            &format!("/admin/payouts/{second_id}/reject"),
            Some(a),
            json!({"reason": "Bank details missing"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["rejection_reason"], "Bank details missing");
    let balance = app.get("/vendor/earnings", Some(&bo.user.access)).await.expect(200).body["balance"].clone();
    assert_eq!(balance["available_cents"], bo_available - 2_000);
    assert_eq!(balance["held_cents"], 0);
    assert_eq!(balance["paid_out_cents"], 2_000);
    let bo_stats = app.get("/vendor/stats", Some(&bo.user.access)).await.expect(200).body;
    assert_eq!(bo_stats["balance"]["paid_out_cents"], 2_000);
    let stats = app.get("/admin/stats", Some(a)).await.expect(200).body;
    assert_eq!(
        stats["payouts"],
        json!({"requested_cents": 0, "approved_cents": 0, "paid_cents": 2_000})
    );

    // Unknown or malformed ids.
    app.post(&format!("/admin/payouts/{UNKNOWN_ID}/approve"), Some(a), json!({}))
        .await
        .expect_problem(404, "payout_not_found");
    app.post("/admin/payouts/not-an-id/approve", Some(a), json!({})).await.expect(404);
    app.get(&format!("/admin/payouts/{first_id}"), Some(a)).await.expect(200);

    // Every decision is audited with its actor and what changed, and mailed to the vendor.
    let approve_rows = audit(&app, a, "payout.approve").await;
    assert_eq!(approve_rows.len(), 1);
    assert_eq!(approve_rows[0]["actor_id"], admin.id.as_str());
    assert_eq!(approve_rows[0]["target_type"], "payout");
    assert_eq!(approve_rows[0]["target_id"], first_id.as_str());
    assert_eq!(approve_rows[0]["details"]["amount_cents"], 2_000);
    let paid_rows = audit(&app, a, "payout.mark_paid").await;
    assert_eq!(paid_rows.len(), 1);
    assert_eq!(paid_rows[0]["details"]["reference"], "SEPA-1");
    let reject_rows = audit(&app, a, "payout.reject").await;
    assert_eq!(reject_rows[0]["details"]["reason"], "Bank details missing");
    for template in ["payout_requested", "payout_approved", "payout_paid", "payout_rejected"] {
        assert!(email_count(&app, a, template).await >= 1, "{template}");
    }

    // A refund comes out of the GMV and is audited too.
    app.post(&format!("/admin/orders/{order_id}/refund"), Some(a), json!({}))
        .await
        .expect(200);
    let stats = app.get("/admin/stats", Some(a)).await.expect(200).body;
    assert_eq!(stats["gmv_cents"], 0);
    assert_eq!(stats["orders"]["refunded"], 1);
    assert_eq!(audit(&app, a, "order.refund").await.len(), 1);
    let bo_balance = app.get("/vendor/earnings", Some(&bo.user.access)).await.expect(200).body["balance"].clone();
    assert_eq!(
        bo_balance["available_cents"].as_i64().unwrap(),
        -2_000,
        "money already paid out is owed back: {bo_balance}"
    );
}

/// A body that passes no route's validation, to prove the role is checked first.
fn junk() -> Value {
    json!({"role": "admin", "status": "paid", "unexpected": true})
}

async fn every_admin_route_refuses_non_admins(app: TestApp) {
    let admin = app.admin().await;
    let vendor = approved_shop(&app, &admin, "vera@example.com", "Vera Vases").await;
    let customer = app.register("carl@example.com").await;
    let document = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("openapi")
        .json::<Value>()
        .await
        .expect("json");
    let mut routes = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/v1/admin") {
            continue;
        }
        for method in ["get", "post", "patch", "put", "delete"] {
            if item.get(method).is_some() {
                let concrete = path
                    .split('/')
                    .map(|segment| if segment.starts_with('{') { UNKNOWN_ID } else { segment })
                    .collect::<Vec<_>>()
                    .join("/");
                routes.push((method.to_uppercase(), concrete.trim_start_matches("/api/v1").to_owned()));
            }
        }
    }
    for expected in [
        ("GET", "/admin/stats"),
        ("GET", "/admin/analytics"),
        ("GET", "/admin/users"),
        ("PATCH", "/admin/users/{}"),
        ("GET", "/admin/vendors"),
        ("POST", "/admin/vendors/{}/approve"),
        ("GET", "/admin/orders"),
        ("POST", "/admin/orders/{}/refund"),
        ("GET", "/admin/payouts"),
        ("POST", "/admin/payouts/{}/mark-paid"),
        ("POST", "/admin/categories"),
        ("GET", "/admin/audit-log"),
        ("GET", "/admin/emails"),
    ] {
        let path = expected.1.replace("{}", UNKNOWN_ID);
        assert!(
            routes.iter().any(|(m, p)| m == expected.0 && *p == path),
            "{expected:?} in {routes:?}"
        );
    }
    let audit_before = app.get("/admin/audit-log", Some(&admin.access)).await.expect(200).body["total"].clone();
    for (method, path) in &routes {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let body = (method != reqwest::Method::GET).then(junk);
        let anonymous = app.call(method.clone(), path, None, body.clone()).await;
        assert_eq!(anonymous.status.as_u16(), 401, "anonymous {method} {path}: {}", anonymous.body);
        let forged = app.call(method.clone(), path, Some("not.a.token"), body.clone()).await;
        assert_eq!(forged.status.as_u16(), 401, "forged token {method} {path}");
        for (who, token) in [("customer", &customer.access), ("vendor", &vendor.user.access)] {
            let reply = app.call(method.clone(), path, Some(token), body.clone()).await;
            assert_eq!(reply.status.as_u16(), 403, "{who} {method} {path}: {}", reply.body);
            assert_eq!(
                reply.headers.get("content-type").and_then(|v| v.to_str().ok()),
                Some("application/problem+json"),
                "{who} {method} {path}"
            );
        }
    }
    let audit_after = app.get("/admin/audit-log", Some(&admin.access)).await.expect(200).body["total"].clone();
    assert_eq!(audit_before, audit_after, "no refused call changed anything");
    // The vendor's and customer's own roles are untouched.
    assert_eq!(
        app.get("/auth/me", Some(&customer.access)).await.expect(200).body["role"],
        "customer"
    );
    assert_eq!(
        app.get("/auth/me", Some(&vendor.user.access)).await.expect(200).body["role"],
        "vendor"
    );
}

async fn analytics_validate_their_window(app: TestApp) {
    let admin = app.admin().await;
    let a = admin.access.as_str();
    for (query, field) in [
        ("interval=hour", "interval"),
        ("from=yesterday", "from"),
        ("to=2026-13-01", "to"),
        ("from=2026-02-01&to=2026-01-01", "from"),
        ("from=2020-01-01&to=2026-01-01", "from"),
    ] {
        let reply = app.get(&format!("/admin/analytics?{query}"), Some(a)).await.expect(422);
        assert_eq!(reply.code(), "validation_failed", "{query}");
        assert_eq!(reply.fields(), vec![field], "{query}: {}", reply.body);
    }
    // Long windows are fine with a longer interval.
    let months = app
        .get("/admin/analytics?from=2020-01-01&to=2026-01-31&interval=month", Some(a))
        .await
        .expect(200)
        .body;
    assert_eq!(months["series"].as_array().unwrap().len(), 73);
    assert_eq!(months["series"][0]["period"], "2020-01");
    let weeks = app
        .get("/admin/analytics?from=2026-11-01&to=2026-11-30&interval=week", Some(a))
        .await
        .expect(200)
        .body;
    let periods: Vec<_> = weeks["series"].as_array().unwrap().iter().map(|p| p["period"].clone()).collect();
    assert_eq!(periods.first(), Some(&json!("2026-10-26")), "weeks start on Monday");
    assert_eq!(periods.len(), 6);
    let days = app
        .get("/admin/analytics?from=2026-03-01T00:00:00Z&to=2026-03-03", Some(a))
        .await
        .expect(200)
        .body;
    assert_eq!(days["series"].as_array().unwrap().len(), 3);
    assert_eq!(days["interval"], "day");
}

async fn every_admin_mutation_writes_one_audit_row(app: TestApp) {
    let admin = app.admin().await;
    let a = admin.access.as_str();
    let shop = approved_shop(&app, &admin, "ivo@example.com", "Ivo Inks").await;
    let customer = app.register("uma@example.com").await;
    let product = physical(&app, &shop.user.access, "Ink study", 4_000, 2).await;
    let product_id = text(&product, "id");
    let image = add_image(&app, &product_id, &shop.user.access, png_rgb(40, 30)).await;
    let image_id = text(&image, "id");
    let before = app.get("/admin/audit-log?per_page=100", Some(a)).await.expect(200).body["total"]
        .as_i64()
        .unwrap();

    let category = app
        .post("/admin/categories", Some(a), json!({"name": "Ink"}))
        .await
        .expect(201)
        .body;
    let category_id = text(&category, "id");
    let steps: Vec<(&str, String)> = vec![
        ("category.create", category_id.clone()),
        ("category.update", category_id.clone()),
        ("category.delete", category_id.clone()),
        ("user.update", customer.id.clone()),
        ("vendor.set_commission", shop.id.clone()),
        ("vendor.suspend", shop.id.clone()),
        ("vendor.reinstate", shop.id.clone()),
        ("product.update", product_id.clone()),
        ("product.image_delete", product_id.clone()),
        ("product.archive", product_id.clone()),
    ];
    app.patch(&format!("/admin/categories/{category_id}"), Some(a), json!({"name": "Inks"}))
        .await
        .expect(200);
    delete(&app, &format!("/admin/categories/{category_id}"), Some(a)).await.expect(204);
    app.patch(&format!("/admin/users/{}", customer.id), Some(a), json!({"status": "suspended"}))
        .await
        .expect(200);
    app.patch(&format!("/admin/vendors/{}", shop.id), Some(a), json!({"commission_bps": 800}))
        .await
        .expect(200);
    app.post(&format!("/admin/vendors/{}/suspend", shop.id), Some(a), json!({}))
        .await
        .expect(200);
    app.post(&format!("/admin/vendors/{}/reinstate", shop.id), Some(a), json!({}))
        .await
        .expect(200);
    app.patch(
        &format!("/products/{product_id}"),
        Some(a),
        json!({"title": "Ink study (retitled)"}),
    )
    .await
    .expect(200);
    delete(&app, &format!("/products/{product_id}/images/{image_id}"), Some(a))
        .await
        .expect(204);
    delete(&app, &format!("/products/{product_id}"), Some(a)).await.expect(204);

    let log = app.get("/admin/audit-log?per_page=100", Some(a)).await.expect(200).body;
    assert_eq!(log["total"].as_i64().unwrap(), before + steps.len() as i64, "{log}");
    let rows = log["items"].as_array().unwrap();
    for (action, target) in &steps {
        let matching: Vec<_> = rows
            .iter()
            .filter(|r| r["action"] == *action && r["target_id"] == target.as_str())
            .collect();
        assert_eq!(matching.len(), 1, "{action} on {target}: {log}");
        assert_eq!(matching[0]["actor_id"], admin.id.as_str(), "{action}");
        assert!(matching[0]["details"].is_object(), "{action}");
        assert!(matching[0]["at"].is_string(), "{action}");
    }
    // Filters: by actor, by action, by time.
    let mine = app
        .get(&format!("/admin/audit-log?actor={}", admin.id), Some(a))
        .await
        .expect(200)
        .body;
    assert!(mine["total"].as_i64().unwrap() >= steps.len() as i64);
    let one = app.get("/admin/audit-log?action=vendor.suspend", Some(a)).await.expect(200).body;
    assert_eq!(one["total"], 1);
    let tomorrow = chrono::Utc::now().date_naive().succ_opt().unwrap();
    let none = app
        .get(&format!("/admin/audit-log?from={tomorrow}"), Some(a))
        .await
        .expect(200)
        .body;
    assert_eq!(none["total"], 0);

    // The vendor's own edits are not admin mutations and are not audited.
    let own = physical(&app, &shop.user.access, "Own edit", 1_000, 1).await;
    app.patch(
        &format!("/products/{}", text(&own, "id")),
        Some(&shop.user.access),
        json!({"title": "Own edit 2"}),
    )
    .await
    .expect(200);
    let after = app.get("/admin/audit-log", Some(a)).await.expect(200).body["total"]
        .as_i64()
        .unwrap();
    assert_eq!(after, before + steps.len() as i64);
}

async fn payouts_resist_self_dealing_and_refunds(app: TestApp) {
    let Scene { admin, ana, bo, customer } = Scene::new(&app).await;
    let a = admin.access.as_str();
    let sell = |vendor: &str, title: &str| {
        let (app, vendor, title) = (&app, vendor.to_owned(), title.to_owned());
        let cat = customer.access.clone();
        async move {
            let work = text(&digital(app, &vendor, &title, 10_000).await, "id");
            attach_asset(app, &vendor, &work, "work.zip", asset_bytes(100)).await;
            add_to_cart(app, &cat, &work, 1).await;
            let placed = checkout(app, &cat, None).await;
            pay(app, &placed).await;
            text(&placed["order"], "id")
        }
    };
    let ana_order = sell(&ana.user.access, "Ana study").await;
    sell(&bo.user.access, "Bo study").await;

    // Ana asks for a payout, then an admin makes her an admin too.
    let pending = app
        .post("/vendor/payouts", Some(&ana.user.access), json!({"amount_cents": 5_000}))
        .await
        .expect(201)
        .body;
    let pending_id = text(&pending, "id");
    app.patch(&format!("/admin/users/{}", ana.user.id), Some(a), json!({"role": "admin"}))
        .await
        .expect(200);
    // As an admin she can neither draw more money nor decide on her own shop's payout.
    app.post("/vendor/payouts", Some(&ana.user.access), json!({"amount_cents": 1_000}))
        .await
        .expect_problem(403, "vendor_only");
    app.post(&format!("/admin/payouts/{pending_id}/approve"), Some(&ana.user.access), json!({}))
        .await
        .expect_problem(403, "own_payout");
    app.post(
        &format!("/admin/payouts/{pending_id}/reject"),
        Some(&ana.user.access),
        json!({"reason": "mine"}),
    )
    .await
    .expect_problem(403, "own_payout");
    assert_eq!(
        app.get(&format!("/admin/payouts/{pending_id}"), Some(a)).await.expect(200).body["status"],
        "requested"
    );
    // But she may decide on Bo's.
    let bo_payout = app
        .post("/vendor/payouts", Some(&bo.user.access), json!({"amount_cents": 2_000}))
        .await
        .expect(201)
        .body;
    app.post(
        &format!("/admin/payouts/{}/approve", text(&bo_payout, "id")),
        Some(&ana.user.access),
        json!({}),
    )
    .await
    .expect(200);

    // A refund after the request leaves Ana owing money: the held payout cannot go out.
    app.post(&format!("/admin/orders/{ana_order}/refund"), Some(a), json!({}))
        .await
        .expect(200);
    app.post(&format!("/admin/payouts/{pending_id}/approve"), Some(a), json!({}))
        .await
        .expect_problem(409, "negative_balance");
    let rejected = app
        .post(
            &format!("/admin/payouts/{pending_id}/reject"),
            Some(a),
            json!({"reason": "sale refunded"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(rejected["status"], "rejected");
    let ana_again = app
        .post(
            "/auth/login",
            None,
            json!({"email": "ana@example.com", "password": crate::helpers::PASSWORD}),
        )
        .await;
    let token = text(&ana_again.expect(200).body, "access_token");
    let balance = app.get("/admin/stats", Some(&token)).await.expect(200).body;
    assert_eq!(balance["payouts"]["paid_cents"], 0, "nothing was paid out");
}
