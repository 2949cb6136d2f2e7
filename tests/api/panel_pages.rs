//! The panel's second half: dashboard charts, the analytics page, the category tree, the vendor
//! commission override, the filters of every list and the refund's confirmation box. Each page
//! renders, each action goes through its service (audit row included) behind the CSRF check,
//! refusals are readable HTML pages and user text is escaped.

use kalavpp_core::auth::Actor;
use reqwest::header::SET_COOKIE;
use serde_json::{Value, json};

use crate::catalog_support::{approved_shop, text};
use crate::helpers::{PASSWORD, TestApp, on_both_backends};
use crate::panel_support::{Html, client, cookie_value, read};
use crate::payment_support::{Scene, add_to_cart, address, asset_bytes, attach_asset, checkout, digital, physical};

on_both_backends!(
    dashboard_draws_the_last_30_days_with_text_alternatives_and_top_vendors,
    analytics_page_groups_by_interval_and_refuses_bad_input_with_422,
    categories_are_created_renamed_moved_and_deleted_with_the_apis_refusals,
    commission_override_is_set_shown_and_cleared,
    lists_filter_by_vendor_dates_and_actor,
    refund_needs_its_confirmation_box,
    vendors_and_customers_are_kept_out_of_the_new_pages,
    shop_and_category_names_are_escaped_everywhere,
);

// ---- a small panel client ----

fn set_cookie(reply: &Html, name: &str) -> Option<String> {
    reply
        .headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

async fn get(app: &TestApp, path: &str, cookie: &str) -> Html {
    let request = client()
        .get(format!("{}{path}", app.base))
        .header("cookie", format!("kalavpp_admin={cookie}"));
    read(request.send().await.expect("GET")).await
}

async fn post_raw(app: &TestApp, path: &str, cookies: &str, fields: &[(&str, &str)]) -> Html {
    let mut body = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        body.append_pair(k, v);
    }
    let mut request = client()
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.finish());
    if !cookies.is_empty() {
        request = request.header("cookie", cookies);
    }
    read(request.send().await.expect("POST")).await
}

/// A signed-in panel session of a new admin.
struct Panel {
    id: String,
    cookie: String,
    csrf: String,
}

impl Panel {
    async fn new(app: &TestApp, name: &str) -> Self {
        let email = format!("{}-{}@kalavpp.test", name.to_lowercase(), uuid::Uuid::new_v4().simple());
        let user = app
            .market
            .accounts()
            .create_admin(&Actor::System, &email, PASSWORD, name)
            .await
            .expect("create admin");
        let page = read(client().get(format!("{}/admin/login", app.base)).send().await.unwrap()).await;
        let nonce = cookie_value(&set_cookie(&page, "kalavpp_admin_login").expect("nonce"));
        let reply = post_raw(
            app,
            "/admin/login",
            &format!("kalavpp_admin_login={nonce}"),
            &[("csrf", &page.csrf()), ("email", &email), ("password", PASSWORD)],
        )
        .await
        .expect_redirect("/admin");
        let cookie = cookie_value(&set_cookie(&reply, "kalavpp_admin").expect("session cookie"));
        let csrf = get(app, "/admin", &cookie).await.expect_html(200).csrf();
        Self {
            id: user.id.to_string(),
            cookie,
            csrf,
        }
    }

    async fn get(&self, app: &TestApp, path: &str) -> Html {
        get(app, path, &self.cookie).await
    }

    /// Posts `fields` with this session's CSRF token.
    async fn post(&self, app: &TestApp, path: &str, fields: &[(&str, &str)]) -> Html {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        post_raw(app, path, &format!("kalavpp_admin={}", self.cookie), &all).await
    }

    /// Posts `fields` without a CSRF token (or with `token`).
    async fn post_with_token(&self, app: &TestApp, path: &str, token: Option<&str>, fields: &[(&str, &str)]) -> Html {
        let mut all: Vec<(&str, &str)> = token.map(|t| vec![("csrf", t)]).unwrap_or_default();
        all.extend_from_slice(fields);
        post_raw(app, path, &format!("kalavpp_admin={}", self.cookie), &all).await
    }
}

/// A paid order of one published digital work of `shop` (`price_cents`), bought by `buyer`.
async fn paid_digital_order(app: &TestApp, shop_token: &str, buyer: &str, title: &str, price_cents: i64) -> String {
    let product = text(&digital(app, shop_token, title, price_cents).await, "id");
    attach_asset(app, shop_token, &product, "work.zip", asset_bytes(64)).await;
    add_to_cart(app, buyer, &product, 1).await;
    let placed = checkout(app, buyer, None).await;
    crate::vendor_dashboard::pay(app, &placed).await;
    text(&placed["order"], "id")
}

/// The categories as the public API lists them.
async fn categories(app: &TestApp) -> Vec<Value> {
    app.get("/categories", None)
        .await
        .expect(200)
        .body
        .as_array()
        .expect("a list")
        .clone()
}

fn category<'a>(all: &'a [Value], name: &str) -> Option<&'a Value> {
    all.iter().find(|c| c["name"] == name)
}

/// Whether `body` holds `raw` HTML-escaped (either style of entity).
fn escaped(body: &str, raw: &str) -> bool {
    let named = raw.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let numeric = raw.replace('&', "&#38;").replace('<', "&#60;").replace('>', "&#62;");
    body.contains(&named) || body.contains(&numeric)
}

async fn audit_total(app: &TestApp, admin: &str, action: &str) -> i64 {
    app.get(&format!("/admin/audit-log?action={action}"), Some(admin))
        .await
        .expect(200)
        .body["total"]
        .as_i64()
        .unwrap_or_default()
}

// ---- tests ----

async fn dashboard_draws_the_last_30_days_with_text_alternatives_and_top_vendors(app: TestApp) {
    let Scene { ana, bo, customer, .. } = Scene::new(&app).await;
    let panel = Panel::new(&app, "Root").await;
    // An empty marketplace still draws every chart (30 flat bars) and says so in words.
    let empty = panel.get(&app, "/admin").await.expect_html(200);
    empty
        .has(r#"<svg class="chart""#)
        .has(r#"aria-labelledby="chart-gmv-title chart-gmv-desc""#)
        .has("Gross merchandise value, last 30 days: nothing from")
        .has("No sales in this window yet.")
        // The figure cards stay.
        .has("<dt>Gross merchandise value</dt><dd>0.00 USD</dd>");
    assert_eq!(empty.body.matches("<svg class=\"chart\"").count(), 3, "GMV, orders, new users");
    assert_eq!(empty.body.matches("<rect ").count(), 90, "30 days × 3 charts");

    paid_digital_order(&app, &ana.user.access, &customer.access, "Colour study", 12_345).await;
    paid_digital_order(&app, &bo.user.access, &customer.access, "Brush pack", 999).await;
    let page = panel.get(&app, "/admin").await.expect_html(200);
    let today = chrono::Utc::now().date_naive().to_string();
    page.has(r#"<desc id="chart-gmv-desc">Gross merchandise value, last 30 days: 133.44 USD from "#)
        .has(&format!("highest 133.44 USD on {today}."))
        .has(r#"<desc id="chart-orders-desc">Paid orders, last 30 days: 2 from "#)
        // New users: the customer, the two artists, the API admin and this one.
        .has("New users, last 30 days: 5 from")
        // Each chart's figures as a table for keyboard and screen reader users.
        .has("<summary>Gross merchandise value, last 30 days: the figures as a table</summary>")
        .has(&format!(r#"<tr><td>{today}</td><td class="num">133.44 USD</td></tr>"#))
        .has(r#"<th scope="col">Day</th>"#)
        // Top vendors, best first, with a link to their orders.
        .has(&format!(r#"<a href="/admin/orders?vendor={}">Ana Oils</a>"#, ana.id))
        .has("<dt>Gross merchandise value</dt><dd>133.44 USD</dd>")
        .lacks("<script");
    let (ana_at, bo_at) = (page.body.find(">Ana Oils<").unwrap(), page.body.find(">Bo Pixels<").unwrap());
    assert!(ana_at < bo_at, "ranked by gross");
    // The stylesheet styles the charts.
    let css = reqwest::get(format!("{}/admin/panel.css", app.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(css.contains(".chart-box") && css.contains(".charts"));
}

async fn analytics_page_groups_by_interval_and_refuses_bad_input_with_422(app: TestApp) {
    let Scene { ana, customer, .. } = Scene::new(&app).await;
    let panel = Panel::new(&app, "Root").await;
    // A painting (in "Oil paintings") and a digital study, one paid order.
    let painting = text(&physical(&app, &ana.user.access, "Harbour at dawn", 20_000, 2).await, "id");
    add_to_cart(&app, &customer.access, &painting, 1).await;
    let placed = checkout(&app, &customer.access, Some(address())).await;
    crate::vendor_dashboard::pay(&app, &placed).await;

    let nav = panel.get(&app, "/admin").await.expect_html(200);
    nav.has(r#"<a href="/admin/analytics">Analytics</a>"#);

    let page = panel.get(&app, "/admin/analytics").await.expect_html(200);
    page.has(r#"<a href="/admin/analytics" class="current" aria-current="page">Analytics</a>"#)
        .has(r#"<input type="date" name="from""#)
        .has(r#"<option value="day" selected>day</option>"#)
        .has(r#"id="chart-commission-desc""#)
        .has("Harbour at dawn")
        .has("Oil paintings")
        .has("Ana Oils")
        .has("200.00 USD")
        .has("<caption>Top products</caption>");
    assert_eq!(
        page.body.matches("<svg class=\"chart\"").count(),
        4,
        "GMV, commission, orders, users"
    );

    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::Days::new(70);
    let weekly = panel
        .get(&app, &format!("/admin/analytics?from={from}&to={today}&interval=week"))
        .await
        .expect_html(200);
    weekly
        .has(r#"<option value="week" selected>week</option>"#)
        .has(&format!(r#"value="{from}""#))
        .has(r#"<th scope="col">Week of</th>"#)
        .has("Gross merchandise value per week");
    let monthly = panel
        .get(&app, &format!("/admin/analytics?from={from}&to={today}&interval=month"))
        .await
        .expect_html(200);
    monthly.has(&format!("<td>{}</td>", today.format("%Y-%m"))).has("200.00 USD");
    // An old window: no sales, still charts.
    panel
        .get(&app, "/admin/analytics?from=2025-01-01&to=2025-01-31")
        .await
        .expect_html(200)
        .has("nothing from 2025-01-01 to 2025-01-31")
        .lacks("Harbour at dawn");

    // Bad input: a 422 page naming the field, never a 500.
    for (query, named) in [
        ("from=yesterday", "<strong>from</strong>"),
        ("to=2026-13-40", "<strong>to</strong>"),
        ("interval=hour", "<strong>interval</strong>"),
        ("from=2026-05-02&to=2026-05-01", "<strong>from</strong> must not be after"),
        ("from=1990-01-01&to=2026-01-01&interval=day", "<strong>from</strong>"),
        ("from=x&to=y&interval=z", "<strong>interval</strong>"),
    ] {
        let refused = panel.get(&app, &format!("/admin/analytics?{query}")).await.expect_html(422);
        refused.has(named).has("422");
    }
}

async fn categories_are_created_renamed_moved_and_deleted_with_the_apis_refusals(app: TestApp) {
    let Scene { admin, ana, .. } = Scene::new(&app).await;
    let panel = Panel::new(&app, "Root").await;
    let seeded = categories(&app).await.len();
    let page = panel.get(&app, "/admin/categories").await.expect_html(200);
    // The seeded tree: children indented under their parent with their path.
    page.has(r#"<a href="/admin/categories" class="current" aria-current="page">Categories</a>"#)
        .has(r#"<td class="indent-1"><strong>Oil paintings</strong><br><small>Paintings › Oil paintings · oil-paintings</small>"#)
        .has(r#"<td class="indent-0"><strong>Paintings</strong>"#)
        .has(&format!("{seeded} categories."));
    let (paintings, oil) = (
        page.body.find(">Paintings</strong>").unwrap(),
        page.body.find(">Oil paintings</strong>").unwrap(),
    );
    assert!(paintings < oil, "children follow their parent");

    // Without the token, or with a wrong one: 403 and nothing created.
    panel
        .post_with_token(&app, "/admin/categories", None, &[("name", "Murals")])
        .await
        .expect_html(403);
    panel
        .post_with_token(&app, "/admin/categories", Some("00ff"), &[("name", "Murals")])
        .await
        .expect_html(403);
    assert_eq!(categories(&app).await.len(), seeded);

    // Create a top-level one and two below it.
    panel
        .post(&app, "/admin/categories", &[("name", "Murals"), ("parent", "")])
        .await
        .expect_redirect("/admin/categories?done=category+created");
    let murals = text(category(&categories(&app).await, "Murals").expect("created"), "id");
    panel
        .post(&app, "/admin/categories", &[("name", "Street murals"), ("parent", &murals)])
        .await
        .expect_redirect("/admin/categories?done=category+created");
    let street = text(category(&categories(&app).await, "Street murals").unwrap(), "id");
    panel
        .post(&app, "/admin/categories", &[("name", "Tiny murals"), ("parent", &street)])
        .await
        .expect_redirect("/admin/categories?done=category+created");
    let tiny = text(category(&categories(&app).await, "Tiny murals").unwrap(), "id");
    let tree = panel.get(&app, "/admin/categories?done=category+created").await.expect_html(200);
    tree.has("Done: category created")
        .has(r#"<td class="indent-2"><strong>Tiny murals</strong><br><small>Murals › Street murals › Tiny murals"#);
    assert_eq!(audit_total(&app, &admin.access, "category.create").await, 3);

    // The API's refusals, as readable pages: a taken name (slug), a blank name, an unknown parent.
    panel
        .post(&app, "/admin/categories", &[("name", "Murals")])
        .await
        .expect_html(409)
        .has("a category with this slug already exists");
    panel
        .post(&app, "/admin/categories", &[("name", "   ")])
        .await
        .expect_html(422)
        .has("<strong>name</strong> must be 1 to 80 characters");
    panel
        .post(
            &app,
            "/admin/categories",
            &[("name", "Lost"), ("parent", &uuid::Uuid::now_v7().to_string())],
        )
        .await
        .expect_html(422)
        .has("<strong>parent_id</strong> no such category");
    assert_eq!(categories(&app).await.len(), seeded + 3);

    // Moving under itself or a descendant is refused; the move form does not even offer those.
    let row_of = |body: &str, id: &str| {
        let start = body.find(&format!(r#"action="/admin/categories/{id}/move""#)).unwrap();
        body[start..start + body[start..].find("</form>").unwrap()].to_owned()
    };
    let murals_row = row_of(&tree.body, &murals);
    assert!(!murals_row.contains(&format!(r#"value="{tiny}""#)) && !murals_row.contains(&format!(r#"value="{murals}""#)));
    assert!(murals_row.contains(r#"<option value="" selected>top level</option>"#));
    for target in [&tiny, &murals] {
        panel
            .post(&app, &format!("/admin/categories/{murals}/move"), &[("parent", target)])
            .await
            .expect_html(422)
            .has("a category cannot be moved under itself or its descendants");
    }
    // Move "Tiny murals" to the top level, then under "Prints"; rename "Street murals".
    panel
        .post(&app, &format!("/admin/categories/{tiny}/move"), &[("parent", "")])
        .await
        .expect_redirect("/admin/categories?done=category+moved");
    assert!(category(&categories(&app).await, "Tiny murals").unwrap()["parent_id"].is_null());
    let prints = text(category(&categories(&app).await, "Prints").unwrap(), "id");
    panel
        .post(&app, &format!("/admin/categories/{tiny}/move"), &[("parent", &prints)])
        .await
        .expect_redirect("/admin/categories?done=category+moved");
    assert_eq!(
        category(&categories(&app).await, "Tiny murals").unwrap()["parent_id"],
        prints.as_str()
    );
    panel
        .post(&app, &format!("/admin/categories/{street}/rename"), &[("name", "Wall art")])
        .await
        .expect_redirect("/admin/categories?done=category+renamed");
    assert!(category(&categories(&app).await, "Wall art").is_some());
    panel
        .post(&app, &format!("/admin/categories/{street}/rename"), &[("name", "")])
        .await
        .expect_html(422)
        .has("<strong>name</strong>");
    // A wrong session token changes nothing.
    panel
        .post_with_token(
            &app,
            &format!("/admin/categories/{street}/rename"),
            Some("abcd"),
            &[("name", "Hacked")],
        )
        .await
        .expect_html(403);
    assert!(category(&categories(&app).await, "Hacked").is_none());

    // Delete: refused while it has children or works, as the API refuses.
    panel
        .post(&app, &format!("/admin/categories/{murals}/delete"), &[])
        .await
        .expect_html(409)
        .has("the category still has products or child categories");
    crate::catalog_support::published_painting(&app, &ana.user.access, "Harbour at dawn", 10_000).await;
    let oil = text(category(&categories(&app).await, "Oil paintings").unwrap(), "id");
    panel
        .post(&app, &format!("/admin/categories/{oil}/delete"), &[])
        .await
        .expect_html(409);
    // A leaf without works goes.
    panel
        .post(&app, &format!("/admin/categories/{street}/delete"), &[])
        .await
        .expect_redirect("/admin/categories?done=category+deleted");
    assert!(category(&categories(&app).await, "Wall art").is_none());
    assert_eq!(audit_total(&app, &admin.access, "category.delete").await, 1);
    assert_eq!(audit_total(&app, &admin.access, "category.update").await, 3);
    // Unknown ids and actions are 404 pages.
    panel
        .post(&app, &format!("/admin/categories/{street}/delete"), &[])
        .await
        .expect_html(404);
    panel.post(&app, "/admin/categories/not-an-id/delete", &[]).await.expect_html(404);
    panel
        .post(&app, &format!("/admin/categories/{murals}/explode"), &[])
        .await
        .expect_html(404);

    // The name filter shows matches flat with their path; many categories page.
    panel
        .get(&app, "/admin/categories?q=TINY")
        .await
        .expect_html(200)
        .has("<strong>Tiny murals</strong><br><small>Prints › Tiny murals")
        .lacks("<strong>Murals</strong>");
    for i in 0..50 {
        app.post("/admin/categories", Some(&admin.access), json!({"name": format!("Series {i:02}")}))
            .await
            .expect(201);
    }
    let first = panel.get(&app, "/admin/categories").await.expect_html(200);
    first.has("Page 1 of 2").has(r#"href="/admin/categories?page=2""#);
    panel
        .get(&app, "/admin/categories?page=2")
        .await
        .expect_html(200)
        .has("Page 2 of 2");
    panel
        .get(&app, "/admin/categories?q=series&page=1")
        .await
        .expect_html(200)
        .has("Page 1 of 1 (50 in all)");
    panel.get(&app, "/admin/categories?page=zero").await.expect_html(422);
}

async fn commission_override_is_set_shown_and_cleared(app: TestApp) {
    let Scene { admin, ana, .. } = Scene::new(&app).await;
    let panel = Panel::new(&app, "Root").await;
    let path = format!("/admin/vendors/{}/commission", ana.id);
    let bps = || async {
        let page = app.get("/admin/vendors", Some(&admin.access)).await.expect(200).body;
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == ana.id.as_str())
            .unwrap()["commission_bps"]
            .clone()
    };
    let list = panel.get(&app, "/admin/vendors").await.expect_html(200);
    list.has("10.00 % (default)")
        .has(&format!(r#"action="{path}""#))
        .has(&format!(r#"<label for="commission-{}">Commission %</label>"#, ana.id));

    // CSRF first: nothing changes.
    panel
        .post_with_token(&app, &path, None, &[("commission_percent", "12.5")])
        .await
        .expect_html(403);
    assert!(bps().await.is_null());

    panel
        .post(&app, &path, &[("commission_percent", "12.5")])
        .await
        .expect_redirect("/admin/vendors?done=commission+set");
    assert_eq!(bps().await, 1250);
    let list = panel.get(&app, "/admin/vendors?done=commission+set").await.expect_html(200);
    list.has("Done: commission set")
        .has("<strong>12.50 %</strong>")
        .has(r#"value="12.50""#);
    assert_eq!(audit_total(&app, &admin.access, "vendor.set_commission").await, 1);
    // Zero is an override too; blank goes back to the default.
    panel
        .post(&app, &path, &[("commission_percent", "0")])
        .await
        .expect_redirect("/admin/vendors?done=commission+set");
    assert_eq!(bps().await, 0);
    panel
        .post(&app, &path, &[("commission_percent", "")])
        .await
        .expect_redirect("/admin/vendors?done=commission+reset+to+the+default");
    assert!(bps().await.is_null());
    // Bad values name the field.
    for bad in ["150", "abc", "-3", "12.345"] {
        panel
            .post(&app, &path, &[("commission_percent", bad)])
            .await
            .expect_html(422)
            .has("<strong>commission_percent</strong>");
    }
    assert!(bps().await.is_null());
    panel
        .post(
            &app,
            &format!("/admin/vendors/{}/commission", uuid::Uuid::now_v7()),
            &[("commission_percent", "5")],
        )
        .await
        .expect_html(404);
    // The override applies to the next sale: 12.5 % of 100.00 USD.
    panel.post(&app, &path, &[("commission_percent", "12.5")]).await;
    let customer = app.register("buyer@example.com").await;
    let order = paid_digital_order(&app, &ana.user.access, &customer.access, "Colour study", 10_000).await;
    panel
        .get(&app, &format!("/admin/orders/{order}"))
        .await
        .expect_html(200)
        .has("<dt>Commission</dt><dd>12.50 USD</dd>");
}

async fn lists_filter_by_vendor_dates_and_actor(app: TestApp) {
    let Scene { ana, bo, customer, .. } = Scene::new(&app).await;
    let panel = Panel::new(&app, "Root").await;
    let ana_order = paid_digital_order(&app, &ana.user.access, &customer.access, "Colour study", 10_000).await;
    let bo_order = paid_digital_order(&app, &bo.user.access, &customer.access, "Brush pack", 999).await;

    // Orders by vendor and by day.
    let by_ana = panel.get(&app, &format!("/admin/orders?vendor={}", ana.id)).await.expect_html(200);
    by_ana
        .has(&format!("/admin/orders/{ana_order}"))
        .lacks(&format!("/admin/orders/{bo_order}"))
        .has(&format!(r#"name="vendor" value="{}""#, ana.id));
    let today = chrono::Utc::now().date_naive();
    panel
        .get(&app, &format!("/admin/orders?from={today}&to={today}"))
        .await
        .expect_html(200)
        .has(&format!("/admin/orders/{ana_order}"))
        .has(&format!("/admin/orders/{bo_order}"));
    panel
        .get(&app, "/admin/orders?from=2020-01-01&to=2020-01-31")
        .await
        .expect_html(200)
        .has("No orders.");
    // Payouts by vendor.
    let payout = app
        .post("/vendor/payouts", Some(&ana.user.access), json!({"amount_cents": 1_000}))
        .await
        .expect(201)
        .body;
    panel
        .get(&app, &format!("/admin/payouts?vendor={}", ana.id))
        .await
        .expect_html(200)
        .has(&text(&payout, "id"));
    panel
        .get(&app, &format!("/admin/payouts?vendor={}", bo.id))
        .await
        .expect_html(200)
        .has("No payout requests.");
    // The vendors list links to both.
    panel
        .get(&app, "/admin/vendors")
        .await
        .expect_html(200)
        .has(&format!(r#"<a href="/admin/orders?vendor={}">Orders</a>"#, ana.id))
        .has(&format!(r#"<a href="/admin/payouts?vendor={}">Payouts</a>"#, ana.id));

    // The audit log by actor (this admin's actions only) and by day.
    panel
        .post(&app, &format!("/admin/payouts/{}/approve", text(&payout, "id")), &[])
        .await
        .expect_redirect("/admin/payouts?done=payout+approved");
    let mine = panel.get(&app, &format!("/admin/audit?actor={}", panel.id)).await.expect_html(200);
    mine.has("<td>payout.approve</td>")
        .lacks("<td>vendor.approve</td>")
        .has("(1 in all)");
    panel
        .get(&app, &format!("/admin/audit?action=vendor.approve&from={today}&to={today}"))
        .await
        .expect_html(200)
        .has("(2 in all)");
    panel
        .get(&app, "/admin/audit?action=vendor.approve&to=2020-01-01")
        .await
        .expect_html(200)
        .has("No entries.");
    // Pages keep the filters.
    let ops = Panel::new(&app, "Ops").await;
    for _ in 0..21 {
        ops.post(
            &app,
            &format!("/admin/vendors/{}/commission", bo.id),
            &[("commission_percent", "5")],
        )
        .await
        .expect_redirect("/admin/vendors?done=commission+set");
    }
    panel
        .get(&app, &format!("/admin/audit?actor={}", ops.id))
        .await
        .expect_html(200)
        .has(&format!("/admin/audit?actor={}&", ops.id))
        .has("page=2");

    for bad in [
        "/admin/orders?vendor=nobody",
        "/admin/orders?from=last-week",
        "/admin/orders?to=2026-02-30",
        "/admin/payouts?vendor=42",
        "/admin/audit?actor=me",
        "/admin/audit?from=soon",
    ] {
        panel.get(&app, bad).await.expect_html(422);
    }
}

async fn refund_needs_its_confirmation_box(app: TestApp) {
    let Scene { ana, customer, .. } = Scene::new(&app).await;
    let panel = Panel::new(&app, "Root").await;
    let order = paid_digital_order(&app, &ana.user.access, &customer.access, "Colour study", 4_200).await;
    let status = || async { app.get(&format!("/orders/{order}"), Some(&customer.access)).await.expect(200).body["status"].clone() };
    let detail = panel.get(&app, &format!("/admin/orders/{order}")).await.expect_html(200);
    detail
        .has(r#"<input type="checkbox" id="refund-confirm" name="confirm" value="yes" required>"#)
        .has(r#"<label for="refund-confirm">I confirm: refund 42.00 USD to the buyer in full."#);
    let refund = format!("/admin/orders/{order}/refund");
    for fields in [&[][..], &[("confirm", "no")][..], &[("confirm", "")][..]] {
        panel
            .post(&app, &refund, fields)
            .await
            .expect_html(422)
            .has("<strong>confirm</strong> tick the box to confirm the refund");
    }
    panel
        .post_with_token(&app, &refund, None, &[("confirm", "yes")])
        .await
        .expect_html(403);
    assert_eq!(status().await, "completed");
    panel
        .post(&app, &refund, &[("confirm", "yes")])
        .await
        .expect_redirect(&format!("/admin/orders/{order}?done=order+refunded"));
    assert_eq!(status().await, "refunded");
}

async fn vendors_and_customers_are_kept_out_of_the_new_pages(app: TestApp) {
    let Scene { ana, customer, .. } = Scene::new(&app).await;
    // A vendor cannot sign in to the panel…
    let page = read(client().get(format!("{}/admin/login", app.base)).send().await.unwrap()).await;
    let nonce = cookie_value(&set_cookie(&page, "kalavpp_admin_login").unwrap());
    post_raw(
        &app,
        "/admin/login",
        &format!("kalavpp_admin_login={nonce}"),
        &[("csrf", &page.csrf()), ("email", "ana@example.com"), ("password", PASSWORD)],
    )
    .await
    .expect_html(401);
    // …and its own session tokens (or a customer's) get no page and change nothing.
    let prints = text(category(&categories(&app).await, "Prints").unwrap(), "id");
    for cookie in [&ana.user.refresh, &ana.user.access, &customer.refresh] {
        for path in [
            "/admin/analytics",
            "/admin/categories",
            "/admin/vendors",
            "/admin/analytics?from=bad",
        ] {
            get(&app, path, cookie).await.expect_redirect("/admin/login");
        }
        let cookies = format!("kalavpp_admin={cookie}");
        for (path, fields) in [
            ("/admin/categories".to_owned(), vec![("name", "Vendor made")]),
            (format!("/admin/categories/{prints}/rename"), vec![("name", "Vendor renamed")]),
            (format!("/admin/categories/{prints}/delete"), vec![]),
            (format!("/admin/vendors/{}/commission", ana.id), vec![("commission_percent", "0")]),
        ] {
            let mut all = vec![("csrf", "00")];
            all.extend(fields);
            post_raw(&app, &path, &cookies, &all).await.expect_redirect("/admin/login");
        }
    }
    let now = categories(&app).await;
    assert!(category(&now, "Vendor made").is_none() && category(&now, "Vendor renamed").is_none());
    assert!(category(&now, "Prints").is_some());
    let admin = app.admin().await;
    let vendors = app.get("/admin/vendors", Some(&admin.access)).await.expect(200).body;
    assert!(vendors["items"].as_array().unwrap().iter().all(|v| v["commission_bps"].is_null()));
}

async fn shop_and_category_names_are_escaped_everywhere(app: TestApp) {
    let admin = app.admin().await;
    let evil = "<script>alert('shop')</script> & Co";
    let shop = approved_shop(&app, &admin, "evil@example.com", evil).await;
    let customer = app.register("cat@example.com").await;
    paid_digital_order(&app, &shop.user.access, &customer.access, "<img src=x onerror=alert(1)>", 5_000).await;
    let panel = Panel::new(&app, "Root").await;
    panel
        .post(&app, "/admin/categories", &[("name", "<script>alert('cat')</script>")])
        .await
        .expect_redirect("/admin/categories?done=category+created");
    for path in ["/admin", "/admin/analytics", "/admin/vendors", "/admin/categories"] {
        let page = panel.get(&app, path).await.expect_html(200);
        page.lacks("<script").lacks("<img src=x");
        assert!(escaped(&page.body, "<script>alert("), "{path}: {}", page.body);
    }
    let analytics = panel.get(&app, "/admin/analytics").await.expect_html(200);
    assert!(escaped(&analytics.body, "<img src=x onerror=alert(1)>"), "{}", analytics.body);
    // A crafted outcome message is not shown.
    panel
        .get(&app, "/admin/categories?done=%3Cscript%3E")
        .await
        .expect_html(200)
        .lacks("Done:");
}
