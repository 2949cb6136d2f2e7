//! The admin HTML panel at `/admin`: cookie sessions built on the core's login sessions, CSRF
//! tokens on every form, thin pages over the admin services, escaping, and the way out (logout,
//! suspension, demotion).

use kalavpp_core::auth::Actor;
use serde_json::json;

use crate::catalog_support::text;
use crate::helpers::{PASSWORD, Session, TestApp, on_both_backends, spawn_app};
use crate::panel_support::{Html, client as browser, cookie_value, read};
use crate::payment_support::{Scene, add_to_cart, asset_bytes, attach_asset, checkout, digital};

on_both_backends!(
    login_page_renders_and_only_active_admins_get_in,
    dashboard_and_every_page_render_with_the_security_headers,
    vendor_is_approved_through_the_form_with_csrf_and_audit,
    payout_is_approved_and_marked_paid_and_orders_refunded,
    logout_ends_the_session,
    suspended_or_demoted_admins_are_out_at_once,
    user_text_is_escaped,
    reviews_are_hidden_and_shown_again_through_the_panel,
    every_page_redirects_to_login_without_a_session,
    the_order_page_shows_an_automatic_refund,
);

async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> Html {
    let mut request = browser().get(format!("{}{path}", app.base));
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("kalavpp_admin={cookie}"));
    }
    read(request.send().await.expect("GET")).await
}

fn form(fields: &[(&str, &str)]) -> String {
    let mut body = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        body.append_pair(k, v);
    }
    body.finish()
}

async fn post_with_cookies(app: &TestApp, path: &str, cookies: &str, fields: &[(&str, &str)]) -> Html {
    let mut request = browser()
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(fields));
    if !cookies.is_empty() {
        request = request.header("cookie", cookies);
    }
    read(request.send().await.expect("POST")).await
}

async fn post(app: &TestApp, path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Html {
    let cookies = cookie.map(|c| format!("kalavpp_admin={c}")).unwrap_or_default();
    post_with_cookies(app, path, &cookies, fields).await
}

/// Fills in and sends the login form as a browser would.
async fn try_sign_in(app: &TestApp, email: &str, password: &str) -> Html {
    let page = get(app, "/admin/login", None).await.expect_html(200);
    let nonce = cookie_value(&page.set_cookie("kalavpp_admin_login").expect("login nonce cookie"));
    post_with_cookies(
        app,
        "/admin/login",
        &format!("kalavpp_admin_login={nonce}"),
        &[("csrf", &page.csrf()), ("email", email), ("password", password)],
    )
    .await
}

/// A signed-in panel session.
struct Panel {
    cookie: String,
    csrf: String,
}

async fn sign_in(app: &TestApp, email: &str) -> Panel {
    let reply = try_sign_in(app, email, PASSWORD).await.expect_redirect("/admin");
    let cookie = cookie_value(&reply.set_cookie("kalavpp_admin").expect("session cookie"));
    let dashboard = get(app, "/admin", Some(&cookie)).await.expect_html(200);
    Panel {
        csrf: dashboard.csrf(),
        cookie,
    }
}

/// A new admin account (as `kalavpp create-admin` makes one): its id and email.
async fn new_admin(app: &TestApp, name: &str) -> (String, String) {
    let email = format!("{name}-{}@kalavpp.test", uuid::Uuid::new_v4().simple());
    let user = app
        .market
        .accounts()
        .create_admin(&Actor::System, &email, PASSWORD, name)
        .await
        .expect("create admin");
    (user.id.to_string(), email)
}

async fn apply(app: &TestApp, user: &Session, shop_name: &str) -> String {
    let vendor = app
        .post("/vendors/apply", Some(&user.access), json!({"shop_name": shop_name}))
        .await
        .expect(201);
    text(&vendor.body, "id")
}

async fn login_page_renders_and_only_active_admins_get_in(app: TestApp) {
    let page = get(&app, "/admin/login", None).await.expect_html(200);
    assert!(page.body.contains(r#"<form method="post" action="/admin/login""#), "{}", page.body);
    assert_eq!(page.csrf().len(), 64, "an HMAC-SHA256 in hex");
    let nonce = page.set_cookie("kalavpp_admin_login").expect("nonce cookie");
    assert!(
        nonce.contains("HttpOnly") && nonce.contains("SameSite=Strict") && nonce.contains("Path=/admin/login"),
        "{nonce}"
    );
    assert!(!nonce.contains("Secure"), "plain HTTP in development");

    let (admin_id, admin_email) = new_admin(&app, "Root").await;
    let customer = app.register("cat@example.com").await;
    let vendor = app.register("ana@example.com").await;
    let admin = app.admin().await;
    let shop = apply(&app, &vendor, "Ana Oils").await;
    app.post(&format!("/admin/vendors/{shop}/approve"), Some(&admin.access), json!({}))
        .await
        .expect(200);

    // Wrong password, unknown email, a customer and a vendor with the right password: one answer.
    for (email, password) in [
        (admin_email.as_str(), "wrong password!"),
        ("nobody@example.com", PASSWORD),
        ("cat@example.com", PASSWORD),
        ("ana@example.com", PASSWORD),
        ("", ""),
    ] {
        let refused = try_sign_in(&app, email, password).await.expect_html(401);
        assert!(
            refused.body.contains("Email or password is incorrect."),
            "{email}: {}",
            refused.body
        );
        assert!(refused.set_cookie("kalavpp_admin").is_none(), "{email}: no session cookie");
    }
    // Refused attempts leave the API sessions of those users alone.
    app.get("/auth/me", Some(&customer.access)).await.expect(200);

    // The login form needs its nonce cookie and the matching token.
    let page = get(&app, "/admin/login", None).await;
    let csrf = page.csrf();
    post_with_cookies(
        &app,
        "/admin/login",
        "",
        &[("csrf", &csrf), ("email", &admin_email), ("password", PASSWORD)],
    )
    .await
    .expect_html(403);
    post_with_cookies(
        &app,
        "/admin/login",
        "kalavpp_admin_login=some-other-nonce",
        &[("csrf", &csrf), ("email", &admin_email), ("password", PASSWORD)],
    )
    .await
    .expect_html(403);

    // The admin gets in with an opaque, HttpOnly, SameSite=Strict cookie scoped to /admin.
    let ok = try_sign_in(&app, &admin_email, PASSWORD).await.expect_redirect("/admin");
    let set = ok.set_cookie("kalavpp_admin").expect("session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin"] {
        assert!(set.contains(attribute), "{attribute} in {set}");
    }
    let value = cookie_value(&set);
    assert!(value.len() >= 40, "a long random token: {value}");
    assert!(
        !value.contains(&admin_id) && !value.contains('.'),
        "neither a user id nor a JWT: {value}"
    );
    let dashboard = get(&app, "/admin", Some(&value)).await.expect_html(200);
    assert!(dashboard.body.contains("Root"), "the admin's name in the layout");
    // Signed in, the login page sends you to the dashboard.
    get(&app, "/admin/login", Some(&value)).await.expect_redirect("/admin");
}

async fn dashboard_and_every_page_render_with_the_security_headers(app: TestApp) {
    let (_, email) = new_admin(&app, "Root").await;
    let panel = sign_in(&app, &email).await;
    let applicant = app.register("pending@example.com").await;
    apply(&app, &applicant, "Pending Prints").await;
    app.register("second@example.com").await;

    let dashboard = get(&app, "/admin", Some(&panel.cookie)).await.expect_html(200);
    // Users: the admin and two customers; one vendor application waiting.
    assert!(dashboard.body.contains("<dt>Total</dt><dd>3</dd>"), "{}", dashboard.body);
    assert!(dashboard.body.contains("<dt>Customers</dt><dd>2</dd>"), "{}", dashboard.body);
    assert!(dashboard.body.contains("<dt>Pending</dt><dd>1</dd>"), "{}", dashboard.body);
    assert!(
        dashboard.body.contains("<dt>Gross merchandise value</dt><dd>0.00 USD</dd>"),
        "{}",
        dashboard.body
    );

    for path in [
        "/admin",
        "/admin/vendors",
        "/admin/vendors?status=pending&page=1",
        "/admin/payouts?status=requested",
        "/admin/users?q=pending",
        "/admin/users?role=customer&status=active",
        "/admin/orders?status=paid",
        "/admin/audit?action=vendor.approve",
        "/admin/emails?status=queued",
        "/admin/reviews?shown=visible",
        "/admin/login",
    ] {
        let page = get(&app, path, Some(&panel.cookie)).await;
        let page = if path == "/admin/login" { page } else { page.expect_html(200) };
        let header = |name: &str| page.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        assert_eq!(header("x-frame-options"), "DENY", "{path}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert!(header("content-security-policy").contains("frame-ancestors 'none'"), "{path}");
        assert_eq!(header("cache-control"), "no-store", "{path}");
        assert!(!page.body.contains("$argon2"), "{path}: no password hashes");
        assert!(!page.body.contains("<script"), "{path}: no scripts at all");
    }
    let users = get(&app, "/admin/users?q=pending", Some(&panel.cookie)).await.expect_html(200);
    assert!(users.body.contains("pending@example.com") && !users.body.contains("second@example.com"));

    // The stylesheet is served from the panel (the CSP allows only 'self').
    let css = get(&app, "/admin/panel.css", None).await.expect(200);
    assert!(css.headers["content-type"].to_str().unwrap().starts_with("text/css"));

    // Bad filters are a readable 422 page, not JSON and not a 500.
    for path in [
        "/admin/vendors?status=lost",
        "/admin/orders?page=-1",
        "/admin/emails?status=x",
        "/admin/users?role=king",
    ] {
        get(&app, path, Some(&panel.cookie)).await.expect_html(422);
    }
    get(&app, &format!("/admin/orders/{}", uuid::Uuid::now_v7()), Some(&panel.cookie))
        .await
        .expect_html(404);
    get(&app, "/admin/orders/not-an-id", Some(&panel.cookie)).await.expect_html(404);
}

async fn vendor_is_approved_through_the_form_with_csrf_and_audit(app: TestApp) {
    let (admin_id, email) = new_admin(&app, "Root").await;
    let panel = sign_in(&app, &email).await;
    let (_, other_email) = new_admin(&app, "Other").await;
    let other = sign_in(&app, &other_email).await;
    let api_admin = app.admin().await;
    let applicant = app.register("ana@example.com").await;
    let id = apply(&app, &applicant, "Ana Oils").await;

    let list = get(&app, "/admin/vendors?status=pending", Some(&panel.cookie))
        .await
        .expect_html(200);
    assert!(list.body.contains("Ana Oils"), "{}", list.body);
    assert!(list.body.contains(&format!(r#"action="/admin/vendors/{id}/approve""#)));

    let status = || async {
        let page = app.get("/admin/vendors", Some(&api_admin.access)).await.expect(200).body;
        page["items"].as_array().unwrap().iter().find(|v| v["id"] == id.as_str()).unwrap()["status"].clone()
    };
    let approve = format!("/admin/vendors/{id}/approve");
    // Without the token, with a wrong one, or with another session's: 403, nothing changes.
    post(&app, &approve, Some(&panel.cookie), &[]).await.expect_html(403);
    post(&app, &approve, Some(&panel.cookie), &[("csrf", "00ff")])
        .await
        .expect_html(403);
    post(&app, &approve, Some(&panel.cookie), &[("csrf", "not hex")])
        .await
        .expect_html(403);
    post(&app, &approve, Some(&panel.cookie), &[("csrf", &other.csrf)])
        .await
        .expect_html(403);
    assert_ne!(panel.csrf, other.csrf);
    // A GET changes nothing either (no such route).
    let got = get(&app, &approve, Some(&panel.cookie)).await;
    assert_eq!(got.status.as_u16(), 405);
    assert_eq!(status().await, "pending");
    let audit = app
        .get("/admin/audit-log?action=vendor.approve", Some(&api_admin.access))
        .await
        .expect(200);
    assert_eq!(audit.body["total"], 0);

    // With the session's token: approved, and back to the list with a message.
    post(&app, &approve, Some(&panel.cookie), &[("csrf", &panel.csrf)])
        .await
        .expect_redirect("/admin/vendors?done=vendor+approved");
    assert_eq!(status().await, "approved");
    let audit = app
        .get("/admin/audit-log?action=vendor.approve", Some(&api_admin.access))
        .await
        .expect(200);
    assert_eq!(audit.body["total"], 1);
    assert_eq!(audit.body["items"][0]["actor_id"], admin_id.as_str());
    assert_eq!(audit.body["items"][0]["target_id"], id.as_str());
    let shown = get(&app, "/admin/vendors?done=vendor+approved", Some(&panel.cookie))
        .await
        .expect_html(200);
    assert!(shown.body.contains("Done: vendor approved"));
    let logged = get(&app, "/admin/audit?action=vendor.approve", Some(&panel.cookie))
        .await
        .expect_html(200);
    assert!(logged.body.contains(&admin_id), "the audit page shows the actor");

    // Approving again is a conflict, shown as an HTML page with 409.
    let again = post(&app, &approve, Some(&panel.cookie), &[("csrf", &panel.csrf)])
        .await
        .expect_html(409);
    assert!(again.body.contains("409"), "{}", again.body);
    // Reject needs a reason (422 page); suspend / reinstate work.
    let applicant = app.register("bo@example.com").await;
    let bo = apply(&app, &applicant, "Bo Pixels").await;
    let reject = format!("/admin/vendors/{bo}/reject");
    let invalid = post(&app, &reject, Some(&panel.cookie), &[("csrf", &panel.csrf), ("reason", "  ")])
        .await
        .expect_html(422);
    assert!(invalid.body.contains("reason"), "{}", invalid.body);
    post(&app, &reject, Some(&panel.cookie), &[("csrf", &panel.csrf), ("reason", "Not art")])
        .await
        .expect_redirect("/admin/vendors?done=vendor+rejected");
    for (action, outcome) in [("suspend", "vendor+suspended"), ("reinstate", "vendor+reinstated")] {
        post(
            &app,
            &format!("/admin/vendors/{id}/{action}"),
            Some(&panel.cookie),
            &[("csrf", &panel.csrf)],
        )
        .await
        .expect_redirect(&format!("/admin/vendors?done={outcome}"));
    }
    assert_eq!(status().await, "approved");
    post(
        &app,
        &format!("/admin/vendors/{id}/explode"),
        Some(&panel.cookie),
        &[("csrf", &panel.csrf)],
    )
    .await
    .expect_html(404);
}

async fn payout_is_approved_and_marked_paid_and_orders_refunded(app: TestApp) {
    let Scene { ana, bo, customer, .. } = Scene::new(&app).await;
    let (_, email) = new_admin(&app, "Root").await;
    let panel = sign_in(&app, &email).await;
    let study = text(&digital(&app, &ana.user.access, "Colour study", 10_000).await, "id");
    attach_asset(&app, &ana.user.access, &study, "study.zip", asset_bytes(100)).await;
    add_to_cart(&app, &customer.access, &study, 1).await;
    crate::vendor_dashboard::pay(&app, &checkout(&app, &customer.access, None).await).await;
    let payout = app
        .post("/vendor/payouts", Some(&ana.user.access), json!({"amount_cents": 5_000}))
        .await
        .expect(201)
        .body;
    let id = text(&payout, "id");
    let payout_status = || async {
        let mine = app.get("/vendor/payouts", Some(&ana.user.access)).await.expect(200).body;
        mine["items"][0]["status"].clone()
    };

    let list = get(&app, "/admin/payouts?status=requested", Some(&panel.cookie))
        .await
        .expect_html(200);
    assert!(list.body.contains("50.00 USD"), "{}", list.body);
    // Mark paid before approval: a conflict page; without a token: 403.
    post(
        &app,
        &format!("/admin/payouts/{id}/mark-paid"),
        Some(&panel.cookie),
        &[("csrf", &panel.csrf), ("reference", "TR-1")],
    )
    .await
    .expect_html(409);
    post(&app, &format!("/admin/payouts/{id}/approve"), Some(&panel.cookie), &[])
        .await
        .expect_html(403);
    assert_eq!(payout_status().await, "requested");

    post(
        &app,
        &format!("/admin/payouts/{id}/approve"),
        Some(&panel.cookie),
        &[("csrf", &panel.csrf)],
    )
    .await
    .expect_redirect("/admin/payouts?done=payout+approved");
    assert_eq!(payout_status().await, "approved");
    let approved = get(&app, "/admin/payouts?status=approved", Some(&panel.cookie))
        .await
        .expect_html(200);
    assert!(approved.body.contains(&format!(r#"action="/admin/payouts/{id}/mark-paid""#)));
    post(
        &app,
        &format!("/admin/payouts/{id}/mark-paid"),
        Some(&panel.cookie),
        &[("csrf", &panel.csrf), ("reference", "")],
    )
    .await
    .expect_html(422);
    post(
        &app,
        &format!("/admin/payouts/{id}/mark-paid"),
        Some(&panel.cookie),
        &[("csrf", &panel.csrf), ("reference", "TR-2024-001")],
    )
    .await
    .expect_redirect("/admin/payouts?done=payout+marked+paid");
    assert_eq!(payout_status().await, "paid");
    let paid = get(&app, "/admin/payouts?status=paid", Some(&panel.cookie)).await.expect_html(200);
    assert!(paid.body.contains("reference: TR-2024-001"), "{}", paid.body);

    // A paid order of Bo's is refunded from its detail page.
    let brushes = text(&digital(&app, &bo.user.access, "Brush pack", 999).await, "id");
    attach_asset(&app, &bo.user.access, &brushes, "brushes.zip", asset_bytes(50)).await;
    add_to_cart(&app, &customer.access, &brushes, 1).await;
    let placed = checkout(&app, &customer.access, None).await;
    crate::vendor_dashboard::pay(&app, &placed).await;
    let order_id = text(&placed["order"], "id");
    // All digital: completed once paid.
    let orders = get(&app, "/admin/orders?status=completed", Some(&panel.cookie))
        .await
        .expect_html(200);
    assert!(orders.body.contains(&format!("/admin/orders/{order_id}")), "{}", orders.body);
    let detail = get(&app, &format!("/admin/orders/{order_id}"), Some(&panel.cookie))
        .await
        .expect_html(200);
    assert!(
        detail.body.contains("Brush pack") && detail.body.contains("Refund 9.99 USD"),
        "{}",
        detail.body
    );
    let refund = format!("/admin/orders/{order_id}/refund");
    post(&app, &refund, Some(&panel.cookie), &[]).await.expect_html(403);
    post(&app, &refund, Some(&panel.cookie), &[("csrf", &panel.csrf), ("confirm", "yes")])
        .await
        .expect_redirect(&format!("/admin/orders/{order_id}?done=order+refunded"));
    let order = app
        .get(&format!("/orders/{order_id}"), Some(&customer.access))
        .await
        .expect(200)
        .body;
    assert_eq!(order["status"], "refunded");
    post(&app, &refund, Some(&panel.cookie), &[("csrf", &panel.csrf), ("confirm", "yes")])
        .await
        .expect_html(409);
}

async fn logout_ends_the_session(app: TestApp) {
    let (_, email) = new_admin(&app, "Root").await;
    let panel = sign_in(&app, &email).await;
    let second = sign_in(&app, &email).await;

    // Logging out needs the token too.
    post(&app, "/admin/logout", Some(&panel.cookie), &[]).await.expect_html(403);
    get(&app, "/admin", Some(&panel.cookie)).await.expect_html(200);

    let out = post(&app, "/admin/logout", Some(&panel.cookie), &[("csrf", &panel.csrf)])
        .await
        .expect_redirect("/admin/login?done=signed+out");
    let cleared = out.set_cookie("kalavpp_admin").expect("cookie cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    // The old cookie no longer works, for pages and forms alike.
    get(&app, "/admin", Some(&panel.cookie)).await.expect_redirect("/admin/login");
    post(&app, "/admin/logout", Some(&panel.cookie), &[("csrf", &panel.csrf)])
        .await
        .expect_redirect("/admin/login");
    // Another session of the same admin lives on.
    get(&app, "/admin", Some(&second.cookie)).await.expect_html(200);
    let page = get(&app, "/admin/login?done=signed+out", None).await.expect_html(200);
    assert!(page.body.contains("Done: signed out"));
}

async fn suspended_or_demoted_admins_are_out_at_once(app: TestApp) {
    let (root_id, root_email) = new_admin(&app, "Root").await;
    let (ops_id, ops_email) = new_admin(&app, "Ops").await;
    let (demoted_id, demoted_email) = new_admin(&app, "Demoted").await;
    let root = sign_in(&app, &root_email).await;
    let ops = sign_in(&app, &ops_email).await;
    let demoted = sign_in(&app, &demoted_email).await;

    // Admins cannot suspend themselves (409 page, and no button for it).
    let users = get(&app, "/admin/users", Some(&root.cookie)).await.expect_html(200);
    assert!(!users.body.contains(&format!("/admin/users/{root_id}/suspend")));
    post(
        &app,
        &format!("/admin/users/{root_id}/suspend"),
        Some(&root.cookie),
        &[("csrf", &root.csrf)],
    )
    .await
    .expect_html(409);

    // Root suspends Ops through the panel: Ops's session stops working at once.
    post(
        &app,
        &format!("/admin/users/{ops_id}/suspend"),
        Some(&root.cookie),
        &[("csrf", &root.csrf)],
    )
    .await
    .expect_redirect("/admin/users?done=user+suspended");
    get(&app, "/admin", Some(&ops.cookie)).await.expect_redirect("/admin/login");
    post(
        &app,
        &format!("/admin/users/{root_id}/suspend"),
        Some(&ops.cookie),
        &[("csrf", &ops.csrf)],
    )
    .await
    .expect_redirect("/admin/login");
    // ... and Ops cannot sign in again, with the same answer as a wrong password.
    let refused = try_sign_in(&app, &ops_email, PASSWORD).await.expect_html(401);
    assert!(refused.body.contains("Email or password is incorrect."));
    // Reactivated, Ops may sign in anew (the old session stays ended).
    post(
        &app,
        &format!("/admin/users/{ops_id}/reactivate"),
        Some(&root.cookie),
        &[("csrf", &root.csrf)],
    )
    .await
    .expect_redirect("/admin/users?done=user+reactivated");
    get(&app, "/admin", Some(&ops.cookie)).await.expect_redirect("/admin/login");
    sign_in(&app, &ops_email).await;

    // A demoted admin (through the API) is out at once too.
    let api_admin = app.admin().await;
    app.patch(
        &format!("/admin/users/{demoted_id}"),
        Some(&api_admin.access),
        json!({"role": "customer"}),
    )
    .await
    .expect(200);
    get(&app, "/admin", Some(&demoted.cookie)).await.expect_redirect("/admin/login");
    try_sign_in(&app, &demoted_email, PASSWORD).await.expect_html(401);
    // Promoted again, the old session stays ended: a new sign-in is needed.
    app.patch(
        &format!("/admin/users/{demoted_id}"),
        Some(&api_admin.access),
        json!({"role": "admin"}),
    )
    .await
    .expect(200);
    get(&app, "/admin", Some(&demoted.cookie)).await.expect_redirect("/admin/login");
    sign_in(&app, &demoted_email).await;

    // The suspension is in the audit log with Root as the actor.
    let audit = app
        .get("/admin/audit-log?action=user.update", Some(&api_admin.access))
        .await
        .expect(200);
    let rows = audit.body["items"].as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["actor_id"] == root_id.as_str() && r["target_id"] == ops_id.as_str())
    );
}

async fn user_text_is_escaped(app: TestApp) {
    let (_, email) = new_admin(&app, "Root").await;
    let panel = sign_in(&app, &email).await;
    let evil = app.register("evil@example.com").await;
    let id = apply(&app, &evil, "<script>alert(1)</script>").await;
    app.patch("/auth/me", Some(&evil.access), json!({"name": "<img src=x onerror=alert(2)>"}))
        .await
        .expect(200);

    let vendors = get(&app, "/admin/vendors", Some(&panel.cookie)).await.expect_html(200);
    assert!(
        vendors.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || vendors.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        vendors.body
    );
    assert!(!vendors.body.contains("<script>alert(1)"), "{}", vendors.body);
    post(
        &app,
        &format!("/admin/vendors/{id}/reject"),
        Some(&panel.cookie),
        &[("csrf", &panel.csrf), ("reason", "\"><b>bold</b>")],
    )
    .await
    .expect(303);
    let rejected = get(&app, "/admin/vendors?status=rejected", Some(&panel.cookie))
        .await
        .expect_html(200);
    assert!(
        !rejected.body.contains("<b>bold</b>") && !rejected.body.contains("\"><b>"),
        "{}",
        rejected.body
    );
    let users = get(&app, "/admin/users", Some(&panel.cookie)).await.expect_html(200);
    assert!(!users.body.contains("<img src=x"), "{}", users.body);
    let audit = get(&app, "/admin/audit", Some(&panel.cookie)).await.expect_html(200);
    assert!(!audit.body.contains("<b>bold</b>"), "{}", audit.body);
    // The flash message comes from the query string: escaped as well.
    let flash = get(&app, "/admin/vendors?done=%3Cscript%3Ealert(3)%3C/script%3E", Some(&panel.cookie))
        .await
        .expect_html(200);
    assert!(!flash.body.contains("<script>alert(3)"), "{}", flash.body);
    assert!(!flash.body.contains("Done:"), "only the panel's own outcome messages are shown");
    let login = get(&app, "/admin/login?done=%3Cscript%3Ealert(4)%3C/script%3E", None)
        .await
        .expect_html(200);
    assert!(!login.body.contains("<script>alert(4)"), "{}", login.body);
    // The search box echoes the query escaped.
    let search = get(&app, "/admin/users?q=%22%3E%3Cscript%3E", Some(&panel.cookie))
        .await
        .expect_html(200);
    assert!(!search.body.contains("\"><script>"), "{}", search.body);
}

async fn every_page_redirects_to_login_without_a_session(app: TestApp) {
    let id = uuid::Uuid::now_v7().to_string();
    let gets = [
        "/admin".to_owned(),
        "/admin/".to_owned(),
        "/admin/vendors".to_owned(),
        "/admin/payouts".to_owned(),
        "/admin/users?q=a".to_owned(),
        "/admin/orders".to_owned(),
        format!("/admin/orders/{id}"),
        "/admin/audit".to_owned(),
        "/admin/emails".to_owned(),
        "/admin/reviews?shown=hidden".to_owned(),
    ];
    let posts = [
        format!("/admin/vendors/{id}/approve"),
        format!("/admin/payouts/{id}/approve"),
        format!("/admin/users/{id}/suspend"),
        format!("/admin/orders/{id}/refund"),
        format!("/admin/reviews/{id}/hide"),
        "/admin/logout".to_owned(),
    ];
    // A customer's API tokens are no panel session either.
    let customer = app.register("cat@example.com").await;
    for cookie in [
        None,
        Some("garbage"),
        Some(customer.refresh.as_str()),
        Some(customer.access.as_str()),
    ] {
        for path in &gets {
            get(&app, path, cookie).await.expect_redirect("/admin/login");
        }
        for path in &posts {
            post(&app, path, cookie, &[("csrf", "00")]).await.expect_redirect("/admin/login");
        }
    }
    // A stale cookie is dropped on the way.
    let stale = get(&app, "/admin", Some("garbage")).await;
    assert!(stale.set_cookie("kalavpp_admin").is_some_and(|c| c.contains("Max-Age=0")));
    // The API's admin routes stay JSON with bearer tokens, apart from the panel.
    app.get("/admin/stats", None).await.expect_problem(401, "authentication_required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_attempts_are_rate_limited() {
    let app = spawn_app(crate::helpers::Backend::Sqlite, &[("AUTH_RATE_LIMIT_MAX_REQUESTS", "3")])
        .await
        .expect("sqlite app");
    let (_, email) = new_admin(&app, "Root").await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(try_sign_in(&app, &email, "wrong password!").await.status.as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429]);
    let limited = try_sign_in(&app, &email, PASSWORD).await.expect_html(429);
    assert!(limited.headers.contains_key("retry-after"));
    // The panel's attempts count against the API's credential limit as well.
    app.login(&email, PASSWORD).await.expect(429);
}

async fn reviews_are_hidden_and_shown_again_through_the_panel(app: TestApp) {
    let Scene { ana, customer, .. } = Scene::new(&app).await;
    let (admin_id, email) = new_admin(&app, "Root").await;
    let panel = sign_in(&app, &email).await;
    let study = text(&digital(&app, &ana.user.access, "Colour study", 1_000).await, "id");
    attach_asset(&app, &ana.user.access, &study, "study.zip", asset_bytes(100)).await;
    add_to_cart(&app, &customer.access, &study, 1).await;
    crate::vendor_dashboard::pay(&app, &checkout(&app, &customer.access, None).await).await;
    let review = app
        .post(
            &format!("/products/{study}/reviews"),
            Some(&customer.access),
            json!({"rating": 1, "title": "<i>meh</i>", "body": "<script>alert(5)</script> buy elsewhere"}),
        )
        .await
        .expect(201)
        .body;
    let id = text(&review, "id");
    let public_total = || async { app.get(&format!("/products/{study}/reviews"), None).await.expect(200).body["total"].clone() };
    assert_eq!(public_total().await, 1);

    let list = get(&app, "/admin/reviews", Some(&panel.cookie)).await.expect_html(200);
    assert!(
        list.body.contains("buy elsewhere") && !list.body.contains("<script>alert(5)") && !list.body.contains("<i>meh"),
        "{}",
        list.body
    );
    let hide = format!("/admin/reviews/{id}/hide");
    post(&app, &hide, Some(&panel.cookie), &[]).await.expect_html(403);
    assert_eq!(public_total().await, 1);
    post(&app, &hide, Some(&panel.cookie), &[("csrf", &panel.csrf)])
        .await
        .expect_redirect("/admin/reviews?done=review+hidden");
    assert_eq!(public_total().await, 0);
    let hidden = get(&app, "/admin/reviews?shown=hidden", Some(&panel.cookie)).await.expect_html(200);
    assert!(hidden.body.contains(&format!("/admin/reviews/{id}/unhide")), "{}", hidden.body);
    let visible = get(&app, "/admin/reviews?shown=visible", Some(&panel.cookie))
        .await
        .expect_html(200);
    assert!(!visible.body.contains(&id), "{}", visible.body);
    post(
        &app,
        &format!("/admin/reviews/{id}/unhide"),
        Some(&panel.cookie),
        &[("csrf", &panel.csrf)],
    )
    .await
    .expect_redirect("/admin/reviews?done=review+shown");
    assert_eq!(public_total().await, 1);
    get(&app, "/admin/reviews?shown=maybe", Some(&panel.cookie)).await.expect_html(422);
    post(
        &app,
        &format!("/admin/reviews/{}/hide", uuid::Uuid::now_v7()),
        Some(&panel.cookie),
        &[("csrf", &panel.csrf)],
    )
    .await
    .expect_html(404);

    let audit = app.get("/admin/audit-log?action=review.hide", Some(&ana.user.access)).await;
    assert_eq!(audit.status.as_u16(), 403, "vendors see no audit log");
    let admin = app.admin().await;
    let audit = app
        .get("/admin/audit-log?action=review.hide", Some(&admin.access))
        .await
        .expect(200);
    assert_eq!(audit.body["items"][0]["actor_id"], admin_id.as_str());
}

async fn the_order_page_shows_an_automatic_refund(app: TestApp) {
    let Scene { customer, bo, .. } = Scene::new(&app).await;
    let brushes = text(&digital(&app, &bo.user.access, "Brush pack", 999).await, "id");
    add_to_cart(&app, &customer.access, &brushes, 1).await;
    let placed = checkout(&app, &customer.access, None).await;
    let order_id = text(&placed["order"], "id");
    app.post(&format!("/orders/{order_id}/cancel"), Some(&customer.access), json!({}))
        .await
        .expect(200);
    // The buyer still pays on the (development) payment page: the money goes back.
    crate::vendor_dashboard::pay(&app, &placed).await;
    let (_, email) = new_admin(&app, "refunds").await;
    let panel = sign_in(&app, &email).await;
    let page = get(&app, &format!("/admin/orders/{order_id}"), Some(&panel.cookie))
        .await
        .expect_html(200);
    assert!(page.body.contains("Payment actions"), "{}", page.body);
    assert!(
        page.body.contains("automatic refund (payment the order could not take)"),
        "{}",
        page.body
    );
    assert!(page.body.contains("dev_re_"), "the provider's refund id: {}", page.body);
    assert!(
        page.body.contains("<td>cancelled</td>") || page.body.contains("cancelled"),
        "{}",
        page.body
    );
}
