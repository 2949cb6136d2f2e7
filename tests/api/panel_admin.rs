//! The admin panel's core-backed pages: sessions with an idle and an absolute limit, failed
//! emails retried from `/admin/emails`, product moderation at `/admin/products` and the
//! read-only `/admin/settings`. Every page renders for an admin, every form needs its CSRF token
//! (refusals change nothing), signed-in non-admins are kept out and user text is escaped; on
//! SQLite and PostgreSQL.

use std::time::Duration;

use chrono::{SecondsFormat, TimeDelta, Utc};
use kalavpp_core::auth::Actor;
use kalavpp_core::services::ProductSearch;
use serde_json::Value;

use crate::browser_support::{Browser, backend_name, browser_available};
use crate::catalog_support::{approved_shop, create_product, painting, published_painting, text};
use crate::helpers::{Backend, JWT_REFRESH_SECRET, JWT_SECRET, PASSWORD, TestApp, on_both_backends, spawn_app, spawn_app_at};
use crate::panel_support::{Html, client, cookie_value, read};
use crate::smtp_sink::{Mode, SmtpSink, with_smtp_sink};

on_both_backends!(
    panel_sessions_have_an_absolute_limit_and_storefront_sessions_do_not,
    idle_panel_sessions_end_and_activity_keeps_them_alive,
    products_are_searched_filtered_and_paginated,
    products_are_archived_and_restored_with_csrf_and_audit,
    new_pages_keep_non_admins_out_and_escape_user_text,
);

with_smtp_sink!(failed_email_retried_in_the_panel_is_delivered, new_pages_in_chromium_pass_axe);

fn mail_settings(smtp_url: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("SMTP_URL", smtp_url),
        ("EMAIL_FROM", "shop@kalavpp.test"),
        ("MAIL_POLL_INTERVAL_MS", "50"),
        ("MAIL_MAX_ATTEMPTS", "2"),
        ("MAIL_RETRY_BASE_MS", "50"),
    ]
}

// ---- a small browser without cookie store or redirects ----

async fn get_with_cookies(app: &TestApp, path: &str, cookies: &str) -> Html {
    let mut request = client().get(format!("{}{path}", app.base));
    if !cookies.is_empty() {
        request = request.header("cookie", cookies);
    }
    read(request.send().await.expect("GET")).await
}

async fn get(app: &TestApp, path: &str, cookie: &str) -> Html {
    get_with_cookies(app, path, &format!("kalavpp_admin={cookie}")).await
}

async fn post_with_cookies(app: &TestApp, path: &str, cookies: &str, fields: &[(&str, &str)]) -> Html {
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

async fn post(app: &TestApp, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Html {
    post_with_cookies(app, path, &format!("kalavpp_admin={cookie}"), fields).await
}

/// A signed-in panel session.
struct Panel {
    cookie: String,
    csrf: String,
}

/// A new administrator (as `kalavpp create-admin` makes one): its email.
async fn new_admin(app: &TestApp, name: &str) -> String {
    let email = format!("{}-{}@kalavpp.test", name.to_lowercase(), uuid::Uuid::new_v4().simple());
    app.market
        .accounts()
        .create_admin(&Actor::System, &email, PASSWORD, name)
        .await
        .expect("create admin");
    email
}

/// Signs in through the login form as a browser would.
async fn sign_in(app: &TestApp, email: &str) -> Panel {
    let page = get_with_cookies(app, "/admin/login", "").await.expect_html(200);
    let nonce = cookie_value(&page.set_cookie("kalavpp_admin_login").expect("login nonce cookie"));
    let reply = post_with_cookies(
        app,
        "/admin/login",
        &format!("kalavpp_admin_login={nonce}"),
        &[("csrf", &page.csrf()), ("email", email), ("password", PASSWORD)],
    )
    .await
    .expect_redirect("/admin");
    let cookie = cookie_value(&reply.set_cookie("kalavpp_admin").expect("session cookie"));
    let dashboard = get(app, "/admin", &cookie).await.expect_html(200);
    Panel {
        csrf: dashboard.csrf(),
        cookie,
    }
}

// ---- direct SQL on the test database, to move session deadlines ----

/// A timestamp `offset` from now as the SQL literal both backends compare with their columns.
fn at(offset: TimeDelta) -> String {
    format!("'{}'", (Utc::now() + offset).to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// Runs `sql` (one statement, no parameters) on the server's database; returns the first column
/// of the first row as a number for queries, the changed rows for other statements.
async fn sql(app: &TestApp, statement: &str) -> i64 {
    let query = statement.trim_start().to_uppercase().starts_with("SELECT");
    match app.backend {
        Backend::Sqlite => {
            let path = app.database_url.trim_start_matches("sqlite://").to_owned();
            let statement = statement.to_owned();
            tokio::task::spawn_blocking(move || {
                let db = rusqlite::Connection::open(path).expect("open the SQLite file");
                db.busy_timeout(Duration::from_secs(10)).expect("busy timeout");
                if query {
                    db.query_row(&statement, [], |r| r.get::<_, i64>(0)).expect(&statement)
                } else {
                    db.execute(&statement, []).expect(&statement) as i64
                }
            })
            .await
            .expect("SQLite task")
        }
        Backend::Postgres => {
            let (client, connection) = tokio_postgres::connect(&app.database_url, tokio_postgres::NoTls)
                .await
                .expect("connect to PostgreSQL");
            tokio::spawn(connection);
            if query {
                client.query_one(statement, &[]).await.expect(statement).get::<_, i64>(0)
            } else {
                client.execute(statement, &[]).await.expect(statement) as i64
            }
        }
    }
}

/// `WHERE` clause of the sessions of the account `email`.
fn sessions_of(email: &str) -> String {
    format!("user_id = (SELECT id FROM users WHERE email = '{email}')")
}

// ---- sessions ----

async fn panel_sessions_have_an_absolute_limit_and_storefront_sessions_do_not(app: TestApp) {
    let email = new_admin(&app, "Root").await;
    let before = Utc::now();
    let panel = sign_in(&app, &email).await;
    let after = Utc::now();
    let of = sessions_of(&email);
    let lit = |t: chrono::DateTime<Utc>| format!("'{}'", t.to_rfc3339_opts(SecondsFormat::Micros, true));

    // Eight hours at most (the refresh TTL is seven days), thirty minutes of idling.
    let window = |from: TimeDelta| format!("BETWEEN {} AND {}", lit(before + from - TimeDelta::seconds(1)), lit(after + from));
    assert_eq!(
        sql(
            &app,
            &format!(
                "SELECT count(*) FROM sessions WHERE {of} AND expires_at {}",
                window(TimeDelta::hours(8))
            )
        )
        .await,
        1,
        "the panel session ends 8 hours after sign-in"
    );
    assert_eq!(
        sql(
            &app,
            &format!(
                "SELECT count(*) FROM sessions WHERE {of} AND idle_expires_at {}",
                window(TimeDelta::minutes(30))
            )
        )
        .await,
        1,
        "and 30 minutes after sign-in without activity"
    );

    // API (and storefront) logins keep the refresh TTL and have no idle limit.
    let customer = app.register("cat@example.com").await;
    let cat = sessions_of("cat@example.com");
    assert_eq!(
        sql(
            &app,
            &format!(
                "SELECT count(*) FROM sessions WHERE {cat} AND idle_expires_at IS NULL AND expires_at > {}",
                at(TimeDelta::days(6))
            )
        )
        .await,
        1
    );

    // Past its absolute end the panel session is refused, though it was never idle.
    sql(
        &app,
        &format!("UPDATE sessions SET expires_at = {} WHERE {of}", at(-TimeDelta::seconds(1))),
    )
    .await;
    let out = get(&app, "/admin/products", &panel.cookie).await.expect_redirect("/admin/login");
    assert!(
        out.set_cookie("kalavpp_admin").is_some_and(|c| c.contains("Max-Age=0")),
        "the cookie is dropped"
    );
    post(
        &app,
        "/admin/emails/0190aaaa-0000-7000-8000-000000000000/retry",
        &panel.cookie,
        &[("csrf", &panel.csrf)],
    )
    .await
    .expect_redirect("/admin/login");
    // The customer's session is untouched by all this.
    app.get("/auth/me", Some(&customer.access)).await.expect(200);
    // Signing in again starts a fresh session.
    let again = sign_in(&app, &email).await;
    get(&app, "/admin/settings", &again.cookie).await.expect_html(200);
}

async fn idle_panel_sessions_end_and_activity_keeps_them_alive(app: TestApp) {
    let email = new_admin(&app, "Root").await;
    let panel = sign_in(&app, &email).await;
    let of = sessions_of(&email);
    let idle_after = |offset: TimeDelta| format!("SELECT count(*) FROM sessions WHERE {of} AND idle_expires_at > {}", at(offset));

    // Page views within a minute of the last write do not write again.
    sql(
        &app,
        &format!(
            "UPDATE sessions SET idle_expires_at = {} WHERE {of}",
            at(TimeDelta::minutes(29) + TimeDelta::seconds(30))
        ),
    )
    .await;
    get(&app, "/admin/products", &panel.cookie).await.expect_html(200);
    assert_eq!(
        sql(&app, &idle_after(TimeDelta::minutes(29) + TimeDelta::seconds(45))).await,
        0,
        "throttled: no write"
    );

    // As if the last activity was two minutes ago: a request pushes the deadline to 30 minutes
    // from now, so the session outlives its old deadline.
    sql(
        &app,
        &format!("UPDATE sessions SET idle_expires_at = {} WHERE {of}", at(TimeDelta::minutes(28))),
    )
    .await;
    let floor = idle_after(TimeDelta::minutes(30) - TimeDelta::seconds(1));
    get(&app, "/admin/emails", &panel.cookie).await.expect_html(200);
    assert_eq!(sql(&app, &floor).await, 1, "activity pushed the idle deadline");
    let ceiling = format!(
        "SELECT count(*) FROM sessions WHERE {of} AND idle_expires_at > {}",
        at(TimeDelta::minutes(31))
    );
    assert_eq!(sql(&app, &ceiling).await, 0, "to a full idle limit, no more");

    // Thirty minutes without a request: refused, sent to the login page with the reason, and
    // the session is ended for good.
    sql(
        &app,
        &format!("UPDATE sessions SET idle_expires_at = {} WHERE {of}", at(-TimeDelta::seconds(1))),
    )
    .await;
    let out = get(&app, "/admin/products", &panel.cookie)
        .await
        .expect_redirect("/admin/login?done=signed+out+after+inactivity");
    assert!(
        out.set_cookie("kalavpp_admin").is_some_and(|c| c.contains("Max-Age=0")),
        "the cookie is dropped"
    );
    assert_eq!(
        sql(
            &app,
            &format!("SELECT count(*) FROM sessions WHERE {of} AND revoked_at IS NOT NULL")
        )
        .await,
        1,
        "the session is ended in the database"
    );
    let login = get_with_cookies(&app, "/admin/login?done=signed+out+after+inactivity", "")
        .await
        .expect_html(200);
    assert!(login.body.contains("Done: signed out after inactivity"), "{}", login.body);

    // Even with its deadline moved forward again it stays ended; forms too.
    sql(
        &app,
        &format!("UPDATE sessions SET idle_expires_at = {} WHERE {of}", at(TimeDelta::minutes(30))),
    )
    .await;
    get(&app, "/admin", &panel.cookie).await.expect_redirect("/admin/login");
    post(&app, "/admin/logout", &panel.cookie, &[("csrf", &panel.csrf)])
        .await
        .expect_redirect("/admin/login");
    let fresh = sign_in(&app, &email).await;
    get(&app, "/admin/products", &fresh.cookie).await.expect_html(200);
}

// ---- emails ----

/// The outbox row of the welcome email to `recipient` once its status is `status` (up to 15 s).
async fn outbox_row(app: &TestApp, admin: &str, recipient: &str, status: &str) -> Value {
    let mut last = Value::Null;
    for _ in 0..300 {
        let page = app
            .get(&format!("/admin/emails?recipient={recipient}&template=welcome"), Some(admin))
            .await
            .expect(200)
            .body;
        last = page["items"][0].clone();
        if last["status"] == status {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the welcome email to {recipient} never became {status}; last seen: {last}");
}

async fn failed_email_retried_in_the_panel_is_delivered(app: TestApp, sink: SmtpSink) {
    let api_admin = app.admin().await;
    let email = new_admin(&app, "Root").await;
    let panel = sign_in(&app, &email).await;

    // The mail server refuses the recipient for good: the welcome email fails.
    sink.set_mode(Mode::Refuse(550));
    let customer = app.register("fay@example.com").await;
    let row = outbox_row(&app, &api_admin.access, "fay@example.com", "failed").await;
    let id = text(&row, "id");
    let retry = format!("/admin/emails/{id}/retry");

    // The failed row has a Retry form with the session's token; other rows do not.
    let list = get(&app, "/admin/emails?status=failed", &panel.cookie).await.expect_html(200);
    assert!(
        list.body.contains(&format!(
            r#"<form method="post" action="{retry}"><input type="hidden" name="csrf" value="{}">"#,
            panel.csrf
        )),
        "{}",
        list.body
    );
    assert!(list.body.contains("permanent"), "the error is shown: {}", list.body);

    // No token, another session's token, a customer's session: refused, nothing changes.
    post(&app, &retry, &panel.cookie, &[]).await.expect_html(403);
    let other = sign_in(&app, &new_admin(&app, "Ops").await).await;
    post(&app, &retry, &panel.cookie, &[("csrf", &other.csrf)]).await.expect_html(403);
    post(&app, &retry, &customer.refresh, &[("csrf", &panel.csrf)])
        .await
        .expect_redirect("/admin/login");
    sink.set_mode(Mode::Accept);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        outbox_row(&app, &api_admin.access, "fay@example.com", "failed").await["attempts"],
        row["attempts"]
    );
    assert!(sink.messages_to("fay@example.com").is_empty());

    // Retried through the panel, the worker delivers it.
    post(&app, &retry, &panel.cookie, &[("csrf", &panel.csrf)])
        .await
        .expect_redirect("/admin/emails?done=email+queued+again");
    sink.wait_for("fay@example.com", "Welcome to KALAVPP").await;
    let sent = outbox_row(&app, &api_admin.access, "fay@example.com", "sent").await;
    assert_eq!(sent["attempts"], 1, "attempts start over: {sent}");
    let audit = get(&app, "/admin/audit?action=email.retry", &panel.cookie).await.expect_html(200);
    assert!(audit.body.contains(&format!("email {id}")), "{}", audit.body);
    assert!(audit.body.contains("1 in all"), "one audit row: {}", audit.body);
    let listed = get(&app, "/admin/emails?status=sent", &panel.cookie).await.expect_html(200);
    assert!(!listed.body.contains(&retry), "no Retry on a sent email");

    // A sent email cannot be retried (409 page), unknown and malformed ids are 404 pages.
    let refused = post(&app, &retry, &panel.cookie, &[("csrf", &panel.csrf)]).await.expect_html(409);
    assert!(refused.body.contains("only a failed email can be retried"), "{}", refused.body);
    post(
        &app,
        "/admin/emails/0190aaaa-0000-7000-8000-000000000000/retry",
        &panel.cookie,
        &[("csrf", &panel.csrf)],
    )
    .await
    .expect_html(404);
    post(&app, "/admin/emails/not-an-id/retry", &panel.cookie, &[("csrf", &panel.csrf)])
        .await
        .expect_html(404);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sink.messages_to("fay@example.com").len(), 1, "delivered once");
}

// ---- products ----

async fn products_are_searched_filtered_and_paginated(app: TestApp) {
    let api_admin = app.admin().await;
    let panel = sign_in(&app, &new_admin(&app, "Root").await).await;
    let ana = approved_shop(&app, &api_admin, "ana@example.com", "Ana Oils").await;
    let bo = approved_shop(&app, &api_admin, "bo@example.com", "Bo Prints").await;
    let lagoon = published_painting(&app, &ana.user.access, "Blue Lagoon", 5_000).await;
    let harbour = published_painting(&app, &bo.user.access, "Harbour at Dusk", 7_000).await;
    for n in 0..21 {
        create_product(&app, &ana.user.access, painting(&format!("Study {n:02}"), 1_000 + n)).await;
    }

    let all = get(&app, "/admin/products", &panel.cookie).await.expect_html(200);
    assert!(all.body.contains("<h1>Products</h1>"), "{}", all.body);
    assert!(
        all.body
            .contains(r#"<a href="/admin/products" class="current" aria-current="page">Products</a>"#),
        "the nav marks the page: {}",
        all.body
    );
    assert!(all.body.contains("Page 1 of 2 (23 in all)"), "{}", all.body);
    assert!(
        all.body.contains("Study 19") && !all.body.contains("Blue Lagoon"),
        "newest first, 20 a page"
    );
    assert!(all.body.contains(r#"href="/admin/products?page=2""#), "{}", all.body);
    let second = get(&app, "/admin/products?page=2", &panel.cookie).await.expect_html(200);
    assert!(
        second.body.contains("Blue Lagoon") && second.body.contains("Harbour at Dusk"),
        "{}",
        second.body
    );
    assert!(second.body.contains("Page 2 of 2"), "{}", second.body);

    // Text (title or slug, any case), status and vendor (slug or id) filters, kept by the pager.
    let found = get(&app, "/admin/products?q=LAGOON", &panel.cookie).await.expect_html(200);
    assert!(
        found.body.contains("Blue Lagoon") && !found.body.contains("Harbour"),
        "{}",
        found.body
    );
    assert!(found.body.contains(r#"value="LAGOON""#), "the query stays in the form");
    let by_slug = get(&app, &format!("/admin/products?q={}", text(&harbour, "slug")), &panel.cookie)
        .await
        .expect_html(200);
    assert!(
        by_slug.body.contains("Harbour at Dusk") && by_slug.body.contains("(1 in all)"),
        "{}",
        by_slug.body
    );
    let published = get(&app, "/admin/products?status=published", &panel.cookie).await.expect_html(200);
    assert!(published.body.contains("(2 in all)"), "{}", published.body);
    assert!(
        published.body.contains(r#"<option value="published" selected>"#),
        "{}",
        published.body
    );
    let drafts = get(&app, "/admin/products?status=draft", &panel.cookie).await.expect_html(200);
    assert!(drafts.body.contains("(21 in all)"), "{}", drafts.body);
    assert!(
        ["&amp;", "&#38;", "&#x26;"]
            .iter()
            .any(|amp| drafts.body.contains(&format!(r#"href="/admin/products?status=draft{amp}page=2""#))),
        "the next link keeps the filter: {}",
        drafts.body
    );
    let of_bo = get(&app, &format!("/admin/products?vendor={}", bo.slug), &panel.cookie)
        .await
        .expect_html(200);
    assert!(
        of_bo.body.contains("Harbour at Dusk") && of_bo.body.contains("(1 in all)"),
        "{}",
        of_bo.body
    );
    let of_ana = get(&app, &format!("/admin/products?vendor={}&status=published", ana.id), &panel.cookie)
        .await
        .expect_html(200);
    assert!(
        of_ana.body.contains("Blue Lagoon") && of_ana.body.contains("(1 in all)"),
        "{}",
        of_ana.body
    );
    let nobody = get(&app, "/admin/products?vendor=no-such-shop", &panel.cookie)
        .await
        .expect_html(200);
    assert!(
        nobody.body.contains("No products match.") && nobody.body.contains("(0 in all)"),
        "{}",
        nobody.body
    );
    let wildcard = get(&app, "/admin/products?q=%25", &panel.cookie).await.expect_html(200);
    assert!(wildcard.body.contains("No products match."), "% is literal: {}", wildcard.body);

    // Bad filters are 422 pages, not errors.
    get(&app, "/admin/products?status=gone", &panel.cookie).await.expect_html(422);
    get(&app, "/admin/products?page=x", &panel.cookie).await.expect_html(422);
    let long = "a".repeat(201);
    get(&app, &format!("/admin/products?q={long}"), &panel.cookie)
        .await
        .expect_html(422);
    assert!(second.body.contains(&format!("/admin/products/{}/archive", text(&lagoon, "id"))));
}

/// The status of product `id` as its vendor (`token`) sees it through the API.
async fn product_status(app: &TestApp, id: &str, token: &str) -> String {
    text(&app.get(&format!("/products/{id}"), Some(token)).await.expect(200).body, "status")
}

async fn products_are_archived_and_restored_with_csrf_and_audit(app: TestApp) {
    let api_admin = app.admin().await;
    let panel = sign_in(&app, &new_admin(&app, "Root").await).await;
    let ana = approved_shop(&app, &api_admin, "ana@example.com", "Ana Oils").await;
    let lagoon = published_painting(&app, &ana.user.access, "Blue Lagoon", 5_000).await;
    let (id, slug) = (text(&lagoon, "id"), text(&lagoon, "slug"));
    let archive = format!("/admin/products/{id}/archive");
    let restore = format!("/admin/products/{id}/restore");
    let token = ana.user.access.clone();

    let list = get(&app, "/admin/products", &panel.cookie).await.expect_html(200);
    assert!(list.body.contains(&format!(r#"action="{archive}""#)), "{}", list.body);
    assert!(!list.body.contains(&restore), "no Restore on a published product");

    // Without the token, or with another session's: 403 and the product stays published.
    post(&app, &archive, &panel.cookie, &[]).await.expect_html(403);
    post(&app, &archive, &panel.cookie, &[("csrf", "0000")]).await.expect_html(403);
    let other = sign_in(&app, &new_admin(&app, "Ops").await).await;
    post(&app, &archive, &panel.cookie, &[("csrf", &other.csrf)]).await.expect_html(403);
    assert_eq!(product_status(&app, &id, &token).await, "published");

    // Archived through the panel: gone from the public catalog, audited.
    post(&app, &archive, &panel.cookie, &[("csrf", &panel.csrf)])
        .await
        .expect_redirect("/admin/products?done=product+archived");
    assert_eq!(product_status(&app, &id, &token).await, "archived");
    app.get(&format!("/products/{slug}"), None).await.expect(404);
    let shown = get(&app, "/admin/products?status=archived&done=product+archived", &panel.cookie)
        .await
        .expect_html(200);
    assert!(shown.body.contains("Done: product archived"), "{}", shown.body);
    assert!(shown.body.contains(&format!(r#"action="{restore}""#)), "{}", shown.body);
    let audit = get(&app, "/admin/audit?action=product.archive", &panel.cookie)
        .await
        .expect_html(200);
    assert!(audit.body.contains(&format!("product {id}")), "{}", audit.body);

    // Restored: published again, audited as an admin edit of the status.
    post(&app, &restore, &panel.cookie, &[]).await.expect_html(403);
    assert_eq!(product_status(&app, &id, &token).await, "archived");
    post(&app, &restore, &panel.cookie, &[("csrf", &panel.csrf)])
        .await
        .expect_redirect("/admin/products?done=product+restored");
    assert_eq!(product_status(&app, &id, &token).await, "published");
    app.get(&format!("/products/{slug}"), None).await.expect(200);
    let audit = get(&app, "/admin/audit?action=product.update", &panel.cookie)
        .await
        .expect_html(200);
    assert!(
        audit.body.contains(&format!("product {id}")) && audit.body.contains("status"),
        "{}",
        audit.body
    );

    // An action returns to the list as it was: its filters and page, nothing else.
    let filtered = get(&app, "/admin/products?status=published&q=blue", &panel.cookie)
        .await
        .expect_html(200);
    let back = {
        let marker = r#"name="back" value=""#;
        let start = filtered.body.find(marker).expect("a back field") + marker.len();
        filtered.body[start..]
            .split('"')
            .next()
            .unwrap_or_default()
            .replace("&amp;", "&")
            .replace("&#38;", "&")
    };
    assert_eq!(back, "q=blue&status=published");
    post(&app, &archive, &panel.cookie, &[("csrf", &panel.csrf), ("back", &back)])
        .await
        .expect_redirect("/admin/products?q=blue&status=published&done=product+archived");
    post(
        &app,
        &restore,
        &panel.cookie,
        &[("csrf", &panel.csrf), ("back", "page=2&next=https://evil.example&done=x")],
    )
    .await
    .expect_redirect("/admin/products?page=2&done=product+restored");
    assert_eq!(product_status(&app, &id, &token).await, "published");

    // The services' refusals are error pages: unknown product, unknown action, malformed id.
    let unknown = "/admin/products/0190aaaa-0000-7000-8000-000000000000/archive";
    post(&app, unknown, &panel.cookie, &[("csrf", &panel.csrf)]).await.expect_html(404);
    post(
        &app,
        &format!("/admin/products/{id}/delete"),
        &panel.cookie,
        &[("csrf", &panel.csrf)],
    )
    .await
    .expect_html(404);
    post(&app, "/admin/products/x/archive", &panel.cookie, &[("csrf", &panel.csrf)])
        .await
        .expect_html(404);
    assert_eq!(product_status(&app, &id, &token).await, "published");
}

// ---- access and escaping ----

async fn new_pages_keep_non_admins_out_and_escape_user_text(app: TestApp) {
    let api_admin = app.admin().await;
    let panel = sign_in(&app, &new_admin(&app, "Root").await).await;
    let shop = approved_shop(&app, &api_admin, "evil@example.com", "<script>alert(1)</script> Shop").await;
    let evil = published_painting(&app, &shop.user.access, "<img src=x onerror=alert(2)> Painting", 4_000).await;
    let id = text(&evil, "id");

    let products = get(&app, "/admin/products", &panel.cookie).await.expect_html(200);
    assert!(
        !products.body.contains("<script>alert(1)") && !products.body.contains("<img src=x"),
        "{}",
        products.body
    );
    assert!(
        products.body.contains("&#60;img src=x onerror=alert(2)&#62;") || products.body.contains("&lt;img src=x onerror=alert(2)&gt;"),
        "{}",
        products.body
    );
    let search = get(
        &app,
        "/admin/products?q=%22%3E%3Cb%3Ebold%3C/b%3E&vendor=%22%3E%3Ci%3E",
        &panel.cookie,
    )
    .await
    .expect_html(200);
    assert!(
        !search.body.contains("<b>bold</b>") && !search.body.contains("\"><i>"),
        "{}",
        search.body
    );
    let crafted = get(&app, "/admin/settings?done=%3Cscript%3Ealert(3)%3C/script%3E", &panel.cookie)
        .await
        .expect_html(200);
    assert!(
        !crafted.body.contains("alert(3)"),
        "unknown outcomes are not shown: {}",
        crafted.body
    );

    // Every new page renders for the admin and is marked in the navigation.
    for (path, heading, nav) in [
        ("/admin/products", "<h1>Products</h1>", "Products"),
        ("/admin/settings", "<h1>Settings</h1>", "Settings"),
        ("/admin/emails", "<h1>Emails</h1>", "Emails"),
    ] {
        let page = get(&app, path, &panel.cookie).await.expect_html(200);
        assert!(page.body.contains(heading), "{path}: {}", page.body);
        assert!(page.body.contains(&format!(r#"<a href="{path}""#)) && page.body.contains(&format!(">{nav}</a>")));
        assert_eq!(
            page.headers.get("cache-control").and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{path}"
        );
    }

    // A customer's and a vendor's own login sessions are no way in: to the login page, nothing
    // changes, and their sessions are ended.
    let customer = app.register("cat@example.com").await;
    for token in [&customer.refresh, &shop.user.refresh] {
        for path in ["/admin/products", "/admin/settings", "/admin/emails"] {
            get(&app, path, token).await.expect_redirect("/admin/login");
        }
        post(&app, &format!("/admin/products/{id}/archive"), token, &[("csrf", &panel.csrf)])
            .await
            .expect_redirect("/admin/login");
    }
    assert_eq!(
        text(&app.get(&format!("/products/{id}"), None).await.expect(200).body, "status"),
        "published"
    );
    // The services themselves refuse non-admins, whatever calls them.
    let cat = app.market.accounts().authenticate(&customer.access).await;
    assert!(cat.is_err(), "the customer's session ended when it knocked on the panel");
    let me = app.register("dan@example.com").await;
    let dan = app.market.accounts().authenticate(&me.access).await.expect("a customer actor");
    let email_id = kalavpp_core::domain::EmailId::new();
    assert!(matches!(
        app.market.admin().retry_email(&dan, email_id).await,
        Err(kalavpp_core::Error::Forbidden { .. })
    ));
    assert!(matches!(
        app.market
            .admin()
            .list_products(&dan, ProductSearch::default(), kalavpp_core::domain::PageRequest::new(1, 20))
            .await,
        Err(kalavpp_core::Error::Forbidden { .. })
    ));

    // Without any session: to the login page.
    for path in ["/admin/products", "/admin/settings"] {
        get_with_cookies(&app, path, "").await.expect_redirect("/admin/login");
    }
    post_with_cookies(&app, &format!("/admin/products/{id}/archive"), "", &[("csrf", &panel.csrf)])
        .await
        .expect_redirect("/admin/login");
}

// ---- settings ----

const STRIPE_KEY: &str = "sk_test_panel-settings-secret-key";
const WEBHOOK_SECRET: &str = "whsec_panel-settings-webhook-secret";
const SMTP_PASSWORD: &str = "smtp-panel-password-value";
const METRICS_TOKEN: &str = "metrics-panel-token-0123456789";
const DB_PASSWORD: &str = "pg-panel-password-value";

/// Starts a server with every secret set (and, on PostgreSQL, a password in the database URL).
async fn app_with_secrets(backend: Backend) -> Option<TestApp> {
    let smtp = format!("smtp://mailer:{SMTP_PASSWORD}@127.0.0.1:9");
    let overrides = [
        ("STRIPE_SECRET_KEY", STRIPE_KEY),
        ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
        ("STRIPE_API_BASE", "http://127.0.0.1:9"),
        ("SMTP_URL", smtp.as_str()),
        ("EMAIL_FROM", "shop@kalavpp.test"),
        ("METRICS_TOKEN", METRICS_TOKEN),
    ];
    match backend {
        Backend::Sqlite => spawn_app(Backend::Sqlite, &overrides).await,
        Backend::Postgres => {
            let base = std::env::var("KALAVPP_TEST_POSTGRES_URL").ok().filter(|u| !u.trim().is_empty())?;
            let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await.expect("connect");
            tokio::spawn(connection);
            let schema = format!("e2e_{}", uuid::Uuid::new_v4().simple());
            client
                .batch_execute(&format!("CREATE SCHEMA {schema}"))
                .await
                .expect("create schema");
            // A password in the URL (the test server trusts local connections and ignores it).
            let with_password = match base
                .split_once("://")
                .and_then(|(scheme, rest)| rest.split_once('@').map(|(user, host)| (scheme, user, host)))
            {
                Some((scheme, user, host)) => format!("{scheme}://{}:{DB_PASSWORD}@{host}", user.split(':').next().unwrap_or(user)),
                None => base.clone(),
            };
            let separator = if with_password.contains('?') { '&' } else { '?' };
            let url = format!("{with_password}{separator}options=-c%20search_path%3D{schema}");
            let dir = tempfile::tempdir().expect("temp dir");
            Some(spawn_app_at(Backend::Postgres, &url, dir, &overrides).await)
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_page_masks_every_secret_sqlite() {
    let app = app_with_secrets(Backend::Sqlite).await.expect("sqlite app");
    settings_page_masks_every_secret(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_page_masks_every_secret_postgres() {
    let Some(app) = app_with_secrets(Backend::Postgres).await else {
        return;
    };
    assert!(app.database_url.contains(DB_PASSWORD), "the test runs with a database password");
    settings_page_masks_every_secret(app).await;
}

async fn settings_page_masks_every_secret(app: TestApp) {
    let panel = sign_in(&app, &new_admin(&app, "Root").await).await;
    let page = get(&app, "/admin/settings", &panel.cookie).await.expect_html(200);
    let body = &page.body;
    for secret in [
        JWT_SECRET,
        JWT_REFRESH_SECRET,
        STRIPE_KEY,
        WEBHOOK_SECRET,
        SMTP_PASSWORD,
        METRICS_TOKEN,
        DB_PASSWORD,
    ] {
        assert!(!body.contains(secret), "{secret} shows on the settings page");
    }
    assert!(!body.contains("mailer"), "not even the SMTP user");
    for shown in [
        "JWT_SECRET",
        "STRIPE_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "METRICS_TOKEN",
        "SMTP_URL",
        "smtp://127.0.0.1:9",
        "Stripe",
        "Admin panel idle timeout</th><td></td><td>30 min",
        "Admin panel session limit</th><td></td><td>8 h",
        "<th scope=\"row\">Database URL</th>",
    ] {
        assert!(body.contains(shown), "{shown} in {body}");
    }
    assert_eq!(body.matches("•••••• (set)").count(), 6, "six secrets, each masked: {body}");
    match app.backend {
        Backend::Postgres => assert!(body.contains(":***@"), "the database password is masked: {body}"),
        Backend::Sqlite => assert!(body.contains("sqlite://"), "{body}"),
    }
    // The page has no forms but sign-out: it changes nothing.
    assert_eq!(body.matches("<form").count(), 1, "{body}");
}

// ---- in a real browser ----

async fn new_pages_in_chromium_pass_axe(app: TestApp, sink: SmtpSink) {
    if !browser_available() {
        return;
    }
    let api_admin = app.admin().await;
    let email = new_admin(&app, "Root").await;
    let shop = approved_shop(&app, &api_admin, "ana@example.com", "Ana <Oils>").await;
    published_painting(&app, &shop.user.access, "Blue <Lagoon>", 5_000).await;
    create_product(&app, &shop.user.access, painting("Harbour draft", 2_000)).await;
    sink.set_mode(Mode::Refuse(550));
    app.register("fay@example.com").await;
    outbox_row(&app, &api_admin.access, "fay@example.com", "failed").await;

    let mut browser = Browser::start("panel-admin-e2e", backend_name(&app)).await;
    let base = app.base.clone();
    browser.goto(&format!("{base}/admin/login")).await;
    browser.fill("input[name=email]", &email).await;
    browser.fill("input[name=password]", PASSWORD).await;
    browser.submit("form.stack button[type=submit]").await;
    assert_eq!(browser.path().await, "/admin");

    browser.click_link("Products").await;
    assert!(browser.text().await.contains("Blue <Lagoon>"), "{}", browser.text().await);
    browser.check("products").await;
    browser.fill("input[name=q]", "lagoon").await;
    browser.submit(".filters button[type=submit]").await;
    let found = browser.text().await;
    assert!(found.contains("Blue <Lagoon>") && !found.contains("Harbour draft"), "{found}");
    browser.check("products-search").await;
    browser.submit("form[action$='/archive'] button").await;
    assert_eq!(
        browser.path().await,
        "/admin/products?q=lagoon&done=product+archived",
        "back to the same search"
    );
    browser.check("product-archived").await;
    browser.submit("form[action$='/restore'] button").await;
    assert_eq!(browser.path().await, "/admin/products?q=lagoon&done=product+restored");

    browser.goto(&format!("{base}/admin/emails?status=failed")).await;
    assert!(browser.text().await.contains("fay@example.com"));
    browser.check("emails-failed").await;
    sink.set_mode(Mode::Accept);
    browser.submit("form[action$='/retry'] button").await;
    assert_eq!(browser.path().await, "/admin/emails?done=email+queued+again");
    browser.check("email-retried").await;
    sink.wait_for("fay@example.com", "Welcome to KALAVPP").await;

    browser.click_link("Settings").await;
    assert!(browser.text().await.contains("Admin panel idle timeout"));
    browser.check("settings").await;
}
