//! The seed's admin flow in a real headless Chromium (issue 11): sign in → the dashboard with its
//! charts → approve a pending vendor → suspend and reactivate a user → all orders → refund an
//! order through its confirmation box → analytics → approve and mark a payout paid → categories →
//! find each action in the audit log → retry a failed email (and find that in the log too). axe-core runs on every page visited and every step leaves a
//! screenshot under `target/admin-e2e/<backend>/` (see [`crate::browser_support`]).
//!
//! The data is made through the REST API and the core services like a month of trading would
//! make it; only the dates of some orders and accounts are moved back in the database afterwards,
//! so the charts show a month rather than one day.

use fantoccini::Locator;
use serde_json::{Value, json};

use crate::browser_support::{Browser, backend_name, browser_available};
use crate::catalog_support::text;
use crate::helpers::{Backend, PASSWORD, TestApp};
use crate::payment_support::{Scene, add_to_cart, address, asset_bytes, attach_asset, checkout, digital, physical};
use crate::smtp_sink::{Mode, SmtpSink, with_smtp_sink};

with_smtp_sink!(admin_flow_in_chromium);

fn mail_settings(smtp_url: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("SMTP_URL", smtp_url),
        ("EMAIL_FROM", "shop@kalavpp.test"),
        ("MAIL_POLL_INTERVAL_MS", "50"),
        ("MAIL_MAX_ATTEMPTS", "2"),
        ("MAIL_RETRY_BASE_MS", "50"),
    ]
}

/// Waits (up to 15 s) until no email is queued or being sent.
async fn outbox_drained(app: &TestApp, admin: &str) {
    for _ in 0..300 {
        let mut busy = 0;
        for status in ["queued", "sending"] {
            busy += app
                .get(&format!("/admin/emails?status={status}"), Some(admin))
                .await
                .expect(200)
                .body["total"]
                .as_i64()
                .unwrap_or_default();
        }
        if busy == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the outbox never drained");
}

/// The id of the failed email to `recipient`, once it has failed (waits up to 15 s).
async fn failed_email(app: &TestApp, admin: &str, recipient: &str) -> String {
    for _ in 0..300 {
        let page = app
            .get(&format!("/admin/emails?recipient={recipient}&status=failed"), Some(admin))
            .await
            .expect(200)
            .body;
        if page["total"] == 1 {
            return text(&page["items"][0], "id");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the email to {recipient} never failed");
}

const ROOT_EMAIL: &str = "rosa@kalavpp.test";

/// Moves `columns` of row `id` in `table` back to `days` days ago (test data only: the services
/// stamp everything "now").
async fn backdate(app: &TestApp, table: &str, columns: &[&str], id: &str, days: i32) {
    match app.backend {
        Backend::Sqlite => {
            let path = app.database_url.trim_start_matches("sqlite://").to_owned();
            let at = (chrono::Utc::now() - chrono::Duration::days(i64::from(days)))
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string();
            let sql = format!(
                "UPDATE {table} SET {} WHERE id = ?2",
                columns.iter().map(|c| format!("{c} = ?1")).collect::<Vec<_>>().join(", ")
            );
            let id = id.to_owned();
            tokio::task::spawn_blocking(move || {
                let db = rusqlite::Connection::open(path).expect("open the SQLite file");
                db.busy_timeout(std::time::Duration::from_secs(5)).expect("busy timeout");
                assert_eq!(db.execute(&sql, rusqlite::params![at, id]).expect("backdate"), 1);
            })
            .await
            .expect("backdate task");
        }
        Backend::Postgres => {
            let (client, connection) = tokio_postgres::connect(&app.database_url, tokio_postgres::NoTls)
                .await
                .expect("connect to PostgreSQL");
            tokio::spawn(connection);
            let sql = format!(
                "UPDATE {table} SET {} WHERE id::text = $2",
                columns
                    .iter()
                    .map(|c| format!("{c} = now() - make_interval(days => $1)"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            assert_eq!(client.execute(&sql, &[&days, &id]).await.expect("backdate"), 1);
        }
    }
}

/// A paid order of `quantity` × `product` by `buyer`; returns the order.
async fn paid_order(app: &TestApp, buyer: &str, product: &str, quantity: i64) -> Value {
    add_to_cart(app, buyer, product, quantity).await;
    let placed = checkout(app, buyer, Some(address())).await;
    crate::vendor_dashboard::pay(app, &placed).await;
    placed["order"].clone()
}

async fn admin_flow_in_chromium(app: TestApp, sink: SmtpSink) {
    if !browser_available() {
        return;
    }
    // ---- a month of trading ----
    let Scene { admin, ana, bo, customer } = Scene::new(&app).await;
    let root = app
        .market
        .accounts()
        .create_admin(&kalavpp_core::auth::Actor::System, ROOT_EMAIL, PASSWORD, "Rosa Admin")
        .await
        .expect("create the admin");
    let root_id = root.id.to_string();
    let harbour = text(&physical(&app, &ana.user.access, "Harbour at dawn", 24_000, 50).await, "id");
    let tide = text(&physical(&app, &ana.user.access, "Low tide, Lisbon", 8_900, 50).await, "id");
    let vase = text(&physical(&app, &bo.user.access, "Celadon vase", 15_500, 50).await, "id");
    let plan: [(i32, &str, i64); 12] = [
        (28, &tide, 1),
        (25, &harbour, 1),
        (23, &vase, 2),
        (20, &tide, 2),
        (17, &harbour, 1),
        (15, &vase, 1),
        (12, &tide, 3),
        (10, &harbour, 2),
        (7, &vase, 1),
        (5, &harbour, 1),
        (3, &tide, 1),
        (1, &vase, 3),
    ];
    for (i, (days_ago, product, quantity)) in plan.iter().enumerate() {
        let buyer = app.register(&format!("buyer{i}@example.com")).await;
        backdate(&app, "users", &["created_at"], &buyer.id, *days_ago).await;
        let order = paid_order(&app, &buyer.access, product, *quantity).await;
        backdate(&app, "orders", &["created_at", "paid_at"], &text(&order, "id"), *days_ago).await;
    }
    // Today: the order to refund (Bo's) and one of Ana's.
    let refund_me = paid_order(&app, &customer.access, &vase, 1).await;
    paid_order(&app, &customer.access, &harbour, 1).await;
    // Ana's digital scan sells too (digital lines are earned at once, so she can ask for a payout).
    let scan = text(&digital(&app, &ana.user.access, "Harbour study (scan)", 40_000).await, "id");
    attach_asset(&app, &ana.user.access, &scan, "scan.zip", asset_bytes(256)).await;
    paid_order(&app, &customer.access, &scan, 1).await;
    // A pending application and a payout request.
    let dee = app.register("dee@example.com").await;
    let application = app
        .post(
            "/vendors/apply",
            Some(&dee.access),
            json!({"shop_name": "Dee Ceramics", "bio": "Stoneware from Porto."}),
        )
        .await
        .expect(201)
        .body;
    let dee_shop = text(&application, "id");
    let payout = app
        .post("/vendor/payouts", Some(&ana.user.access), json!({"amount_cents": 30_000}))
        .await
        .expect(201)
        .body;
    let payout_id = text(&payout, "id");
    // A welcome email the mail server refuses for good (two attempts), then the server recovers.
    outbox_drained(&app, &admin.access).await;
    sink.set_mode(Mode::Refuse(550));
    app.register("fay@example.com").await;
    let fay_email = failed_email(&app, &admin.access, "fay@example.com").await;
    sink.set_mode(Mode::Accept);

    let mut browser = Browser::start("admin-e2e", backend_name(&app)).await;
    let base = app.base.clone();

    // ---- sign in ----
    browser.goto(&format!("{base}/admin")).await;
    assert_eq!(browser.path().await, "/admin/login");
    browser.fill("input[name=email]", ROOT_EMAIL).await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser.check("sign-in").await;
    browser.submit("form.stack button[type=submit]").await;
    assert_eq!(browser.path().await, "/admin");

    // ---- the dashboard and its charts ----
    let dashboard = browser.text().await;
    assert!(
        dashboard.contains("Rosa Admin") && dashboard.contains("The last 30 days"),
        "{dashboard}"
    );
    let charts = browser.client.find_all(Locator::Css("svg.chart")).await.expect("charts");
    assert_eq!(charts.len(), 3, "GMV, orders and new users");
    let desc = browser
        .client
        .find(Locator::Css("#chart-gmv-desc"))
        .await
        .expect("the GMV chart's description")
        .html(true)
        .await
        .expect("desc text");
    assert!(desc.starts_with("Gross merchandise value, last 30 days: "), "{desc}");
    assert!(dashboard.contains("Top vendors, last 30 days"), "{dashboard}");
    browser.check("dashboard").await;
    browser.click("figure.chart-box details summary").await;
    assert!(
        browser
            .text()
            .await
            .contains("Gross merchandise value, last 30 days: the figures as a table")
    );
    browser.check("dashboard-figures-table").await;

    // ---- approve the pending vendor ----
    browser.click_link("Vendors").await;
    assert!(browser.text().await.contains("Dee Ceramics"));
    browser.check("vendors").await;
    browser
        .submit(&format!("form[action='/admin/vendors/{dee_shop}/approve'] button"))
        .await;
    assert_eq!(browser.path().await, "/admin/vendors?done=vendor+approved");
    assert!(browser.text().await.contains("Done: vendor approved"));
    // Ana gets a lower commission.
    browser.fill(&format!("#commission-{}", ana.id), "8.5").await;
    browser
        .submit(&format!("form[action='/admin/vendors/{}/commission'] button", ana.id))
        .await;
    assert!(browser.text().await.contains("8.50 %"));
    browser.check("vendor-approved-commission-set").await;

    // ---- suspend and reactivate a user ----
    browser.click_link("Users").await;
    browser.fill("input[name=q]", "cat@example.com").await;
    browser.submit("form.filters button[type=submit]").await;
    browser.check("users-search").await;
    browser
        .submit(&format!("form[action='/admin/users/{}/suspend'] button", customer.id))
        .await;
    assert!(browser.text().await.contains("Done: user suspended"));
    app.get("/auth/me", Some(&customer.access)).await.expect(403);
    browser.check("user-suspended").await;
    browser
        .submit(&format!("form[action='/admin/users/{}/reactivate'] button", customer.id))
        .await;
    assert!(browser.text().await.contains("Done: user reactivated"));
    browser.check("user-reactivated").await;

    // ---- all orders, one refunded after its confirmation ----
    browser.click_link("Orders").await;
    let orders = browser.text().await;
    assert!(orders.contains("(15 in all)"), "{orders}");
    browser.check("orders").await;
    let number = text(&refund_me, "number");
    browser.click_link(&number).await;
    assert!(browser.text().await.contains("Celadon vase"));
    browser.check("order").await;
    // Without the box ticked the browser keeps the form (required); ticked, it goes through.
    browser.click("#refund-confirm").await;
    browser.check("order-refund-confirmed").await;
    browser.submit("form.refund button[type=submit]").await;
    let refunded = browser.text().await;
    assert!(
        refunded.contains("Done: order refunded") && refunded.contains("refunded"),
        "{refunded}"
    );
    let order_id = text(&refund_me, "id");
    let order = app
        .get(&format!("/admin/orders/{order_id}"), Some(&admin.access))
        .await
        .expect(200)
        .body;
    assert_eq!(order["status"], "refunded");
    browser.check("order-refunded").await;

    // ---- analytics ----
    browser.click_link("Analytics").await;
    let analytics = browser.text().await;
    assert!(
        analytics.contains("Top products") && analytics.contains("Harbour at dawn"),
        "{analytics}"
    );
    browser.check("analytics").await;
    let from = (chrono::Utc::now() - chrono::Duration::days(60)).date_naive().to_string();
    browser
        .client
        .execute(
            "document.querySelector('input[name=from]').value = arguments[0];",
            vec![json!(from)],
        )
        .await
        .expect("set the from date");
    browser
        .client
        .find(Locator::Css("select[name=interval]"))
        .await
        .expect("interval")
        .select_by_value("week")
        .await
        .expect("choose week");
    browser.submit("form.filters button[type=submit]").await;
    assert!(browser.path().await.contains("interval=week"));
    assert!(browser.text().await.contains("Gross merchandise value per week"));
    browser.check("analytics-weekly").await;

    // ---- approve and mark a payout paid: the panel shows where to send the money ----
    app.patch(
        "/vendor/me",
        Some(&ana.user.access),
        json!({"payout_details": {"iban": "PT50 0002 0123 1234 5678 9015 4"}}),
    )
    .await
    .expect(200);
    browser.click_link("Payouts").await;
    let payouts = browser.text().await;
    assert!(payouts.contains("300.00 USD") && payouts.contains("Ana Oils"), "{payouts}");
    let details = browser
        .client
        .find(Locator::Css("pre.pay-to"))
        .await
        .expect("payout details")
        .prop("textContent")
        .await
        .expect("text")
        .unwrap_or_default();
    assert!(details.contains("PT50 0002 0123 1234 5678 9015 4"), "{details}");
    browser.check("payouts").await;
    browser
        .submit(&format!("form[action='/admin/payouts/{payout_id}/approve'] button"))
        .await;
    assert!(browser.text().await.contains("Done: payout approved"));
    browser
        .fill(
            &format!("form[action='/admin/payouts/{payout_id}/mark-paid'] input[name=reference]"),
            "SEPA-2026-0042",
        )
        .await;
    browser
        .submit(&format!("form[action='/admin/payouts/{payout_id}/mark-paid'] button"))
        .await;
    let paid = browser.text().await;
    assert!(
        paid.contains("Done: payout marked paid") && paid.contains("reference: SEPA-2026-0042"),
        "{paid}"
    );
    browser.check("payout-paid").await;

    // ---- categories ----
    browser.click_link("Categories").await;
    browser.check("categories").await;
    browser.fill("section.panel-box input[name=name]", "Murals").await;
    browser.submit("section.panel-box button[type=submit]").await;
    assert!(browser.text().await.contains("Done: category created"));
    browser.check("category-created").await;

    // ---- every action in the audit log ----
    browser.click_link("Audit log").await;
    browser.fill("input[name=actor]", &root_id).await;
    browser.submit("form.filters button[type=submit]").await;
    let audit = browser.text().await;
    for action in [
        "vendor.approve",
        "vendor.set_commission",
        "user.update",
        "order.refund",
        "payout.approve",
        "payout.mark_paid",
        "category.create",
    ] {
        assert!(audit.contains(action), "{action} in the audit log: {audit}");
    }
    assert!(audit.contains("(8 in all)"), "{audit}");
    browser.check("audit").await;

    // ---- the failed email ----
    browser.click_link("Emails").await;
    browser
        .client
        .find(Locator::Css("select[name=status]"))
        .await
        .expect("status filter")
        .select_by_value("failed")
        .await
        .expect("choose failed");
    browser.submit("form.filters button[type=submit]").await;
    let failed = browser.text().await;
    assert!(failed.contains("fay@example.com") && failed.contains("failed"), "{failed}");
    browser.check("emails-failed").await;
    // Retry it: back in the queue, and the recovered server gets it.
    browser
        .submit(&format!("form[action='/admin/emails/{fay_email}/retry'] button"))
        .await;
    assert_eq!(browser.path().await, "/admin/emails?done=email+queued+again");
    assert!(browser.text().await.contains("Done: email queued again"));
    sink.wait_for("fay@example.com", "Welcome to KALAVPP").await;
    browser.check("email-retried").await;
    browser.click_link("Audit log").await;
    browser.fill("input[name=action]", "email.retry").await;
    browser.fill("input[name=actor]", &root_id).await;
    browser.submit("form.filters button[type=submit]").await;
    let retried = browser.text().await;
    assert!(retried.contains("email.retry") && retried.contains("(1 in all)"), "{retried}");
    browser.check("audit-email-retry").await;

    // ---- the phone layout of the dashboard ----
    browser.client.set_window_size(390, 844).await.expect("phone size");
    browser.goto(&format!("{base}/admin")).await;
    browser.check("phone-dashboard").await;
    browser.client.close().await.expect("close the session");
}
