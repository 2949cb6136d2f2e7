//! Browsing the catalog: categories, filters, full-text search, sorting, pagination, product
//! detail, and fresh reads right after writes.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::catalog_support::{
    OIL_PAINTINGS_ID, PAINTINGS_ID, Shop, UNKNOWN_ID, add_image, approved_shop, category_count, create_product, delete, ids, painting,
    png_rgb, published_painting, text,
};
use crate::helpers::{TestApp, on_both_backends};

on_both_backends!(
    seeded_categories_and_counts,
    admins_manage_categories,
    browse_filters_sorts_and_pages,
    bad_browse_parameters_are_422,
    product_detail_by_id_and_slug,
    reads_right_after_writes_are_fresh,
);

fn category<'a>(categories: &'a Value, slug: &str) -> &'a Value {
    categories
        .as_array()
        .expect("a list")
        .iter()
        .find(|c| c["slug"] == slug)
        .unwrap_or_else(|| panic!("category {slug} in {categories}"))
}

async fn seeded_categories_and_counts(app: TestApp) {
    let categories = app.get("/categories", None).await.expect(200).body;
    for slug in [
        "paintings",
        "oil-paintings",
        "prints",
        "photography",
        "sculpture",
        "digital-art",
        "illustration",
        "ceramics",
        "textiles",
    ] {
        let found = category(&categories, slug);
        assert_eq!(found["product_count"], 0, "{found}");
        assert!(found["name"].is_string());
    }
    let paintings = category(&categories, "paintings");
    assert_eq!(paintings["id"], PAINTINGS_ID);
    assert!(paintings["parent_id"].is_null());
    let oil = category(&categories, "oil-paintings");
    assert_eq!(oil["id"], OIL_PAINTINGS_ID);
    assert_eq!(oil["parent_id"], PAINTINGS_ID);

    // Counts include child categories, and only visible products.
    let admin = app.admin().await;
    let shop = approved_shop(&app, &admin, "ivy@example.com", "Ivy Oils").await;
    published_painting(&app, &shop.user.access, "Harbour at noon", 40_000).await;
    let mut in_parent = painting("Abstract in red", 30_000);
    in_parent["category_id"] = json!(PAINTINGS_ID);
    in_parent["status"] = json!("published");
    create_product(&app, &shop.user.access, in_parent).await;
    create_product(&app, &shop.user.access, painting("Unfinished", 10_000)).await; // a draft
    let mut print = painting("Harbour print", 5_000);
    print["category_id"] = json!("prints");
    print["status"] = json!("published");
    create_product(&app, &shop.user.access, print).await;
    assert_eq!(category_count(&app, "oil-paintings").await, 1);
    assert_eq!(category_count(&app, "paintings").await, 2);
    assert_eq!(category_count(&app, "prints").await, 1);
    assert_eq!(category_count(&app, "sculpture").await, 0);
}

async fn admins_manage_categories(app: TestApp) {
    let admin = app.admin().await;
    let shop = approved_shop(&app, &admin, "jo@example.com", "Jo Murals").await;
    let customer = app.register("kit@example.com").await;

    // Only admins.
    app.post("/admin/categories", None, json!({"name": "Street art"})).await.expect(401);
    for token in [&customer.access, &shop.user.access] {
        app.post("/admin/categories", Some(token), json!({"name": "Street art"}))
            .await
            .expect_problem(403, "admin_only");
        app.patch(
            &format!("/admin/categories/{PAINTINGS_ID}"),
            Some(token),
            json!({"name": "Pictures"}),
        )
        .await
        .expect(403);
        delete(&app, &format!("/admin/categories/{PAINTINGS_ID}"), Some(token))
            .await
            .expect(403);
    }
    delete(&app, &format!("/admin/categories/{PAINTINGS_ID}"), None).await.expect(401);

    // Create, with a slug from the name, and a child by parent slug.
    let street = app
        .post("/admin/categories", Some(&admin.access), json!({"name": "Street Art"}))
        .await
        .expect(201);
    assert_eq!(street.body["slug"], "street-art");
    assert!(street.body["parent_id"].is_null());
    let street_id = text(&street.body, "id");
    let murals = app
        .post(
            "/admin/categories",
            Some(&admin.access),
            json!({"name": "Murals", "parent_id": "street-art"}),
        )
        .await
        .expect(201);
    assert_eq!(murals.body["parent_id"], street_id.as_str());
    let murals_id = text(&murals.body, "id");
    let categories = app.get("/categories", None).await.expect(200).body;
    assert_eq!(category(&categories, "murals")["parent_id"], street_id.as_str());

    // Duplicates and bad input.
    app.post("/admin/categories", Some(&admin.access), json!({"name": "Street art"}))
        .await
        .expect_problem(409, "slug_taken");
    app.post(
        "/admin/categories",
        Some(&admin.access),
        json!({"name": "Anything", "slug": "paintings"}),
    )
    .await
    .expect_problem(409, "slug_taken");
    app.patch(
        &format!("/admin/categories/{murals_id}"),
        Some(&admin.access),
        json!({"slug": "prints"}),
    )
    .await
    .expect_problem(409, "slug_taken");
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({}), "name"),
        (json!({"name": "x".repeat(81)}), "name"),
        (json!({"name": "Orphans", "parent_id": "no-such-category"}), "parent_id"),
        (json!({"name": "Counted", "product_count": 5}), "product_count"),
    ] {
        let reply = app
            .post("/admin/categories", Some(&admin.access), body)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.fields(), vec![field]);
    }
    // A category cannot move under itself or a descendant.
    let reply = app
        .patch(
            &format!("/admin/categories/{street_id}"),
            Some(&admin.access),
            json!({"parent_id": "murals"}),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.fields(), vec!["parent_id"]);
    app.patch(
        &format!("/admin/categories/{UNKNOWN_ID}"),
        Some(&admin.access),
        json!({"name": "Ghost"}),
    )
    .await
    .expect_problem(404, "category_not_found");

    // Rename: visible at once.
    let renamed = app
        .patch(
            &format!("/admin/categories/{street_id}"),
            Some(&admin.access),
            json!({"name": "Urban art"}),
        )
        .await
        .expect(200);
    assert_eq!(renamed.body["name"], "Urban art");
    let categories = app.get("/categories", None).await.expect(200).body;
    assert_eq!(category(&categories, "street-art")["name"], "Urban art");

    // Deleting: not while products or children remain.
    let mut mural = painting("Wall of birds", 90_000);
    mural["category_id"] = json!("murals");
    mural["status"] = json!("published");
    let mural = create_product(&app, &shop.user.access, mural).await;
    assert_eq!(category_count(&app, "street-art").await, 1);
    delete(&app, &format!("/admin/categories/{murals_id}"), Some(&admin.access))
        .await
        .expect_problem(409, "category_in_use");
    delete(&app, &format!("/admin/categories/{street_id}"), Some(&admin.access))
        .await
        .expect_problem(409, "category_in_use");
    // A draft or archived product still holds its category.
    delete(&app, &format!("/products/{}", text(&mural, "id")), Some(&shop.user.access))
        .await
        .expect(204);
    delete(&app, &format!("/admin/categories/{murals_id}"), Some(&admin.access))
        .await
        .expect_problem(409, "category_in_use");
    app.patch(
        &format!("/products/{}", text(&mural, "id")),
        Some(&shop.user.access),
        json!({"category_id": "prints"}),
    )
    .await
    .expect(200);
    delete(&app, &format!("/admin/categories/{murals_id}"), Some(&admin.access))
        .await
        .expect(204);
    delete(&app, &format!("/admin/categories/{street_id}"), Some(&admin.access))
        .await
        .expect(204);
    delete(&app, &format!("/admin/categories/{street_id}"), Some(&admin.access))
        .await
        .expect_problem(404, "category_not_found");
    let categories = app.get("/categories", None).await.expect(200).body;
    assert!(
        categories
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["slug"] != "street-art" && c["slug"] != "murals")
    );
    delete(&app, &format!("/admin/categories/{PAINTINGS_ID}"), Some(&admin.access))
        .await
        .expect_problem(409, "category_in_use");

    // Every change is audited.
    let log = app.get("/admin/audit-log", Some(&admin.access)).await.expect(200);
    let actions: BTreeSet<&str> = log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    for action in ["category.create", "category.update", "category.delete"] {
        assert!(actions.contains(action), "{action} in {actions:?}");
    }
}

/// The catalog the browse tests search: two shops, four public works and two hidden ones.
struct Catalog {
    first: Shop,
    second: Shop,
    sunset: String,
    fog: String,
    neon: String,
    print: String,
}

async fn seed_catalog(app: &TestApp) -> Catalog {
    let admin = app.admin().await;
    let first = approved_shop(app, &admin, "lea@example.com", "Lea Paints").await;
    let second = approved_shop(app, &admin, "max@example.com", "Max Pixels").await;
    let product = |shop: &Shop, body: Value| {
        let token = shop.user.access.clone();
        async move { text(&create_product(app, &token, body).await, "id") }
    };
    let sunset = product(
        &first,
        json!({"title": "Sunset over the harbour", "description": "Oil on canvas, warm evening light.",
               "tags": ["seascape", "golden hour"], "kind": "physical", "price_cents": 50_000, "stock": 1,
               "category_id": "oil-paintings", "status": "published"}),
    )
    .await;
    let fog = product(
        &first,
        json!({"title": "Morning fog", "description": "Watercolour study of a quiet lake.",
               "tags": ["lake", "mist"], "kind": "physical", "price_cents": 12_000, "stock": 3,
               "category_id": "watercolour-paintings", "status": "published"}),
    )
    .await;
    let neon = product(
        &second,
        json!({"title": "Neon city", "description": "Digital illustration of a rainy night street.",
               "tags": ["cyberpunk"], "kind": "digital", "price_cents": 2_500,
               "category_id": "digital-art", "status": "published"}),
    )
    .await;
    let print = product(
        &second,
        json!({"title": "Harbour sunsets print", "description": "Giclée print of a sunset at the harbour.",
               "tags": ["seascape"], "kind": "physical", "price_cents": 8_000, "stock": 10,
               "category_id": "prints", "status": "published"}),
    )
    .await;
    // Hidden: a draft and an archived work, both matching "sunset".
    product(
        &first,
        json!({"title": "Secret sunset", "description": "Not ready yet.", "kind": "physical", "price_cents": 9_000,
               "stock": 1, "category_id": "oil-paintings"}),
    )
    .await;
    let archived = product(
        &second,
        json!({"title": "Old sunset", "description": "Withdrawn.", "kind": "digital", "price_cents": 3_000,
               "category_id": "prints", "status": "published"}),
    )
    .await;
    delete(app, &format!("/products/{archived}"), Some(&second.user.access))
        .await
        .expect(204);
    Catalog {
        first,
        second,
        sunset,
        fog,
        neon,
        print,
    }
}

async fn listed(app: &TestApp, query: &str) -> Vec<String> {
    let page = app.get(&format!("/products?{query}"), None).await.expect(200).body;
    let ids = ids(&page);
    assert_eq!(page["total"].as_u64().unwrap() as usize, ids.len(), "{query}: {page}");
    ids
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

async fn browse_filters_sorts_and_pages(app: TestApp) {
    let c = seed_catalog(&app).await;
    let found = |query: &'static str| {
        let app = &app;
        async move { listed(app, query).await.into_iter().collect::<BTreeSet<String>>() }
    };

    // Drafts and archived works are never listed.
    let newest = listed(&app, "").await;
    assert_eq!(newest, vec![c.print.clone(), c.neon.clone(), c.fog.clone(), c.sunset.clone()]);

    // Full-text: stemming, tags, description, every word must match, stop words ignored.
    assert_eq!(found("q=sunsets").await, set(&[&c.sunset, &c.print]));
    assert_eq!(found("q=sunset").await, set(&[&c.sunset, &c.print]));
    assert_eq!(found("q=SUNSET").await, set(&[&c.sunset, &c.print]));
    assert_eq!(found("q=seascape").await, set(&[&c.sunset, &c.print]));
    assert_eq!(found("q=cyberpunk").await, set(&[&c.neon]));
    assert_eq!(found("q=golden").await, set(&[&c.sunset]));
    assert_eq!(found("q=lake").await, set(&[&c.fog]));
    assert_eq!(found("q=rainy+street").await, set(&[&c.neon]));
    assert_eq!(found("q=sunset+harbour").await, set(&[&c.sunset, &c.print]));
    assert_eq!(found("q=sunset+canvas").await, set(&[&c.sunset]));
    assert_eq!(found("q=harbour+fog").await, set(&[]));
    assert_eq!(found("q=the+of").await, set(&[]));
    assert_eq!(found("q=withdrawn").await, set(&[]));
    assert_eq!(found("q=%22%29+OR+1%3D1+--").await, set(&[]));

    // Category by slug or id, children included.
    assert_eq!(found("category=paintings").await, set(&[&c.sunset, &c.fog]));
    assert_eq!(
        found("category=01900000-0000-7000-8000-000000000001").await,
        set(&[&c.sunset, &c.fog])
    );
    assert_eq!(found("category=oil-paintings").await, set(&[&c.sunset]));
    assert_eq!(found("category=prints").await, set(&[&c.print]));
    assert_eq!(found("category=no-such-thing").await, set(&[]));

    // Vendor by slug or id.
    let by_slug = listed(&app, &format!("vendor={}", c.first.slug)).await;
    assert_eq!(by_slug, vec![c.fog.clone(), c.sunset.clone()]);
    let by_id = listed(&app, &format!("vendor={}", c.second.id)).await;
    assert_eq!(by_id, vec![c.print.clone(), c.neon.clone()]);
    assert!(listed(&app, "vendor=nobody").await.is_empty());

    // Kind and price.
    assert_eq!(found("kind=digital").await, set(&[&c.neon]));
    assert_eq!(found("kind=physical").await, set(&[&c.sunset, &c.fog, &c.print]));
    assert_eq!(found("min_price=10000").await, set(&[&c.sunset, &c.fog]));
    assert_eq!(found("max_price=10000").await, set(&[&c.neon, &c.print]));
    assert_eq!(found("min_price=8000&max_price=12000").await, set(&[&c.fog, &c.print]));
    assert_eq!(found("min_price=12000&max_price=12000").await, set(&[&c.fog]));
    assert_eq!(found("q=sunset&kind=physical&max_price=10000").await, set(&[&c.print]));
    assert_eq!(found("q=sunset&category=paintings&vendor=lea-paints").await, set(&[&c.sunset]));

    // Every sort order.
    let by_price = vec![c.neon.clone(), c.print.clone(), c.fog.clone(), c.sunset.clone()];
    assert_eq!(listed(&app, "sort=price_asc").await, by_price);
    let mut descending = by_price.clone();
    descending.reverse();
    assert_eq!(listed(&app, "sort=price_desc").await, descending);
    assert_eq!(listed(&app, "sort=newest").await, newest);
    // No ratings or sales yet: both fall back to newest first.
    assert_eq!(listed(&app, "sort=rating").await, newest);
    assert_eq!(listed(&app, "sort=popular").await, newest);
    assert_eq!(listed(&app, "sort=").await, newest);
    assert_eq!(listed(&app, "sort=price_asc&kind=physical").await, by_price[1..].to_vec());

    // Pagination.
    let page = app.get("/products?per_page=3&page=2&sort=price_asc", None).await.expect(200).body;
    assert_eq!(page["total"], 4);
    assert_eq!(page["page"], 2);
    assert_eq!(page["per_page"], 3);
    assert_eq!(ids(&page), vec![c.sunset.clone()]);
    let page = app.get("/products?per_page=1000", None).await.expect(200).body;
    assert_eq!(page["per_page"], 100);
    assert_eq!(ids(&page).len(), 4);
    let page = app.get("/products?page=50", None).await.expect(200).body;
    assert_eq!(page["total"], 4);
    assert!(ids(&page).is_empty());

    // List items carry what a card needs; digital works have no stock.
    let digital = app.get("/products?kind=digital", None).await.expect(200).body;
    let item = &digital["items"][0];
    assert!(item["stock"].is_null(), "{item}");
    assert_eq!(item["kind"], "digital");
    assert_eq!(item["vendor"]["slug"], c.second.slug.as_str());
    assert_eq!(item["category"]["slug"], "digital-art");
    assert_eq!(item["currency"], "usd");
    assert_eq!(item["status"], "published");
    let physical = app.get("/products?q=lake", None).await.expect(200).body;
    assert_eq!(physical["items"][0]["stock"], 3);

    // The vendor's own list has every status.
    let own = app.get("/vendor/products", Some(&c.first.user.access)).await.expect(200).body;
    assert_eq!(own["total"], 3);
    let statuses: BTreeSet<&str> = own["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, BTreeSet::from(["draft", "published"]));
    let own = app.get("/vendor/products", Some(&c.second.user.access)).await.expect(200).body;
    let statuses: BTreeSet<&str> = own["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, BTreeSet::from(["archived", "published"]));
    app.get("/vendor/products", None).await.expect(401);
    let customer = app.register("ned@example.com").await;
    app.get("/vendor/products", Some(&customer.access)).await.expect(403);
}

async fn bad_browse_parameters_are_422(app: TestApp) {
    for (query, field) in [
        ("sort=cheapest", "sort"),
        ("sort=PRICE_ASC", "sort"),
        ("min_price=abc", "min_price"),
        ("max_price=1.5", "max_price"),
        ("min_price=-1", "min_price"),
        ("max_price=99999999999999999999999", "max_price"),
        ("min_price=500&max_price=100", "min_price"),
        ("kind=sculpture", "kind"),
        ("page=abc", "page"),
        ("per_page=%00", "per_page"),
    ] {
        let reply = app
            .get(&format!("/products?{query}"), None)
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.fields(), vec![field], "{query}");
    }
    // Several problems at once are all reported.
    let reply = app
        .get("/products?sort=x&min_price=y&kind=z", None)
        .await
        .expect_problem(422, "validation_failed");
    let fields: BTreeSet<String> = reply.fields().into_iter().collect();
    assert_eq!(
        fields,
        BTreeSet::from(["sort".to_owned(), "min_price".to_owned(), "kind".to_owned()])
    );
    // Unknown parameters are ignored, as are blank ones.
    app.get("/products?colour=blue&q=&category=&min_price=", None).await.expect(200);
}

async fn product_detail_by_id_and_slug(app: TestApp) {
    let admin = app.admin().await;
    let shop = approved_shop(&app, &admin, "oli@example.com", "Oli Studio").await;
    let created = published_painting(&app, &shop.user.access, "Blue Lagoon", 75_000).await;
    let id = text(&created, "id");
    let slug = text(&created, "slug");
    assert_eq!(slug, "blue-lagoon");
    add_image(&app, &id, &shop.user.access, png_rgb(640, 480)).await;

    let by_id = app.get(&format!("/products/{id}"), None).await.expect(200).body;
    let by_slug = app.get(&format!("/products/{slug}"), None).await.expect(200).body;
    let by_upper_slug = app.get("/products/BLUE-LAGOON", None).await.expect(200).body;
    assert_eq!(by_id, by_slug);
    assert_eq!(by_id, by_upper_slug);
    for key in [
        "id",
        "slug",
        "title",
        "description",
        "kind",
        "price_cents",
        "currency",
        "stock",
        "category",
        "tags",
        "images",
        "vendor",
        "rating_avg",
        "rating_count",
        "status",
        "created_at",
    ] {
        assert!(by_id.get(key).is_some(), "{key} missing from {by_id}");
    }
    assert_eq!(by_id["title"], "Blue Lagoon");
    assert_eq!(by_id["price_cents"], 75_000);
    assert_eq!(
        by_id["vendor"],
        json!({"id": shop.id, "slug": shop.slug, "shop_name": "Oli Studio"})
    );
    assert_eq!(by_id["category"]["id"], OIL_PAINTINGS_ID);
    assert_eq!(by_id["rating_count"], 0);
    assert_eq!(by_id["status"], "published");
    let image = &by_id["images"][0];
    assert_eq!((image["width"].as_i64(), image["height"].as_i64()), (Some(640), Some(480)));
    assert!(image["url"].as_str().unwrap().ends_with(".jpg"), "RGB images become JPEG: {image}");
    assert!(image["thumb_url"].is_string());

    // A second work with the same title gets its own slug.
    let twin = published_painting(&app, &shop.user.access, "Blue Lagoon", 1_000).await;
    assert_ne!(twin["slug"], created["slug"]);
    assert!(text(&twin, "slug").starts_with("blue-lagoon-"), "{twin}");
    assert_eq!(
        app.get(&format!("/products/{}", text(&twin, "slug")), None).await.expect(200).body["id"],
        twin["id"]
    );

    app.get("/products/no-such-work", None)
        .await
        .expect_problem(404, "product_not_found");
    app.get(&format!("/products/{UNKNOWN_ID}"), None)
        .await
        .expect_problem(404, "product_not_found");
    // Admins see hidden works; other vendors and customers do not.
    let draft = create_product(&app, &shop.user.access, painting("Draft lagoon", 100)).await;
    let draft_path = format!("/products/{}", text(&draft, "slug"));
    app.get(&draft_path, Some(&admin.access)).await.expect(200);
    app.get(&draft_path, Some(&shop.user.access)).await.expect(200);
    let other = approved_shop(&app, &admin, "pat@example.com", "Pat Prints").await;
    app.get(&draft_path, Some(&other.user.access)).await.expect(404);
    let customer = app.register("quin@example.com").await;
    app.get(&draft_path, Some(&customer.access)).await.expect(404);
    app.get(&draft_path, None).await.expect(404);
}

async fn reads_right_after_writes_are_fresh(app: TestApp) {
    let admin = app.admin().await;
    let shop = approved_shop(&app, &admin, "ray@example.com", "Ray Works").await;
    let created = published_painting(&app, &shop.user.access, "Quiet harbour", 20_000).await;
    let id = text(&created, "id");
    let slug = text(&created, "slug");
    let detail_path = format!("/products/{slug}");
    let id_path = format!("/products/{id}");
    let token = shop.user.access.clone();

    // Warm every cache, twice.
    for _ in 0..2 {
        assert_eq!(app.get(&detail_path, None).await.expect(200).body["title"], "Quiet harbour");
        assert_eq!(app.get(&id_path, None).await.expect(200).body["title"], "Quiet harbour");
        assert_eq!(
            app.get("/products", None).await.expect(200).body["items"][0]["title"],
            "Quiet harbour"
        );
        assert_eq!(listed(&app, "q=quiet").await, vec![id.clone()]);
        assert_eq!(category_count(&app, "oil-paintings").await, 1);
    }

    // A new title shows at once, in detail, list and search.
    app.patch(&id_path, Some(&token), json!({"title": "Stormy harbour"}))
        .await
        .expect(200);
    assert_eq!(app.get(&detail_path, None).await.expect(200).body["title"], "Stormy harbour");
    assert_eq!(app.get(&id_path, None).await.expect(200).body["title"], "Stormy harbour");
    assert_eq!(
        app.get("/products", None).await.expect(200).body["items"][0]["title"],
        "Stormy harbour"
    );
    assert!(listed(&app, "q=quiet").await.is_empty());
    assert_eq!(listed(&app, "q=stormy").await, vec![id.clone()]);

    // Price and category changes move it between filters and category counts.
    app.patch(&id_path, Some(&token), json!({"price_cents": 99_000, "category_id": "prints"}))
        .await
        .expect(200);
    assert_eq!(app.get(&detail_path, None).await.expect(200).body["price_cents"], 99_000);
    assert!(listed(&app, "max_price=50000").await.is_empty());
    assert_eq!(category_count(&app, "oil-paintings").await, 0);
    assert_eq!(category_count(&app, "paintings").await, 0);
    assert_eq!(category_count(&app, "prints").await, 1);
    assert_eq!(listed(&app, "category=prints").await, vec![id.clone()]);

    // Images appear and disappear at once.
    let image = add_image(&app, &id, &token, png_rgb(64, 64)).await;
    assert_eq!(
        app.get(&detail_path, None).await.expect(200).body["images"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get("/products", None).await.expect(200).body["items"][0]["images"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    delete(&app, &format!("{id_path}/images/{}", text(&image, "id")), Some(&token))
        .await
        .expect(204);
    assert_eq!(app.get(&detail_path, None).await.expect(200).body["images"], json!([]));
    assert_eq!(app.get("/products", None).await.expect(200).body["items"][0]["images"], json!([]));

    // A shop rename shows on its works.
    app.patch("/vendor/me", Some(&token), json!({"shop_name": "Ray Fine Art"}))
        .await
        .expect(200);
    assert_eq!(
        app.get(&detail_path, None).await.expect(200).body["vendor"]["shop_name"],
        "Ray Fine Art"
    );
    assert_eq!(
        app.get("/products", None).await.expect(200).body["items"][0]["vendor"]["shop_name"],
        "Ray Fine Art"
    );

    // Back to draft: gone from every public read at once; published again: back.
    app.patch(&id_path, Some(&token), json!({"status": "draft"})).await.expect(200);
    app.get(&detail_path, None).await.expect(404);
    assert!(listed(&app, "").await.is_empty());
    assert_eq!(category_count(&app, "prints").await, 0);
    app.patch(&id_path, Some(&token), json!({"status": "published"})).await.expect(200);
    app.get(&detail_path, None).await.expect(200);
    assert_eq!(listed(&app, "").await, vec![id.clone()]);
    assert_eq!(category_count(&app, "prints").await, 1);

    // Archiving too.
    delete(&app, &id_path, Some(&token)).await.expect(204);
    app.get(&detail_path, None).await.expect(404);
    assert!(listed(&app, "").await.is_empty());
    assert_eq!(category_count(&app, "prints").await, 0);
    let own = app.get("/vendor/products", Some(&token)).await.expect(200).body;
    assert_eq!(own["items"][0]["status"], "archived");

    // Category renames show in product bodies.
    let other = published_painting(&app, &token, "Calm bay", 10_000).await;
    app.get(&format!("/products/{}", text(&other, "slug")), None).await.expect(200);
    app.patch(
        &format!("/admin/categories/{OIL_PAINTINGS_ID}"),
        Some(&admin.access),
        json!({"name": "Oils"}),
    )
    .await
    .expect(200);
    let detail = app.get(&format!("/products/{}", text(&other, "slug")), None).await.expect(200).body;
    assert_eq!(detail["category"]["name"], "Oils");
}

#[tokio::test]
async fn openapi_describes_the_vendor_and_catalog_routes() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite, &[]).await.unwrap();
    let doc = app.get("/api/v1/openapi.json", None).await.expect(200);
    let paths = doc.body["paths"].as_object().unwrap();
    let expected = [
        ("/api/v1/vendors/apply", "post"),
        ("/api/v1/vendors", "get"),
        ("/api/v1/vendors/{id_or_slug}", "get"),
        ("/api/v1/vendor/me", "get"),
        ("/api/v1/vendor/me", "patch"),
        ("/api/v1/vendor/products", "get"),
        ("/api/v1/admin/vendors", "get"),
        ("/api/v1/admin/vendors/{id}", "patch"),
        ("/api/v1/admin/vendors/{id}/approve", "post"),
        ("/api/v1/admin/vendors/{id}/reject", "post"),
        ("/api/v1/admin/vendors/{id}/suspend", "post"),
        ("/api/v1/admin/vendors/{id}/reinstate", "post"),
        ("/api/v1/categories", "get"),
        ("/api/v1/products", "get"),
        ("/api/v1/products", "post"),
        ("/api/v1/products/{id}", "get"),
        ("/api/v1/products/{id}", "patch"),
        ("/api/v1/products/{id}", "delete"),
        ("/api/v1/products/{id}/images", "post"),
        ("/api/v1/products/{id}/images/{image_id}", "delete"),
        ("/api/v1/products/{id}/asset", "post"),
        ("/api/v1/admin/categories", "post"),
        ("/api/v1/admin/categories/{id}", "patch"),
        ("/api/v1/admin/categories/{id}", "delete"),
        ("/media/{path}", "get"),
    ];
    for (path, method) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
}
