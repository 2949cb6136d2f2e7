//! The seed's vendor flow over HTTP: apply, wait for approval, list, publish, get suspended and
//! reinstated; and the admin's decisions on applications.

use serde_json::{Value, json};

use crate::catalog_support::{
    UNKNOWN_ID, add_image, approved_shop, category_count, create_product, get_raw, ids, painting, path_of, png_rgba, text,
};
use crate::helpers::{TestApp, on_both_backends};

on_both_backends!(
    apply_approve_sell_suspend_reinstate,
    rejection_and_reapplication,
    invalid_transitions_and_unknown_vendors,
    commission_override,
    vendor_profile_edits,
);

async fn emails(app: &TestApp, admin: &str, template: &str) -> Value {
    app.get(&format!("/admin/emails?template={template}"), Some(admin))
        .await
        .expect(200)
        .body
}

async fn audit(app: &TestApp, admin: &str, action: &str) -> Value {
    app.get(&format!("/admin/audit-log?action={action}"), Some(admin))
        .await
        .expect(200)
        .body
}

async fn apply_approve_sell_suspend_reinstate(app: TestApp) {
    let admin = app.admin().await;
    let ana = app.register("ana@example.com").await;

    // Apply: pending, with a slug made from the shop name.
    let applied = app
        .post(
            "/vendors/apply",
            Some(&ana.access),
            json!({"shop_name": "Blue Heron Studio", "bio": "Oils of the estuary.", "payout_details": {"iban": "DE89370400440532013000"}}),
        )
        .await
        .expect(201);
    assert_eq!(applied.body["status"], "pending");
    assert_eq!(applied.body["slug"], "blue-heron-studio");
    assert_eq!(applied.body["shop_name"], "Blue Heron Studio");
    assert_eq!(applied.body["user_id"], ana.id.as_str());
    assert!(applied.body["rejection_reason"].is_null());
    let vendor_id = text(&applied.body, "id");
    let slug = text(&applied.body, "slug");

    // Pending: cannot sell, not public, still a customer.
    app.post("/products", Some(&ana.access), painting("Estuary at dusk", 125_000))
        .await
        .expect_problem(403, "vendor_not_approved");
    app.get(&format!("/vendors/{slug}"), None)
        .await
        .expect_problem(404, "vendor_not_found");
    app.get(&format!("/vendors/{vendor_id}"), None).await.expect(404);
    assert_eq!(app.get("/vendors", None).await.expect(200).body["total"], 0);
    let me = app.get("/auth/me", Some(&ana.access)).await.expect(200);
    assert_eq!(me.body["role"], "customer");
    assert_eq!(me.body["vendor"]["status"], "pending");
    let mine = app.get("/vendor/me", Some(&ana.access)).await.expect(200);
    assert_eq!(mine.body["status"], "pending");
    assert_eq!(mine.body["payout_details"]["iban"], "DE89370400440532013000");

    // The admin sees the application in the queue.
    app.get("/admin/vendors?status=pending", Some(&ana.access))
        .await
        .expect_problem(403, "admin_only");
    let queue = app.get("/admin/vendors?status=pending", Some(&admin.access)).await.expect(200);
    assert_eq!(queue.body["total"], 1);
    assert_eq!(ids(&queue.body), vec![vendor_id.clone()]);
    let approved = app.get("/admin/vendors?status=approved", Some(&admin.access)).await.expect(200);
    assert_eq!(approved.body["total"], 0);
    let bad = app
        .get("/admin/vendors?status=emperor", Some(&admin.access))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(bad.fields(), vec!["status"]);

    // Approval: role vendor, an email and an audit row.
    let decided = app
        .post(&format!("/admin/vendors/{vendor_id}/approve"), Some(&admin.access), json!({}))
        .await
        .expect(200);
    assert_eq!(decided.body["status"], "approved");
    assert!(decided.body["approved_at"].is_string());
    let me = app.get("/auth/me", Some(&ana.access)).await.expect(200);
    assert_eq!(me.body["role"], "vendor");
    assert_eq!(me.body["vendor"]["id"], vendor_id.as_str());
    assert_eq!(me.body["vendor"]["slug"], slug.as_str());
    assert_eq!(me.body["vendor"]["status"], "approved");
    let sent = emails(&app, &admin.access, "vendor_approved").await;
    assert_eq!(sent["total"], 1, "{sent}");
    assert_eq!(sent["items"][0]["recipient"], "ana@example.com");
    let log = audit(&app, &admin.access, "vendor.approve").await;
    assert_eq!(log["total"], 1, "{log}");
    assert_eq!(log["items"][0]["actor_id"], admin.id.as_str());
    assert_eq!(log["items"][0]["target_type"], "vendor");
    assert_eq!(log["items"][0]["target_id"], vendor_id.as_str());
    assert_eq!(
        app.get("/admin/vendors?status=pending", Some(&admin.access)).await.expect(200).body["total"],
        0
    );

    // A physical painting, draft by default: only its vendor sees it.
    let product = create_product(&app, &ana.access, painting("Estuary at dusk", 125_000)).await;
    assert_eq!(product["status"], "draft");
    assert_eq!(product["kind"], "physical");
    assert_eq!(product["stock"], 1);
    assert_eq!(product["price_cents"], 125_000);
    assert_eq!(product["currency"], "usd");
    assert_eq!(product["vendor"]["id"], vendor_id.as_str());
    assert_eq!(product["vendor"]["slug"], slug.as_str());
    assert_eq!(product["category"]["slug"], "oil-paintings");
    assert_eq!(product["images"], json!([]));
    let product_id = text(&product, "id");
    let product_slug = text(&product, "slug");
    assert_eq!(product_slug, "estuary-at-dusk");
    assert_eq!(app.get("/products", None).await.expect(200).body["total"], 0);
    app.get(&format!("/products/{product_slug}"), None)
        .await
        .expect_problem(404, "product_not_found");
    app.get(&format!("/products/{product_slug}"), Some(&ana.access)).await.expect(200);

    // An image: stored, re-encoded, thumbnailed, served from /media with long cache headers.
    let image = add_image(&app, &product_id, &ana.access, png_rgba(800, 600)).await;
    assert_eq!(image["width"], 800);
    assert_eq!(image["height"], 600);
    for (key, size) in [("url", (800, 600)), ("thumb_url", (400, 300))] {
        let path = path_of(&text(&image, key));
        assert!(path.starts_with("/media/"), "{path}");
        let response = get_raw(&app, &path).await;
        assert_eq!(response.status().as_u16(), 200, "{path}");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(header("cache-control").contains("immutable"), "{}", header("cache-control"));
        assert!(header("cache-control").contains("max-age="), "{}", header("cache-control"));
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("content-type"), "image/png");
        let bytes = response.bytes().await.expect("image bytes");
        let decoded = image::load_from_memory(&bytes).expect("a real image");
        assert_eq!((decoded.width(), decoded.height()), size);
    }

    // Publish: visible everywhere.
    let published = app
        .patch(
            &format!("/products/{product_id}"),
            Some(&ana.access),
            json!({"status": "published"}),
        )
        .await
        .expect(200);
    assert_eq!(published.body["status"], "published");
    let assert_visible = |expected: bool| {
        let app = &app;
        let product_id = product_id.clone();
        let product_slug = product_slug.clone();
        let slug = slug.clone();
        async move {
            let listed = app.get("/products", None).await.expect(200);
            let by_vendor = app.get(&format!("/products?vendor={slug}"), None).await.expect(200);
            let searched = app.get("/products?q=estuary", None).await.expect(200);
            if expected {
                assert_eq!(ids(&listed.body), vec![product_id.clone()]);
                assert_eq!(listed.body["items"][0]["images"].as_array().unwrap().len(), 1);
                assert_eq!(ids(&by_vendor.body), vec![product_id.clone()]);
                assert_eq!(ids(&searched.body), vec![product_id.clone()]);
                let detail = app.get(&format!("/products/{product_slug}"), None).await.expect(200);
                assert_eq!(detail.body["id"], product_id.as_str());
                assert_eq!(detail.body["images"].as_array().unwrap().len(), 1);
                app.get(&format!("/products/{product_id}"), None).await.expect(200);
                let shop = app.get(&format!("/vendors/{slug}"), None).await.expect(200);
                assert_eq!(shop.body["shop_name"], "Blue Heron Studio");
                assert_eq!(shop.body["product_count"], 1);
                assert!(shop.body.get("payout_details").is_none(), "payout details are private");
                assert_eq!(app.get("/vendors", None).await.expect(200).body["total"], 1);
                assert_eq!(category_count(app, "oil-paintings").await, 1);
                assert_eq!(category_count(app, "paintings").await, 1);
            } else {
                assert_eq!(listed.body["total"], 0, "{}", listed.body);
                assert_eq!(by_vendor.body["total"], 0);
                assert_eq!(searched.body["total"], 0);
                app.get(&format!("/products/{product_slug}"), None)
                    .await
                    .expect_problem(404, "product_not_found");
                app.get(&format!("/products/{product_id}"), None).await.expect(404);
                app.get(&format!("/vendors/{slug}"), None)
                    .await
                    .expect_problem(404, "vendor_not_found");
                assert_eq!(app.get("/vendors", None).await.expect(200).body["total"], 0);
                assert_eq!(category_count(app, "oil-paintings").await, 0);
                assert_eq!(category_count(app, "paintings").await, 0);
            }
            assert_eq!(category_count(app, "prints").await, 0);
        }
    };
    assert_visible(true).await;

    // Suspension hides the shop and its works at once; the vendor still sees its own.
    let suspended = app
        .post(&format!("/admin/vendors/{vendor_id}/suspend"), Some(&admin.access), json!({}))
        .await
        .expect(200);
    assert_eq!(suspended.body["status"], "suspended");
    assert_visible(false).await;
    let own = app.get("/vendor/products", Some(&ana.access)).await.expect(200);
    assert_eq!(ids(&own.body), vec![product_id.clone()]);
    assert_eq!(own.body["items"][0]["status"], "published");
    app.get(&format!("/products/{product_slug}"), Some(&ana.access)).await.expect(200);
    let me = app.get("/vendor/me", Some(&ana.access)).await.expect(200);
    assert_eq!(me.body["status"], "suspended");
    app.post("/products", Some(&ana.access), painting("Another one", 5_000))
        .await
        .expect_problem(403, "vendor_not_approved");
    app.patch(&format!("/products/{product_id}"), Some(&ana.access), json!({"price_cents": 1}))
        .await
        .expect(403);
    assert_eq!(emails(&app, &admin.access, "vendor_suspended").await["total"], 1);
    assert_eq!(audit(&app, &admin.access, "vendor.suspend").await["total"], 1);

    // Reinstatement brings everything back.
    let reinstated = app
        .post(&format!("/admin/vendors/{vendor_id}/reinstate"), Some(&admin.access), json!({}))
        .await
        .expect(200);
    assert_eq!(reinstated.body["status"], "approved");
    assert_visible(true).await;
    assert_eq!(audit(&app, &admin.access, "vendor.reinstate").await["total"], 1);
    assert_eq!(app.get("/auth/me", Some(&ana.access)).await.expect(200).body["role"], "vendor");
}

async fn rejection_and_reapplication(app: TestApp) {
    let admin = app.admin().await;
    let bo = app.register("bo@example.com").await;
    let applied = app
        .post("/vendors/apply", Some(&bo.access), json!({"shop_name": "Bo Prints"}))
        .await
        .expect(201);
    let vendor_id = text(&applied.body, "id");

    // A second application while pending.
    app.post("/vendors/apply", Some(&bo.access), json!({"shop_name": "Bo Prints Again"}))
        .await
        .expect_problem(409, "already_applied");

    // Rejection needs a reason.
    for reason in [json!(""), json!("   "), json!("x".repeat(1001))] {
        let reply = app
            .post(
                &format!("/admin/vendors/{vendor_id}/reject"),
                Some(&admin.access),
                json!({"reason": reason}),
            )
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.fields(), vec!["reason"]);
    }
    app.post(&format!("/admin/vendors/{vendor_id}/reject"), Some(&admin.access), json!({}))
        .await
        .expect(422);
    let rejected = app
        .post(
            &format!("/admin/vendors/{vendor_id}/reject"),
            Some(&admin.access),
            json!({"reason": "Please add photos of your work."}),
        )
        .await
        .expect(200);
    assert_eq!(rejected.body["status"], "rejected");
    assert_eq!(rejected.body["rejection_reason"], "Please add photos of your work.");
    let mine = app.get("/vendor/me", Some(&bo.access)).await.expect(200);
    assert_eq!(mine.body["status"], "rejected");
    assert_eq!(mine.body["rejection_reason"], "Please add photos of your work.");
    let sent = emails(&app, &admin.access, "vendor_rejected").await;
    assert_eq!(sent["total"], 1);
    assert_eq!(sent["items"][0]["recipient"], "bo@example.com");
    assert!(
        sent["items"][0]["body_text"]
            .as_str()
            .unwrap()
            .contains("Please add photos of your work."),
        "{sent}"
    );
    let log = audit(&app, &admin.access, "vendor.reject").await;
    assert_eq!(log["total"], 1);
    assert_eq!(log["items"][0]["details"]["reason"], "Please add photos of your work.");
    assert_eq!(app.get("/auth/me", Some(&bo.access)).await.expect(200).body["role"], "customer");
    app.post("/products", Some(&bo.access), painting("Nope", 100))
        .await
        .expect_problem(403, "vendor_not_approved");
    // A rejected application cannot be rejected again.
    app.post(
        &format!("/admin/vendors/{vendor_id}/reject"),
        Some(&admin.access),
        json!({"reason": "again"}),
    )
    .await
    .expect_problem(409, "invalid_vendor_transition");

    // Reapplying after a rejection goes back to pending, without the old reason.
    let again = app
        .post(
            "/vendors/apply",
            Some(&bo.access),
            json!({"shop_name": "Bo Fine Prints", "bio": "Now with photos."}),
        )
        .await
        .expect(201);
    assert_eq!(again.body["status"], "pending");
    assert!(again.body["rejection_reason"].is_null());
    assert_eq!(again.body["shop_name"], "Bo Fine Prints");
    let vendor_id = text(&again.body, "id");
    let queue = app.get("/admin/vendors?status=pending", Some(&admin.access)).await.expect(200);
    assert_eq!(ids(&queue.body), vec![vendor_id.clone()]);
    assert_eq!(
        app.get("/admin/vendors?status=rejected", Some(&admin.access))
            .await
            .expect(200)
            .body["total"],
        0
    );
    app.post("/vendors/apply", Some(&bo.access), json!({"shop_name": "Third time"}))
        .await
        .expect_problem(409, "already_applied");

    app.post(&format!("/admin/vendors/{vendor_id}/approve"), Some(&admin.access), json!({}))
        .await
        .expect(200);
    assert_eq!(app.get("/auth/me", Some(&bo.access)).await.expect(200).body["role"], "vendor");
    // An approved vendor cannot apply again either.
    app.post("/vendors/apply", Some(&bo.access), json!({"shop_name": "Bo Fourth"}))
        .await
        .expect_problem(409, "already_applied");

    // Same shop name, another applicant: a different, unique slug.
    let cy = app.register("cy@example.com").await;
    let clash = app
        .post("/vendors/apply", Some(&cy.access), json!({"shop_name": "Bo Fine Prints"}))
        .await
        .expect(201);
    assert_ne!(clash.body["slug"], again.body["slug"]);
    assert!(text(&clash.body, "slug").starts_with("bo-fine-prints"), "{}", clash.body);
}

async fn invalid_transitions_and_unknown_vendors(app: TestApp) {
    let admin = app.admin().await;
    let dee = app.register("dee@example.com").await;
    let vendor_id = text(
        &app.post("/vendors/apply", Some(&dee.access), json!({"shop_name": "Dee Ceramics"}))
            .await
            .expect(201)
            .body,
        "id",
    );
    let action = |verb: &str| format!("/admin/vendors/{vendor_id}/{verb}");

    // Nobody but an admin decides.
    app.post(&action("approve"), None, json!({})).await.expect(401);
    app.post(&action("approve"), Some(&dee.access), json!({}))
        .await
        .expect_problem(403, "admin_only");
    app.patch(
        &format!("/admin/vendors/{vendor_id}"),
        Some(&dee.access),
        json!({"commission_bps": 0}),
    )
    .await
    .expect_problem(403, "admin_only");

    for verb in ["suspend", "reinstate"] {
        app.post(&action(verb), Some(&admin.access), json!({}))
            .await
            .expect_problem(409, "invalid_vendor_transition");
    }
    app.post(&action("approve"), Some(&admin.access), json!({})).await.expect(200);
    app.post(&action("approve"), Some(&admin.access), json!({}))
        .await
        .expect_problem(409, "invalid_vendor_transition");
    app.post(&action("reject"), Some(&admin.access), json!({"reason": "too late"}))
        .await
        .expect_problem(409, "invalid_vendor_transition");
    app.post(&action("reinstate"), Some(&admin.access), json!({}))
        .await
        .expect_problem(409, "invalid_vendor_transition");
    app.post(&action("suspend"), Some(&admin.access), json!({})).await.expect(200);
    app.post(&action("suspend"), Some(&admin.access), json!({}))
        .await
        .expect_problem(409, "invalid_vendor_transition");
    app.post(&action("approve"), Some(&admin.access), json!({}))
        .await
        .expect_problem(409, "invalid_vendor_transition");
    // Only the two real decisions were audited; refused ones left no row.
    let log = app.get("/admin/audit-log", Some(&admin.access)).await.expect(200);
    let actions: Vec<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["vendor.suspend", "vendor.approve"]);

    for verb in ["approve", "suspend", "reinstate"] {
        app.post(&format!("/admin/vendors/{UNKNOWN_ID}/{verb}"), Some(&admin.access), json!({}))
            .await
            .expect_problem(404, "vendor_not_found");
        app.post(&format!("/admin/vendors/not-a-uuid/{verb}"), Some(&admin.access), json!({}))
            .await
            .expect(404);
    }
    app.post(
        &format!("/admin/vendors/{UNKNOWN_ID}/reject"),
        Some(&admin.access),
        json!({"reason": "no"}),
    )
    .await
    .expect_problem(404, "vendor_not_found");
    app.patch(
        &format!("/admin/vendors/{UNKNOWN_ID}"),
        Some(&admin.access),
        json!({"commission_bps": 5}),
    )
    .await
    .expect_problem(404, "vendor_not_found");
    app.get(&format!("/vendors/{UNKNOWN_ID}"), None)
        .await
        .expect_problem(404, "vendor_not_found");
    app.get("/vendors/no-such-shop", None).await.expect_problem(404, "vendor_not_found");

    // Admins cannot open a shop; customers without an application have no vendor profile.
    app.post("/vendors/apply", Some(&admin.access), json!({"shop_name": "Admin Shop"}))
        .await
        .expect(403);
    let eve = app.register("eve@example.com").await;
    app.get("/vendor/me", Some(&eve.access))
        .await
        .expect_problem(404, "vendor_not_found");
    app.get("/vendor/me", None).await.expect(401);
    app.post("/vendors/apply", None, json!({"shop_name": "Anon"})).await.expect(401);
    // Smuggled and invalid application fields.
    for body in [
        json!({"shop_name": "Eve Shop", "status": "approved"}),
        json!({"shop_name": "Eve Shop", "commission_bps": 0}),
        json!({"shop_name": "Eve Shop", "slug": "admin"}),
        json!({"shop_name": "E"}),
        json!({"shop_name": "Eve Shop", "payout_details": 42}),
        json!({}),
    ] {
        app.post("/vendors/apply", Some(&eve.access), body)
            .await
            .expect_problem(422, "validation_failed");
    }
    app.get("/vendor/me", Some(&eve.access)).await.expect(404);
}

async fn commission_override(app: TestApp) {
    let admin = app.admin().await;
    let shop = approved_shop(&app, &admin, "fay@example.com", "Fay Textiles").await;
    let path = format!("/admin/vendors/{}", shop.id);

    let set = |bps: Value| {
        let app = &app;
        let path = path.clone();
        let token = admin.access.clone();
        async move { app.patch(&path, Some(&token), json!({"commission_bps": bps})).await }
    };
    assert_eq!(set(json!(0)).await.expect(200).body["commission_bps"], 0);
    assert_eq!(set(json!(10_000)).await.expect(200).body["commission_bps"], 10_000);
    assert_eq!(set(json!(1250)).await.expect(200).body["commission_bps"], 1250);
    for bad in [json!(10_001), json!(-1), json!(i64::MAX), json!(12.5), json!("1000")] {
        let reply = set(bad.clone()).await.expect_problem(422, "validation_failed");
        assert_eq!(reply.fields(), vec!["commission_bps"], "{bad}");
    }
    let unchanged = app.get("/admin/vendors?status=approved", Some(&admin.access)).await.expect(200);
    assert_eq!(unchanged.body["items"][0]["commission_bps"], 1250);
    let cleared = set(Value::Null).await.expect(200);
    assert!(cleared.body["commission_bps"].is_null(), "{}", cleared.body);
    app.patch(&path, Some(&admin.access), json!({})).await.expect(422);
    app.patch(&path, Some(&admin.access), json!({"status": "approved"}))
        .await
        .expect(422);
    app.patch(&path, Some(&shop.user.access), json!({"commission_bps": 0}))
        .await
        .expect_problem(403, "admin_only");
    let log = app
        .get("/admin/audit-log?action=vendor.set_commission", Some(&admin.access))
        .await
        .expect(200);
    assert_eq!(log.body["total"], 4);
    // The vendor cannot set its own commission through its profile either.
    app.patch("/vendor/me", Some(&shop.user.access), json!({"commission_bps": 0}))
        .await
        .expect_problem(422, "validation_failed");
    app.patch("/vendor/me", Some(&shop.user.access), json!({"status": "approved"}))
        .await
        .expect_problem(422, "validation_failed");
}

async fn vendor_profile_edits(app: TestApp) {
    let admin = app.admin().await;
    let shop = approved_shop(&app, &admin, "gus@example.com", "Gus Glass").await;
    let public = app.get(&format!("/vendors/{}", shop.slug), None).await.expect(200);
    assert!(public.body["bio"].is_null());
    let edited = app
        .patch(
            "/vendor/me",
            Some(&shop.user.access),
            json!({"bio": "Blown glass.", "shop_name": "Gus Glassworks"}),
        )
        .await
        .expect(200);
    assert_eq!(edited.body["bio"], "Blown glass.");
    assert_eq!(edited.body["status"], "approved");
    // Public reads right after the edit show it.
    let public = app.get(&format!("/vendors/{}", shop.slug), None).await.expect(200);
    assert_eq!(public.body["bio"], "Blown glass.");
    assert_eq!(public.body["shop_name"], "Gus Glassworks");
    let cleared = app
        .patch("/vendor/me", Some(&shop.user.access), json!({"bio": null}))
        .await
        .expect(200);
    assert!(cleared.body["bio"].is_null());
    app.patch("/vendor/me", Some(&shop.user.access), json!({"shop_name": ""}))
        .await
        .expect_problem(422, "validation_failed");
    let listed = app.get("/vendors", None).await.expect(200);
    assert_eq!(ids(&listed.body), vec![shop.id.clone()]);
}
