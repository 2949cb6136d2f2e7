//! The admin's user management: list, filter, suspend, promote, with the audit log.

use serde_json::json;

use crate::helpers::{TestApp, on_both_backends};

on_both_backends!(
    only_admins_reach_admin_routes,
    admin_lists_and_filters_users,
    admin_changes_are_audited,
    suspending_an_artists_account_closes_the_shop
);

async fn only_admins_reach_admin_routes(app: TestApp) {
    let customer = app.register("kim@example.com").await;
    for path in ["/admin/users", "/admin/emails", "/admin/audit-log"] {
        app.get(path, None).await.expect_problem(401, "authentication_required");
        app.get(path, Some(&customer.access)).await.expect_problem(403, "admin_only");
    }
    let target = format!("/admin/users/{}", customer.id);
    app.patch(&target, None, json!({"role": "admin"})).await.expect(401);
    app.patch(&target, Some(&customer.access), json!({"role": "admin"}))
        .await
        .expect_problem(403, "admin_only");
    let me = app.get("/auth/me", Some(&customer.access)).await.expect(200);
    assert_eq!(me.body["role"], "customer");
}

async fn admin_lists_and_filters_users(app: TestApp) {
    let admin = app.admin().await;
    for email in ["lou@example.com", "mae@example.com", "ned@sample.org", "odd_name@example.com"] {
        app.register(email).await;
    }
    let all = app.get("/admin/users", Some(&admin.access)).await.expect(200);
    assert_eq!(all.body["total"], 5);
    assert_eq!(all.body["page"], 1);
    assert_eq!(all.body["per_page"], 20);
    // Newest first.
    assert_eq!(all.body["items"][0]["email"], "odd_name@example.com");

    let sample = app.get("/admin/users?q=SAMPLE", Some(&admin.access)).await.expect(200);
    assert_eq!(sample.body["total"], 1);
    assert_eq!(sample.body["items"][0]["email"], "ned@sample.org");
    // `_` and `%` are literal characters, not wildcards.
    assert_eq!(
        app.get("/admin/users?q=d_n", Some(&admin.access)).await.expect(200).body["total"],
        1
    );
    assert_eq!(
        app.get("/admin/users?q=%25", Some(&admin.access)).await.expect(200).body["total"],
        0
    );

    let customers = app.get("/admin/users?role=customer", Some(&admin.access)).await.expect(200);
    assert_eq!(customers.body["total"], 4);
    let admins = app
        .get("/admin/users?role=admin&status=active", Some(&admin.access))
        .await
        .expect(200);
    assert_eq!(admins.body["total"], 1);

    let paged = app.get("/admin/users?per_page=2&page=2", Some(&admin.access)).await.expect(200);
    assert_eq!(paged.body["items"].as_array().unwrap().len(), 2);
    assert_eq!(paged.body["per_page"], 2);
    let clamped = app
        .get("/admin/users?per_page=100000&page=99999999999", Some(&admin.access))
        .await
        .expect(200);
    assert_eq!(clamped.body["per_page"], 100);
    assert_eq!(clamped.body["items"].as_array().unwrap().len(), 0);
    // Below 1 is not a page (the OpenAPI document says `minimum: 1`); above the limits is clamped.
    let negative = app
        .get("/admin/users?per_page=-5&page=0", Some(&admin.access))
        .await
        .expect_problem(422, "validation_failed");
    let mut fields = negative.fields();
    fields.sort();
    assert_eq!(fields, vec!["page", "per_page"]);

    let bad = app
        .get("/admin/users?page=abc", Some(&admin.access))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(bad.fields(), vec!["page"]);
    let bad = app
        .get("/admin/users?role=emperor", Some(&admin.access))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(bad.fields(), vec!["role"]);
}

async fn admin_changes_are_audited(app: TestApp) {
    let admin = app.admin().await;
    let pia = app.register("pia@example.com").await;
    let target = format!("/admin/users/{}", pia.id);

    let promoted = app.patch(&target, Some(&admin.access), json!({"role": "admin"})).await.expect(200);
    assert_eq!(promoted.body["role"], "admin");
    // The promotion takes effect at once, with the token Pia already has.
    app.get("/admin/users", Some(&pia.access)).await.expect(200);
    app.patch(&target, Some(&admin.access), json!({"role": "customer", "status": "suspended"}))
        .await
        .expect(200);

    let log = app.get("/admin/audit-log", Some(&admin.access)).await.expect(200);
    assert_eq!(log.body["total"], 2, "{}", log.body);
    let latest = &log.body["items"][0];
    assert_eq!(latest["action"], "user.update");
    assert_eq!(latest["actor_id"], admin.id.as_str());
    assert_eq!(latest["target_type"], "user");
    assert_eq!(latest["target_id"], pia.id.as_str());
    assert_eq!(latest["details"]["status"]["to"], "suspended");
    assert_eq!(latest["details"]["role"]["from"], "admin");
    let filtered = app
        .get(
            &format!("/admin/audit-log?actor={}&action=user.update&from=2000-01-01", admin.id),
            Some(&admin.access),
        )
        .await
        .expect(200);
    assert_eq!(filtered.body["total"], 2);
    let none = app.get("/admin/audit-log?to=2000-01-01", Some(&admin.access)).await.expect(200);
    assert_eq!(none.body["total"], 0);
    app.get("/admin/audit-log?from=yesterday", Some(&admin.access))
        .await
        .expect_problem(422, "validation_failed");

    // Refused changes leave no audit row.
    let vendor = app.patch(&target, Some(&admin.access), json!({"role": "vendor"})).await.expect(422);
    assert_eq!(vendor.fields(), vec!["role"]);
    app.patch(&target, Some(&admin.access), json!({"status": "banned"}))
        .await
        .expect(422);
    app.patch(&target, Some(&admin.access), json!({})).await.expect(422);
    app.patch(&target, Some(&admin.access), json!({"email": "x@example.com"}))
        .await
        .expect(422);
    app.patch(
        "/admin/users/01a217ba-ff35-76c9-bdb0-60e20e42ddc8",
        Some(&admin.access),
        json!({"status": "active"}),
    )
    .await
    .expect_problem(404, "user_not_found");
    app.patch("/admin/users/not-a-uuid", Some(&admin.access), json!({"status": "active"}))
        .await
        .expect(404);
    app.patch(
        &format!("/admin/users/{}", admin.id),
        Some(&admin.access),
        json!({"status": "suspended"}),
    )
    .await
    .expect_problem(409, "cannot_demote_self");
    let log = app.get("/admin/audit-log", Some(&admin.access)).await.expect(200);
    assert_eq!(log.body["total"], 2);
}

async fn suspending_an_artists_account_closes_the_shop(app: TestApp) {
    let admin = app.admin().await;
    let shop = crate::catalog_support::approved_shop(&app, &admin, "ivy@example.com", "Ivy Inks").await;
    let work = crate::payment_support::physical(&app, &shop.user.access, "Ink heron", 12_000, 2).await;
    let slug = work["slug"].as_str().unwrap().to_owned();
    app.get(&format!("/products/{slug}"), None).await.expect(200);
    assert_eq!(app.get("/products?q=heron", None).await.expect(200).body["total"], 1);

    app.patch(
        &format!("/admin/users/{}", shop.user.id),
        Some(&admin.access),
        json!({"status": "suspended"}),
    )
    .await
    .expect(200);
    // The works leave the catalogue and the shop's page closes.
    app.get(&format!("/products/{slug}"), None).await.expect(404);
    assert_eq!(app.get("/products?q=heron", None).await.expect(200).body["total"], 0);
    let vendor = app
        .get("/admin/vendors?status=suspended", Some(&admin.access))
        .await
        .expect(200)
        .body;
    assert_eq!(vendor["total"], 1, "{vendor}");
    // Reactivating the account does not reopen the shop by itself.
    app.patch(
        &format!("/admin/users/{}", shop.user.id),
        Some(&admin.access),
        json!({"status": "active"}),
    )
    .await
    .expect(200);
    app.get(&format!("/products/{slug}"), None).await.expect(404);
}
