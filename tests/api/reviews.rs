//! Reviews over HTTP: the seed flow (a buyer reviews a painting bought through the development
//! payment provider and the ratings follow at once), who may review, validation and smuggled fields,
//! author edits and deletions, admin deletion and moderation with audit rows, and every `401`/`403`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::catalog_support::{Shop, UNKNOWN_ID, approved_shop, create_product, delete, ids, painting, text};
use crate::helpers::{Session, TestApp, on_both_backends, spawn_app};
use crate::payment_support::{add_to_cart, address, checkout, order, physical};

on_both_backends!(
    buyer_reviews_a_painting_and_ratings_follow,
    only_buyers_other_than_the_vendor_may_review,
    review_bodies_are_validated,
    authors_edit_and_delete_their_reviews,
    admins_delete_hide_and_unhide_reviews,
    review_routes_need_the_right_credentials,
);

/// Buys one unit of `product_id` as `token` and pays on the development checkout page; returns
/// the order id.
async fn buy(app: &TestApp, token: &str, product_id: &str) -> String {
    add_to_cart(app, token, product_id, 1).await;
    let placed = checkout(app, token, Some(address())).await;
    let order_id = text(&placed["order"], "id");
    let url = text(&placed, "checkout_url");
    let paid = app.client.post(format!("{url}/pay")).send().await.expect("pay");
    assert_eq!(paid.status().as_u16(), 200, "the dev checkout page pays");
    assert_eq!(order(app, token, &order_id).await["status"], "paid");
    order_id
}

/// A valid review body.
fn review(rating: i64, body: &str) -> Value {
    json!({"rating": rating, "title": "Lovely", "body": body})
}

async fn post_review(app: &TestApp, product: &str, token: Option<&str>, body: Value) -> crate::helpers::Reply {
    app.post(&format!("/products/{product}/reviews"), token, body).await
}

/// `(rating_avg, rating_count)` of a product's public detail.
async fn product_rating(app: &TestApp, product: &str) -> (f64, i64) {
    let detail = app.get(&format!("/products/{product}"), None).await.expect(200).body;
    (
        detail["rating_avg"].as_f64().expect("rating_avg"),
        detail["rating_count"].as_i64().expect("rating_count"),
    )
}

/// `(rating_avg, rating_count)` of a vendor's public profile.
async fn vendor_rating(app: &TestApp, vendor: &str) -> (f64, i64) {
    let profile = app.get(&format!("/vendors/{vendor}"), None).await.expect(200).body;
    (
        profile["rating_avg"].as_f64().expect("rating_avg"),
        profile["rating_count"].as_i64().expect("rating_count"),
    )
}

/// The ids of a product's listed reviews.
async fn listed(app: &TestApp, product: &str) -> Vec<String> {
    ids(&app.get(&format!("/products/{product}/reviews"), None).await.expect(200).body)
}

async fn audit(app: &TestApp, admin: &str, action: &str) -> Value {
    app.get(&format!("/admin/audit-log?action={action}"), Some(admin))
        .await
        .expect(200)
        .body
}

/// An admin, an approved shop with a published painting (stock 10) and `buyers` customers who
/// bought it.
struct Scene {
    admin: Session,
    shop: Shop,
    painting: Value,
    buyers: Vec<Session>,
}

impl Scene {
    async fn new(app: &TestApp, buyers: usize) -> Self {
        let admin = app.admin().await;
        let shop = approved_shop(app, &admin, "ana@example.com", "Ana Oils").await;
        let painting = physical(app, &shop.user.access, "Harbour at dawn", 12_000, 10).await;
        let mut sessions = Vec::new();
        for n in 0..buyers {
            let buyer = app.register(&format!("buyer{n}@example.com")).await;
            buy(app, &buyer.access, &text(&painting, "id")).await;
            sessions.push(buyer);
        }
        Self {
            admin,
            shop,
            painting,
            buyers: sessions,
        }
    }

    fn id(&self) -> String {
        text(&self.painting, "id")
    }
}

async fn buyer_reviews_a_painting_and_ratings_follow(app: TestApp) {
    // The seed flow: a customer applies as a vendor, is approved, lists a painting and publishes it.
    let admin = app.admin().await;
    let ana = app.register("ana@example.com").await;
    let vendor = app
        .post("/vendors/apply", Some(&ana.access), json!({"shop_name": "Ana Oils"}))
        .await
        .expect(201)
        .body;
    let vendor_slug = text(&vendor, "slug");
    app.post(
        &format!("/admin/vendors/{}/approve", text(&vendor, "id")),
        Some(&admin.access),
        json!({}),
    )
    .await
    .expect(200);
    let mut body = painting("Harbour at dawn", 12_000);
    body["stock"] = json!(3);
    let draft = create_product(&app, &ana.access, body).await;
    let product_id = text(&draft, "id");
    let slug = text(&draft, "slug");
    app.patch(
        &format!("/products/{product_id}"),
        Some(&ana.access),
        json!({"status": "published"}),
    )
    .await
    .expect(200);

    // Readers see it unrated (and the anonymous answers are now cached).
    assert_eq!(product_rating(&app, &slug).await, (0.0, 0));
    assert_eq!(product_rating(&app, &product_id).await, (0.0, 0));
    assert_eq!(vendor_rating(&app, &vendor_slug).await, (0.0, 0));
    let by_rating = app.get("/products?sort=rating", None).await.expect(200).body;
    assert_eq!(by_rating["items"][0]["rating_count"], 0);
    let empty = app.get(&format!("/products/{slug}/reviews"), None).await.expect(200).body;
    assert_eq!(empty, json!({"items": [], "page": 1, "per_page": 20, "total": 0}));

    // A customer buys it through the development checkout page and reviews it.
    let cat = app.register("cat@example.com").await;
    buy(&app, &cat.access, &product_id).await;
    // Read (and cache) the public answers after the purchase, so the review itself must refresh them.
    assert_eq!(product_rating(&app, &slug).await, (0.0, 0));
    assert_eq!(product_rating(&app, &product_id).await, (0.0, 0));
    assert_eq!(
        app.get("/products?sort=rating", None).await.expect(200).body["items"][0]["rating_count"],
        0
    );
    let created = post_review(
        &app,
        &product_id,
        Some(&cat.access),
        json!({"rating": 4, "title": "  Glowing  ", "body": "  The light on the water is wonderful.\nWell packed.  "}),
    )
    .await
    .expect(201)
    .body;
    let review_id = text(&created, "id");
    assert_eq!(created["product_id"], product_id.as_str());
    assert_eq!(created["vendor_id"], vendor["id"]);
    assert_eq!(created["user_id"], cat.id.as_str());
    assert_eq!(created["author_name"], "cat");
    assert_eq!(created["rating"], 4);
    assert_eq!(created["title"], "Glowing", "trimmed");
    assert_eq!(created["body"], "The light on the water is wonderful.\nWell packed.");
    assert_eq!(created["hidden"], false);
    assert!(created["created_at"].is_string() && created["created_at"] == created["updated_at"]);
    let mut keys: Vec<&str> = created.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "author_name",
            "body",
            "created_at",
            "hidden",
            "id",
            "product_id",
            "rating",
            "title",
            "updated_at",
            "user_id",
            "vendor_id"
        ]
    );

    // Product detail (by id and slug), the catalog list and the vendor profile show it at once.
    assert_eq!(product_rating(&app, &slug).await, (4.0, 1));
    assert_eq!(product_rating(&app, &product_id).await, (4.0, 1));
    let signed_in = app.get(&format!("/products/{slug}"), Some(&cat.access)).await.expect(200).body;
    assert_eq!(
        (signed_in["rating_avg"].as_f64(), signed_in["rating_count"].as_i64()),
        (Some(4.0), Some(1))
    );
    let by_rating = app.get("/products?sort=rating", None).await.expect(200).body;
    assert_eq!(
        (
            by_rating["items"][0]["rating_avg"].as_f64(),
            by_rating["items"][0]["rating_count"].as_i64()
        ),
        (Some(4.0), Some(1))
    );
    assert_eq!(vendor_rating(&app, &vendor_slug).await, (4.0, 1));
    let page = app.get(&format!("/products/{slug}/reviews"), None).await.expect(200).body;
    assert_eq!(
        (page["page"].as_i64(), page["per_page"].as_i64(), page["total"].as_i64()),
        (Some(1), Some(20), Some(1))
    );
    assert_eq!(page["items"][0], created);
    assert_eq!(listed(&app, &product_id).await, vec![review_id.clone()]);

    // A second review of the same work is a conflict.
    post_review(&app, &slug, Some(&cat.access), review(1, "Changed my mind."))
        .await
        .expect_problem(409, "already_reviewed");
    assert_eq!(product_rating(&app, &product_id).await, (4.0, 1));

    // A second buyer: the average follows (4 + 5) / 2; markup is stored and returned verbatim.
    let dan = app.register("dan@example.com").await;
    buy(&app, &dan.access, &product_id).await;
    assert_eq!(product_rating(&app, &slug).await, (4.0, 1));
    let script = "<script>alert(1)</script> & \"quotes\" <img src=x onerror=alert(2)>";
    let scripted = post_review(&app, &slug, Some(&dan.access), json!({"rating": 5, "body": script}))
        .await
        .expect(201)
        .body;
    assert_eq!(scripted["body"], script);
    assert!(scripted["title"].is_null());
    let raw = app
        .client
        .get(app.url(&format!("/products/{product_id}/reviews")))
        .send()
        .await
        .expect("list");
    assert!(
        raw.headers()["content-type"].to_str().unwrap().starts_with("application/json"),
        "JSON, never HTML"
    );
    let raw = raw.text().await.unwrap();
    assert!(raw.contains(r#"<script>alert(1)</script> & \"quotes\""#), "{raw}");
    assert_eq!(product_rating(&app, &slug).await, (4.5, 2));
    assert_eq!(vendor_rating(&app, &vendor_slug).await, (4.5, 2));
    // Newest first, and pages work.
    assert_eq!(listed(&app, &slug).await, vec![text(&scripted, "id"), review_id.clone()]);
    let second = app
        .get(&format!("/products/{slug}/reviews?page=2&per_page=1"), None)
        .await
        .expect(200)
        .body;
    assert_eq!((ids(&second), second["total"].as_i64()), (vec![review_id.clone()], Some(2)));

    // The author edits: rating and text; the ratings follow.
    let edited = app
        .patch(
            &format!("/reviews/{review_id}"),
            Some(&cat.access),
            json!({"rating": 2, "body": "Scratched frame."}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        (edited["rating"].as_i64(), edited["body"].as_str()),
        (Some(2), Some("Scratched frame."))
    );
    assert_eq!(edited["title"], "Glowing", "untouched");
    assert_eq!(edited["created_at"], created["created_at"]);
    assert_ne!(edited["updated_at"], created["updated_at"]);
    assert_eq!(product_rating(&app, &slug).await, (3.5, 2));
    assert_eq!(vendor_rating(&app, &vendor_slug).await, (3.5, 2));
    let cleared = app
        .patch(&format!("/reviews/{review_id}"), Some(&cat.access), json!({"title": null}))
        .await
        .expect(200)
        .body;
    assert!(cleared["title"].is_null());
}

async fn only_buyers_other_than_the_vendor_may_review(app: TestApp) {
    let scene = Scene::new(&app, 0).await;
    let id = scene.id();

    // Not a buyer.
    let eve = app.register("eve@example.com").await;
    post_review(&app, &id, Some(&eve.access), review(5, "Looks great online."))
        .await
        .expect_problem(403, "not_a_buyer");

    // An unpaid order does not count; neither does a cancelled one.
    add_to_cart(&app, &eve.access, &id, 1).await;
    let placed = checkout(&app, &eve.access, Some(address())).await;
    post_review(&app, &id, Some(&eve.access), review(5, "Ordered it."))
        .await
        .expect_problem(403, "not_a_buyer");
    app.post(
        &format!("/orders/{}/cancel", text(&placed["order"], "id")),
        Some(&eve.access),
        json!({}),
    )
    .await
    .expect(200);
    post_review(&app, &id, Some(&eve.access), review(5, "Ordered it."))
        .await
        .expect_problem(403, "not_a_buyer");

    // The vendor cannot review its own work.
    post_review(&app, &id, Some(&scene.shop.user.access), review(5, "My best work."))
        .await
        .expect_problem(403, "own_product");
    // An admin who did not buy it is not a buyer either.
    post_review(&app, &id, Some(&scene.admin.access), review(5, "Nice."))
        .await
        .expect_problem(403, "not_a_buyer");

    // Unknown products, and drafts of others, are not found.
    post_review(&app, UNKNOWN_ID, Some(&eve.access), review(5, "?"))
        .await
        .expect_problem(404, "product_not_found");
    post_review(&app, "no-such-work", Some(&eve.access), review(5, "?"))
        .await
        .expect_problem(404, "product_not_found");
    let draft = create_product(&app, &scene.shop.user.access, painting("Unfinished", 5_000)).await;
    post_review(&app, &text(&draft, "id"), Some(&eve.access), review(5, "?"))
        .await
        .expect_problem(404, "product_not_found");
    app.get(&format!("/products/{}/reviews", text(&draft, "id")), None)
        .await
        .expect_problem(404, "product_not_found");
    app.get(&format!("/products/{UNKNOWN_ID}/reviews"), None)
        .await
        .expect_problem(404, "product_not_found");

    // Once paid, the review goes through; a buyer may still review a work archived since.
    buy(&app, &eve.access, &id).await;
    post_review(&app, &id, Some(&eve.access), review(5, "Arrived safely."))
        .await
        .expect(201);
    let fay = app.register("fay@example.com").await;
    buy(&app, &fay.access, &id).await;
    delete(&app, &format!("/products/{id}"), Some(&scene.shop.user.access))
        .await
        .expect(204);
    post_review(&app, &id, Some(&fay.access), review(3, "Still happy with it."))
        .await
        .expect(201);
    // Archived works and their reviews are no longer public.
    app.get(&format!("/products/{id}/reviews"), None)
        .await
        .expect_problem(404, "product_not_found");
    let own = app
        .get(&format!("/products/{id}/reviews"), Some(&scene.shop.user.access))
        .await
        .expect(200)
        .body;
    assert_eq!(own["total"], 2, "the vendor still sees them: {own}");
    let archived = app
        .get(&format!("/products/{id}"), Some(&scene.shop.user.access))
        .await
        .expect(200)
        .body;
    assert_eq!(
        (archived["rating_avg"].as_f64(), archived["rating_count"].as_i64()),
        (Some(4.0), Some(2))
    );
}

async fn review_bodies_are_validated(app: TestApp) {
    let scene = Scene::new(&app, 1).await;
    let id = scene.id();
    let token = scene.buyers[0].access.as_str();
    let invalid = |body: Value, fields: &'static [&'static str]| {
        let app = &app;
        let id = id.clone();
        async move {
            let reply = post_review(app, &id, Some(token), body.clone())
                .await
                .expect_problem(422, "validation_failed");
            let mut got = reply.fields();
            got.sort();
            assert_eq!(got, fields, "{body}: {}", reply.body);
        }
    };
    invalid(json!({"rating": 0, "body": "ok"}), &["rating"]).await;
    invalid(json!({"rating": 6, "body": "ok"}), &["rating"]).await;
    invalid(json!({"rating": -1, "body": "ok"}), &["rating"]).await;
    invalid(json!({"rating": 4_294_967_301_i64, "body": "ok"}), &["rating"]).await;
    invalid(json!({"rating": "5", "body": "ok"}), &["rating"]).await;
    invalid(json!({"rating": 4.5, "body": "ok"}), &["rating"]).await;
    invalid(json!({"rating": null, "body": "ok"}), &["rating"]).await;
    invalid(json!({"body": "ok"}), &["rating"]).await;
    invalid(json!({"rating": 5}), &["body"]).await;
    invalid(json!({"rating": 5, "body": ""}), &["body"]).await;
    invalid(json!({"rating": 5, "body": " \n\t "}), &["body"]).await;
    invalid(json!({"rating": 5, "body": "x".repeat(5_001)}), &["body"]).await;
    invalid(json!({"rating": 5, "body": "nul \u{0} byte"}), &["body"]).await;
    invalid(json!({"rating": 5, "body": "ok", "title": "t".repeat(201)}), &["title"]).await;
    invalid(json!({"rating": 5, "body": ["ok"]}), &["body"]).await;
    // All violations at once.
    invalid(
        json!({"rating": 0, "body": "", "title": "t".repeat(201)}),
        &["body", "rating", "title"],
    )
    .await;
    // Smuggled fields are refused, never applied.
    invalid(json!({"rating": 5, "body": "ok", "hidden": true}), &["hidden"]).await;
    invalid(json!({"rating": 5, "body": "ok", "user_id": scene.admin.id}), &["user_id"]).await;
    invalid(json!({"rating": 5, "body": "ok", "product_id": UNKNOWN_ID}), &["product_id"]).await;
    invalid(json!({"rating": 5, "body": "ok", "vendor_id": scene.shop.id}), &["vendor_id"]).await;
    let malformed = app
        .client
        .post(app.url(&format!("/products/{id}/reviews")))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body("{\"rating\": 5,")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status().as_u16(), 400);
    assert_eq!(product_rating(&app, &id).await, (0.0, 0), "nothing was stored");
    assert!(listed(&app, &id).await.is_empty());

    // The limits themselves are fine: 5000 characters (not bytes) of text, a 200-character title.
    let long = "é".repeat(5_000);
    let created = post_review(&app, &id, Some(token), json!({"rating": 1, "title": "t".repeat(200), "body": long}))
        .await
        .expect(201)
        .body;
    assert_eq!(created["body"], long);
    assert_eq!(product_rating(&app, &id).await, (1.0, 1));
}

async fn authors_edit_and_delete_their_reviews(app: TestApp) {
    let scene = Scene::new(&app, 2).await;
    let id = scene.id();
    let (bea, cal) = (&scene.buyers[0], &scene.buyers[1]);
    let mine = text(
        &post_review(&app, &id, Some(&bea.access), review(5, "Perfect."))
            .await
            .expect(201)
            .body,
        "id",
    );
    let theirs = text(
        &post_review(&app, &id, Some(&cal.access), review(3, "Fine.")).await.expect(201).body,
        "id",
    );
    assert_eq!(product_rating(&app, &id).await, (4.0, 2));

    // Only the author edits (not another customer, the vendor or an admin).
    for other in [&cal.access, &scene.shop.user.access, &scene.admin.access] {
        app.patch(&format!("/reviews/{mine}"), Some(other), json!({"rating": 1}))
            .await
            .expect_problem(403, "not_review_author");
    }
    app.patch(&format!("/reviews/{UNKNOWN_ID}"), Some(&bea.access), json!({"rating": 1}))
        .await
        .expect_problem(404, "review_not_found");
    app.patch("/reviews/not-an-id", Some(&bea.access), json!({"rating": 1}))
        .await
        .expect_problem(404, "review_not_found");
    // Edits are validated like new reviews, and smuggled fields refused.
    for (body, field) in [
        (json!({"rating": 0}), "rating"),
        (json!({"rating": "4"}), "rating"),
        (json!({"body": ""}), "body"),
        (json!({"body": "x".repeat(5_001)}), "body"),
        (json!({"title": "t".repeat(201)}), "title"),
        (json!({}), "body"),
        (json!({"hidden": true}), "hidden"),
        (json!({"rating": 4, "user_id": cal.id}), "user_id"),
    ] {
        let reply = app
            .patch(&format!("/reviews/{mine}"), Some(&bea.access), body.clone())
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.fields(), vec![field.to_owned()], "{body}");
    }
    assert_eq!(product_rating(&app, &id).await, (4.0, 2), "nothing changed");
    let edited = app
        .patch(
            &format!("/reviews/{mine}"),
            Some(&bea.access),
            json!({"rating": 4, "title": "Very good"}),
        )
        .await
        .expect(200)
        .body;
    assert_eq!(
        (edited["rating"].as_i64(), edited["title"].as_str(), edited["body"].as_str()),
        (Some(4), Some("Very good"), Some("Perfect."))
    );
    assert_eq!(product_rating(&app, &id).await, (3.5, 2));

    // Deleting: not another customer, not the vendor; the author may.
    for other in [&cal.access, &scene.shop.user.access] {
        delete(&app, &format!("/reviews/{mine}"), Some(other))
            .await
            .expect_problem(403, "not_review_author");
    }
    delete(&app, &format!("/reviews/{UNKNOWN_ID}"), Some(&bea.access))
        .await
        .expect_problem(404, "review_not_found");
    let before = audit(&app, &scene.admin.access, "review.delete").await["total"].clone();
    delete(&app, &format!("/reviews/{mine}"), Some(&bea.access)).await.expect(204);
    assert_eq!(
        audit(&app, &scene.admin.access, "review.delete").await["total"],
        before,
        "own deletions are not audited"
    );
    assert_eq!(listed(&app, &id).await, vec![theirs.clone()]);
    assert_eq!(product_rating(&app, &id).await, (3.0, 1));
    delete(&app, &format!("/reviews/{mine}"), Some(&bea.access))
        .await
        .expect_problem(404, "review_not_found");
    app.patch(&format!("/reviews/{mine}"), Some(&bea.access), json!({"rating": 1}))
        .await
        .expect_problem(404, "review_not_found");
    // After deleting, the buyer may write a new one.
    post_review(&app, &id, Some(&bea.access), review(1, "Second thoughts."))
        .await
        .expect(201);
    assert_eq!(product_rating(&app, &id).await, (2.0, 2));
}

async fn admins_delete_hide_and_unhide_reviews(app: TestApp) {
    let scene = Scene::new(&app, 3).await;
    let id = scene.id();
    let admin = scene.admin.access.as_str();
    let mut reviews = Vec::new();
    for (buyer, rating) in scene.buyers.iter().zip([5, 4, 1]) {
        let body = post_review(&app, &id, Some(&buyer.access), review(rating, "Honest opinion."))
            .await
            .expect(201)
            .body;
        reviews.push(text(&body, "id"));
    }
    assert_eq!(product_rating(&app, &id).await, (3.33, 3));
    assert_eq!(vendor_rating(&app, &scene.shop.slug).await, (3.33, 3));

    // Hide the 1-star review: gone from the list and the ratings.
    let spam = reviews[2].clone();
    let hidden = app
        .patch(&format!("/admin/reviews/{spam}"), Some(admin), json!({"hidden": true}))
        .await
        .expect(200)
        .body;
    assert_eq!(hidden["hidden"], true);
    assert_eq!(hidden["rating"], 1);
    assert_eq!(listed(&app, &id).await, vec![reviews[1].clone(), reviews[0].clone()]);
    assert_eq!(product_rating(&app, &id).await, (4.5, 2));
    assert_eq!(vendor_rating(&app, &scene.shop.slug).await, (4.5, 2));
    let log = audit(&app, admin, "review.hide").await;
    assert_eq!(log["total"], 1, "{log}");
    let row = &log["items"][0];
    assert_eq!(
        (row["target_type"].as_str(), row["target_id"].as_str()),
        (Some("review"), Some(spam.as_str()))
    );
    assert_eq!(row["actor_id"], scene.admin.id.as_str());
    assert_eq!(row["details"]["hidden"], true);
    // Its author can still edit it; it stays hidden.
    let edited = app
        .patch(&format!("/reviews/{spam}"), Some(&scene.buyers[2].access), json!({"rating": 2}))
        .await
        .expect(200)
        .body;
    assert_eq!(edited["hidden"], true);
    assert_eq!(product_rating(&app, &id).await, (4.5, 2));

    // Unhide: back in the list and the ratings (with the edited rating).
    let shown = app
        .patch(&format!("/admin/reviews/{spam}"), Some(admin), json!({"hidden": false}))
        .await
        .expect(200)
        .body;
    assert_eq!(shown["hidden"], false);
    assert_eq!(listed(&app, &id).await.len(), 3);
    assert_eq!(product_rating(&app, &id).await, (3.67, 3));
    assert_eq!(audit(&app, admin, "review.unhide").await["total"], 1);

    // Moderation bodies are validated.
    for body in [json!({}), json!({"hidden": "yes"}), json!({"hidden": true, "rating": 5})] {
        app.patch(&format!("/admin/reviews/{spam}"), Some(admin), body)
            .await
            .expect_problem(422, "validation_failed");
    }
    app.patch(&format!("/admin/reviews/{UNKNOWN_ID}"), Some(admin), json!({"hidden": true}))
        .await
        .expect_problem(404, "review_not_found");

    // An admin deletes someone else's review: audited.
    delete(&app, &format!("/reviews/{}", reviews[0]), Some(admin)).await.expect(204);
    let log = audit(&app, admin, "review.delete").await;
    assert_eq!(log["total"], 1, "{log}");
    assert_eq!(log["items"][0]["target_id"], reviews[0].as_str());
    assert_eq!(log["items"][0]["actor_id"], scene.admin.id.as_str());
    assert_eq!(listed(&app, &id).await, vec![spam.clone(), reviews[1].clone()]);
    assert_eq!(product_rating(&app, &id).await, (3.0, 2));
    assert_eq!(vendor_rating(&app, &scene.shop.slug).await, (3.0, 2));
}

async fn review_routes_need_the_right_credentials(app: TestApp) {
    let scene = Scene::new(&app, 1).await;
    let id = scene.id();
    let review_id = text(
        &post_review(&app, &id, Some(&scene.buyers[0].access), review(5, "Great."))
            .await
            .expect(201)
            .body,
        "id",
    );
    let other = app.register("other@example.com").await;

    // Anonymous: 401 on every route that needs a user; the list is public.
    post_review(&app, &id, None, review(5, "Anonymous."))
        .await
        .expect_problem(401, "authentication_required");
    app.patch(&format!("/reviews/{review_id}"), None, json!({"rating": 1}))
        .await
        .expect_problem(401, "authentication_required");
    delete(&app, &format!("/reviews/{review_id}"), None)
        .await
        .expect_problem(401, "authentication_required");
    app.patch(&format!("/admin/reviews/{review_id}"), None, json!({"hidden": true}))
        .await
        .expect_problem(401, "authentication_required");
    post_review(&app, &id, Some("not-a-token"), review(5, "Forged.")).await.expect(401);
    app.get(&format!("/products/{id}/reviews"), Some("not-a-token")).await.expect(401);
    assert_eq!(listed(&app, &id).await, vec![review_id.clone()]);

    // Moderation is for admins only: not the author, another customer or the vendor.
    for token in [&scene.buyers[0].access, &other.access, &scene.shop.user.access] {
        app.patch(&format!("/admin/reviews/{review_id}"), Some(token), json!({"hidden": true}))
            .await
            .expect_problem(403, "admin_only");
    }
    assert_eq!(listed(&app, &id).await, vec![review_id.clone()], "still visible");
    assert_eq!(product_rating(&app, &id).await, (5.0, 1));

    // Unsupported methods on the routes are 405.
    let reply = app
        .call(Method::PUT, &format!("/reviews/{review_id}"), Some(&other.access), Some(json!({})))
        .await;
    assert_eq!(reply.status.as_u16(), 405);
}

#[tokio::test]
async fn openapi_describes_the_review_routes() {
    let app = spawn_app(crate::helpers::Backend::Sqlite, &[]).await.unwrap();
    let doc = app.get("/api/v1/openapi.json", None).await.expect(200);
    let paths = doc.body["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/v1/products/{id}/reviews", "get"),
        ("/api/v1/products/{id}/reviews", "post"),
        ("/api/v1/reviews/{id}", "patch"),
        ("/api/v1/reviews/{id}", "delete"),
        ("/api/v1/admin/reviews/{id}", "patch"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
    let schemas = &doc.body["components"]["schemas"];
    for schema in [
        "ReviewBody",
        "ReviewPage",
        "CreateReviewRequest",
        "UpdateReviewRequest",
        "ModerateReviewRequest",
    ] {
        assert!(schemas[schema].is_object(), "{schema} missing");
    }
}
