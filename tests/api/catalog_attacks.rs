//! What an attacker tries against the catalog: other people's products, mass assignment, bad
//! prices, hostile uploads and private digital assets.

use kalavpp_core::domain::ProductId;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::catalog_support::{
    add_image, approved_shop, create_product, delete, get_raw, jpeg, painting, path_of, png_rgb, published_painting, text, upload,
    upload_field,
};
use crate::helpers::{Backend, TestApp, on_both_backends, spawn_app};

on_both_backends!(
    other_vendors_cannot_touch_your_products,
    customers_and_strangers_cannot_sell,
    smuggled_and_invalid_product_fields,
    hostile_image_uploads,
    image_size_and_count_limits,
    digital_assets_stay_private,
);

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "reads like the literal chunk names it is called with"
)]
fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    let mut out = (data.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&crc_input);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A tiny, well-formed PNG whose header declares `width` × `height` RGB pixels (a pixel flood).
fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    png.extend(png_chunk(b"IDAT", &[0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01]));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

fn image_count(product: &Value) -> usize {
    product["images"].as_array().expect("images").len()
}

async fn other_vendors_cannot_touch_your_products(app: TestApp) {
    let admin = app.admin().await;
    let ana = approved_shop(&app, &admin, "ana@example.com", "Ana Art").await;
    let bo = approved_shop(&app, &admin, "bo@example.com", "Bo Art").await;
    let public = published_painting(&app, &ana.user.access, "Ana's harbour", 10_000).await;
    let public_id = text(&public, "id");
    let public_image = text(&add_image(&app, &public_id, &ana.user.access, png_rgb(32, 32)).await, "id");
    let draft = create_product(&app, &ana.user.access, painting("Ana's draft", 5_000)).await;
    let draft_id = text(&draft, "id");
    let bos = published_painting(&app, &bo.user.access, "Bo's harbour", 7_000).await;
    let bos_id = text(&bos, "id");
    let bos_image = text(&add_image(&app, &bos_id, &bo.user.access, png_rgb(32, 32)).await, "id");
    let intruder = Some(bo.user.access.as_str());

    // A published product: its existence is public, so 403; a draft: 404.
    for (id, status, code) in [(&public_id, 403, "not_product_owner"), (&draft_id, 404, "product_not_found")] {
        app.patch(&format!("/products/{id}"), intruder, json!({"title": "Mine now", "price_cents": 1}))
            .await
            .expect_problem(status, code);
        delete(&app, &format!("/products/{id}"), intruder)
            .await
            .expect_problem(status, code);
        upload(
            &app,
            &format!("/products/{id}/images"),
            intruder,
            "x.png",
            "image/png",
            png_rgb(16, 16),
        )
        .await
        .expect_problem(status, code);
        upload(
            &app,
            &format!("/products/{id}/asset"),
            intruder,
            "x.zip",
            "application/zip",
            b"zip".to_vec(),
        )
        .await
        .expect(status);
    }
    delete(&app, &format!("/products/{public_id}/images/{public_image}"), intruder)
        .await
        .expect_problem(403, "not_product_owner");
    // Someone else's image through one's own product: not found, and untouched.
    delete(&app, &format!("/products/{bos_id}/images/{public_image}"), intruder)
        .await
        .expect_problem(404, "image_not_found");
    delete(&app, &format!("/products/{public_id}/images/{bos_image}"), Some(&ana.user.access))
        .await
        .expect_problem(404, "image_not_found");

    let after = app.get(&format!("/products/{public_id}"), None).await.expect(200).body;
    assert_eq!(after["title"], "Ana's harbour");
    assert_eq!(after["price_cents"], 10_000);
    assert_eq!(after["status"], "published");
    assert_eq!(image_count(&after), 1);
    let after = app
        .get(&format!("/products/{draft_id}"), Some(&ana.user.access))
        .await
        .expect(200)
        .body;
    assert_eq!(after["status"], "draft");
    assert_eq!(after["title"], "Ana's draft");
    assert_eq!(
        image_count(&app.get(&format!("/products/{bos_id}"), None).await.expect(200).body),
        1
    );

    // Admins may edit, remove images and archive; they do not upload in a vendor's name.
    let edited = app
        .patch(
            &format!("/products/{public_id}"),
            Some(&admin.access),
            json!({"title": "Ana's harbour (edited)"}),
        )
        .await
        .expect(200);
    assert_eq!(edited.body["vendor"]["id"], ana.id.as_str(), "an admin edit keeps the owner");
    let log = app
        .get("/admin/audit-log?action=product.update", Some(&admin.access))
        .await
        .expect(200);
    assert_eq!(log.body["total"], 1);
    assert_eq!(log.body["items"][0]["target_id"], public_id.as_str());
    upload(
        &app,
        &format!("/products/{public_id}/images"),
        Some(&admin.access),
        "x.png",
        "image/png",
        png_rgb(16, 16),
    )
    .await
    .expect(403);
    delete(&app, &format!("/products/{public_id}/images/{public_image}"), Some(&admin.access))
        .await
        .expect(204);
    delete(&app, &format!("/products/{draft_id}"), Some(&admin.access))
        .await
        .expect(204);
    let own = app.get("/vendor/products", Some(&ana.user.access)).await.expect(200).body;
    let archived = own["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == draft_id.as_str())
        .unwrap();
    assert_eq!(archived["status"], "archived");
}

async fn customers_and_strangers_cannot_sell(app: TestApp) {
    let admin = app.admin().await;
    let ana = approved_shop(&app, &admin, "ana@example.com", "Ana Art").await;
    let public_id = text(&published_painting(&app, &ana.user.access, "Ana's harbour", 10_000).await, "id");
    let draft_id = text(&create_product(&app, &ana.user.access, painting("Ana's draft", 5_000)).await, "id");
    let customer = app.register("cy@example.com").await;

    app.post("/products", None, painting("Free art", 100))
        .await
        .expect_problem(401, "authentication_required");
    app.post("/products", Some(&customer.access), painting("Free art", 100))
        .await
        .expect_problem(403, "vendor_only");
    app.post("/products", Some("not-a-token"), painting("Free art", 100))
        .await
        .expect(401);
    // Admins manage the catalog but have no shop to sell from.
    app.post("/products", Some(&admin.access), painting("Admin art", 100))
        .await
        .expect(403);

    app.patch(&format!("/products/{public_id}"), None, json!({"price_cents": 1}))
        .await
        .expect(401);
    app.patch(&format!("/products/{public_id}"), Some(&customer.access), json!({"price_cents": 1}))
        .await
        .expect(403);
    app.patch(&format!("/products/{draft_id}"), Some(&customer.access), json!({"price_cents": 1}))
        .await
        .expect(404);
    delete(&app, &format!("/products/{public_id}"), None).await.expect(401);
    delete(&app, &format!("/products/{public_id}"), Some(&customer.access))
        .await
        .expect(403);
    upload(
        &app,
        &format!("/products/{public_id}/images"),
        None,
        "x.png",
        "image/png",
        png_rgb(8, 8),
    )
    .await
    .expect(401);
    upload(
        &app,
        &format!("/products/{public_id}/images"),
        Some(&customer.access),
        "x.png",
        "image/png",
        png_rgb(8, 8),
    )
    .await
    .expect(403);
    upload(
        &app,
        &format!("/products/{public_id}/asset"),
        None,
        "x.zip",
        "application/zip",
        b"x".to_vec(),
    )
    .await
    .expect(401);
    assert_eq!(app.get("/products", None).await.expect(200).body["total"], 1);
    let product = app.get(&format!("/products/{public_id}"), None).await.expect(200).body;
    assert_eq!(product["price_cents"], 10_000);
}

async fn smuggled_and_invalid_product_fields(app: TestApp) {
    let admin = app.admin().await;
    let ana = approved_shop(&app, &admin, "ana@example.com", "Ana Art").await;
    let bo = approved_shop(&app, &admin, "bo@example.com", "Bo Art").await;
    let token = Some(ana.user.access.as_str());
    let with = |extra: Value| {
        let mut body = painting("Smuggler", 10_000);
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };

    // Fields a vendor may never set.
    for (extra, field) in [
        (json!({"vendor_id": bo.id}), "vendor_id"),
        (json!({"rating_avg": 5.0}), "rating_avg"),
        (json!({"rating_count": 1000}), "rating_count"),
        (json!({"id": "01a217ba-ff35-76c9-bdb0-60e20e42ddc8"}), "id"),
        (json!({"slug": "admin"}), "slug"),
        (json!({"sales_count": 99}), "sales_count"),
        (json!({"created_at": "2000-01-01T00:00:00Z"}), "created_at"),
        (json!({"currency": "eur"}), "currency"),
        (json!({"images": [{"url": "http://evil.test/x.png"}]}), "images"),
        (json!({"status": "approved"}), "status"),
        (json!({"status": "archived"}), "status"),
    ] {
        let reply = app
            .post("/products", token, with(extra.clone()))
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.fields(), vec![field], "{extra}");
    }

    // Prices: whole cents, > 0, at most the maximum.
    for price in [
        json!(0),
        json!(-1),
        json!(-100_000),
        json!(100_000_001),
        json!(i64::MAX),
        json!(i64::MIN),
    ] {
        let reply = app
            .post("/products", token, with(json!({"price_cents": price})))
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.fields(), vec!["price_cents"], "{price}");
    }
    for price in [
        json!(12.5),
        json!(0.5),
        json!(1e30),
        json!("1000"),
        json!(null),
        json!(18_446_744_073_709_551_615u64),
    ] {
        let reply = app
            .post("/products", token, with(json!({"price_cents": price})))
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.fields(), vec!["price_cents"], "{price}");
    }

    // Stock: required for physical, absent for digital, within bounds.
    let mut no_stock = painting("No stock", 1_000);
    no_stock.as_object_mut().unwrap().remove("stock");
    let reply = app
        .post("/products", token, no_stock)
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.fields(), vec!["stock"]);
    let reply = app
        .post(
            "/products",
            token,
            with(json!({"kind": "digital", "stock": 5, "category_id": "digital-art"})),
        )
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.fields(), vec!["stock"]);
    for stock in [json!(-1), json!(10_000_001), json!(1.5)] {
        let reply = app
            .post("/products", token, with(json!({"stock": stock})))
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.fields(), vec!["stock"], "{stock}");
    }

    // Other fields.
    for (extra, field) in [
        (json!({"kind": "sculpture"}), "kind"),
        (json!({"category_id": "no-such-category"}), "category_id"),
        (json!({"category_id": "01a217ba-ff35-76c9-bdb0-60e20e42ddc8"}), "category_id"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"title": "line\nbreak"}), "title"),
        (json!({"description": ""}), "description"),
        (json!({"tags": (0..21).map(|i| format!("tag{i}")).collect::<Vec<_>>()}), "tags"),
        (json!({"tags": [""]}), "tags"),
        (json!({"tags": ["x".repeat(41)]}), "tags"),
        (json!({"tags": "not-a-list"}), "tags"),
    ] {
        let reply = app
            .post("/products", token, with(extra.clone()))
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.fields(), vec![field], "{extra}");
    }
    app.post("/products", token, json!(["not", "an", "object"])).await.expect(422);
    let reply = app.call(reqwest::Method::POST, "/products", token, None).await;
    assert!(reply.status.is_client_error(), "{:?}", reply.status);

    // Nothing was created by any of that.
    let own = app.get("/vendor/products", token).await.expect(200).body;
    assert_eq!(own["total"], 0, "{own}");

    // A whole number written with a fraction is that whole number of cents (JSON Schema, and so the
    // OpenAPI document, counts `10.0` as the integer 10); it is stored as the integer.
    let whole = app
        .post("/products", token, with(json!({"price_cents": 10.0, "title": "Whole"})))
        .await
        .expect(201);
    assert_eq!(whole.body["price_cents"], json!(10));

    // The same rules on PATCH.
    let product = create_product(&app, &ana.user.access, painting("Honest work", 10_000)).await;
    let path = format!("/products/{}", text(&product, "id"));
    for (body, field) in [
        (json!({"vendor_id": bo.id}), "vendor_id"),
        (json!({"status": "approved"}), "status"),
        (json!({"rating_avg": 5}), "rating_avg"),
        (json!({"id": "01a217ba-ff35-76c9-bdb0-60e20e42ddc8"}), "id"),
        (json!({"price_cents": 0}), "price_cents"),
        (json!({"price_cents": 1.5}), "price_cents"),
        (json!({"price_cents": 100_000_001}), "price_cents"),
        (json!({"stock": -5}), "stock"),
        (json!({"kind": "digital", "stock": 1}), "stock"),
    ] {
        let reply = app.patch(&path, token, body.clone()).await.expect_problem(422, "validation_failed");
        assert_eq!(reply.fields(), vec![field], "{body}");
    }
    let unchanged = app.get(&path, token).await.expect(200).body;
    assert_eq!(unchanged["price_cents"], 10_000);
    assert_eq!(unchanged["vendor"]["id"], ana.id.as_str());
    assert_eq!(unchanged["kind"], "physical");
    assert_eq!(unchanged["stock"], 1);
    // The highest price is fine; the product id in the path is the only one that counts.
    let edited = app.patch(&path, token, json!({"price_cents": 100_000_000})).await.expect(200);
    assert_eq!(edited.body["price_cents"], 100_000_000);
}

async fn hostile_image_uploads(app: TestApp) {
    let admin = app.admin().await;
    let ana = approved_shop(&app, &admin, "ana@example.com", "Ana Art").await;
    let id = text(&published_painting(&app, &ana.user.access, "Target", 10_000).await, "id");
    let path = format!("/products/{id}/images");
    let token = Some(ana.user.access.as_str());

    // Scripts, markup and other formats, whatever their name and declared type.
    for (name, content_type, bytes) in [
        ("shell.png", "image/png", b"<?php system($_GET['c']); ?>".to_vec()),
        ("xss.png", "image/png", b"<script>alert(document.cookie)</script>".to_vec()),
        (
            "logo.svg",
            "image/svg+xml",
            br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>"#.to_vec(),
        ),
        ("run.jpg", "image/jpeg", b"#!/bin/sh\nrm -rf /\n".to_vec()),
        (
            "tiny.gif",
            "image/gif",
            b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec(),
        ),
        ("empty.png", "image/png", Vec::new()),
    ] {
        let reply = upload(&app, &path, token, name, content_type, bytes).await;
        assert!(
            reply.status.as_u16() == 415 || reply.status.as_u16() == 422,
            "{name}: {} {}",
            reply.status,
            reply.body
        );
        if name == "shell.png" {
            reply.expect_problem(415, "unsupported_image_type");
        }
    }
    // A truncated PNG is refused too.
    let mut cut = png_rgb(200, 200);
    cut.truncate(cut.len() / 2);
    upload(&app, &path, token, "cut.png", "image/png", cut)
        .await
        .expect_problem(422, "validation_failed");

    // Decompression bombs: refused from the header alone, fast.
    for (width, height) in [(100_000, 100_000), (7_000, 7_000), (30_000, 10)] {
        let started = std::time::Instant::now();
        let reply = upload(&app, &path, token, "bomb.png", "image/png", png_bomb(width, height))
            .await
            .expect_problem(422, "validation_failed");
        assert_eq!(reply.fields(), vec!["file"]);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{width}×{height} took {:?}",
            started.elapsed()
        );
    }

    // A path-traversal name: stored under a generated name.
    let stored = upload(&app, &path, token, "../../etc/passwd.png", "image/png", png_rgb(20, 20))
        .await
        .expect(201)
        .body;
    for key in ["url", "thumb_url"] {
        let url = text(&stored, key);
        assert!(!url.contains("passwd") && !url.contains(".."), "{url}");
        let media = path_of(&url);
        assert!(media.starts_with("/media/products/"), "{media}");
        assert_eq!(get_raw(&app, &media).await.status().as_u16(), 200);
    }
    let stored = upload(&app, &path, token, "..%2F..%2Fapp.db", "image/png", jpeg(20, 20))
        .await
        .expect(201)
        .body;
    assert!(!text(&stored, "url").contains("app.db"));

    // Nothing outside the media directory is reachable through /media.
    for probe in [
        "/media/..%2Fkalavpp.db",
        "/media/%2e%2e/kalavpp.db",
        "/media/%2e%2e%2fkalavpp.db",
        "/media/products/..%2F..%2Fkalavpp.db",
        "/media/%2Fetc%2Fpasswd",
        "/media/..\\kalavpp.db",
        "/media/",
        "/media/products",
    ] {
        let status = get_raw(&app, probe).await.status().as_u16();
        assert_eq!(status, 404, "{probe}");
    }

    // Only the two good uploads were stored.
    let product = app.get(&format!("/products/{id}"), None).await.expect(200).body;
    assert_eq!(image_count(&product), 2);

    // A missing `file` field, and a body that is not multipart.
    let reply = upload_field(&app, &path, token, "image", "art.png", "image/png", png_rgb(8, 8))
        .await
        .expect_problem(422, "validation_failed");
    assert_eq!(reply.fields(), vec!["file"]);
    let reply = app.post(&path, token, json!({"file": "aGVsbG8="})).await;
    assert!(reply.status.is_client_error(), "{} {}", reply.status, reply.body);
    // Unknown products and images.
    upload(
        &app,
        "/products/01a217ba-ff35-76c9-bdb0-60e20e42ddc8/images",
        token,
        "a.png",
        "image/png",
        png_rgb(8, 8),
    )
    .await
    .expect_problem(404, "product_not_found");
    upload(&app, "/products/not-an-id/images", token, "a.png", "image/png", png_rgb(8, 8))
        .await
        .expect(404);
    delete(&app, &format!("/products/{id}/images/01a217ba-ff35-76c9-bdb0-60e20e42ddc8"), token)
        .await
        .expect_problem(404, "image_not_found");
    delete(&app, &format!("/products/{id}/images/nope"), token).await.expect(404);
}

async fn image_size_and_count_limits(app: TestApp) {
    let admin = app.admin().await;
    let ana = approved_shop(&app, &admin, "ana@example.com", "Ana Art").await;
    let id = text(&published_painting(&app, &ana.user.access, "Crowded", 10_000).await, "id");
    let path = format!("/products/{id}/images");
    let token = Some(ana.user.access.as_str());

    // Over 10 MiB: refused, whatever is inside.
    let mut big = png_rgb(8, 8);
    big.resize(10 * 1024 * 1024 + 1, 0);
    let reply = upload(&app, &path, token, "big.png", "image/png", big).await;
    assert_eq!(reply.status.as_u16(), 413, "{}", reply.body);
    assert_eq!(
        reply.headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );

    // Ten images, in order; the eleventh is a conflict.
    let mut ids = Vec::new();
    for i in 0..10u32 {
        let image = add_image(&app, &id, &ana.user.access, png_rgb(10 + i, 10)).await;
        assert_eq!(image["width"], 10 + i);
        ids.push(text(&image, "id"));
    }
    upload(&app, &path, token, "eleven.png", "image/png", png_rgb(8, 8))
        .await
        .expect_problem(409, "too_many_images");
    let product = app.get(&format!("/products/{id}"), None).await.expect(200).body;
    let listed: Vec<String> = product["images"].as_array().unwrap().iter().map(|i| text(i, "id")).collect();
    assert_eq!(listed, ids);
    let widths: Vec<i64> = product["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["width"].as_i64().unwrap())
        .collect();
    assert_eq!(widths, (10..20).collect::<Vec<i64>>());
    // Deleting one makes room again.
    delete(&app, &format!("{path}/{}", ids[3]), token).await.expect(204);
    add_image(&app, &id, &ana.user.access, png_rgb(8, 8)).await;
    upload(&app, &path, token, "twelve.png", "image/png", png_rgb(8, 8))
        .await
        .expect_problem(409, "too_many_images");
}

async fn digital_assets_stay_private(app: TestApp) {
    let admin = app.admin().await;
    let ana = approved_shop(&app, &admin, "ana@example.com", "Ana Art").await;
    let bo = approved_shop(&app, &admin, "bo@example.com", "Bo Art").await;
    let token = Some(ana.user.access.as_str());
    let physical = text(&published_painting(&app, &ana.user.access, "Canvas", 10_000).await, "id");
    let digital = create_product(
        &app,
        &ana.user.access,
        json!({"title": "Brush pack", "description": "Forty digital brushes.", "kind": "digital",
               "price_cents": 1_500, "category_id": "digital-art", "status": "published", "tags": ["brushes"]}),
    )
    .await;
    let digital_id = text(&digital, "id");
    assert!(digital["stock"].is_null());
    assert_eq!(digital["has_asset"], false);

    // Only digital products take an asset.
    let reply = upload(
        &app,
        &format!("/products/{physical}/asset"),
        token,
        "a.zip",
        "application/zip",
        b"zip".to_vec(),
    )
    .await
    .expect_problem(422, "validation_failed");
    assert_eq!(reply.fields(), vec!["file"]);

    let content: Vec<u8> = (0..50_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let sha256 = hex::encode(Sha256::digest(&content));
    let asset_path = format!("/products/{digital_id}/asset");
    let stored = upload(
        &app,
        &asset_path,
        token,
        "../../etc/Brush Pack (v2)<script>.zip",
        "application/zip",
        content.clone(),
    )
    .await
    .expect(201)
    .body;
    assert_eq!(stored["size_bytes"], 50_000);
    assert_eq!(stored["sha256"], sha256.as_str());
    let filename = text(&stored, "filename");
    assert!(
        !filename.contains('/') && !filename.contains('\\') && !filename.contains("..") && !filename.contains('<'),
        "{filename}"
    );
    assert!(filename.starts_with("Brush Pack (v2)") && filename.ends_with(".zip"), "{filename}");
    assert_eq!(stored.as_object().unwrap().len(), 3, "only filename, size_bytes, sha256: {stored}");

    // The bytes are stored, under a generated key, intact.
    let id = ProductId::parse(&digital_id).unwrap();
    let asset = app.market.store().product_asset(id).await.unwrap().expect("asset recorded");
    assert_eq!(asset.sha256, sha256);
    assert!(!asset.key.contains("Brush") && !asset.key.contains(".."), "{}", asset.key);
    assert!(
        !asset.key.starts_with("media/"),
        "assets never live under the public media prefix: {}",
        asset.key
    );
    let local = app.market.files().local_path(&asset.key).expect("a local file");
    assert_eq!(std::fs::read(&local).unwrap(), content);

    // Never visible publicly: not in any body, not under /media.
    let asset_file = asset.key.rsplit('/').next().unwrap().to_owned();
    let bodies = [
        app.get(&format!("/products/{digital_id}"), None).await.expect(200),
        app.get(&format!("/products/{}", text(&digital, "slug")), None).await.expect(200),
        app.get("/products", None).await.expect(200),
        app.get("/products?q=brushes", None).await.expect(200),
        app.get(&format!("/products/{digital_id}"), Some(&ana.user.access))
            .await
            .expect(200),
        app.get("/vendor/products", Some(&ana.user.access)).await.expect(200),
    ];
    for reply in &bodies {
        let body = reply.body.to_string();
        for secret in [sha256.as_str(), asset.key.as_str(), asset_file.as_str(), "Brush Pack (v2)"] {
            assert!(!body.contains(secret), "{secret} leaked in {body}");
        }
    }
    assert_eq!(bodies[0].body["has_asset"], true);
    for probe in [
        format!("/media/{}", asset.key),
        format!("/media/{asset_file}"),
        format!("/media/products/{asset_file}"),
        format!("/media/%2e%2e/{}", asset.key),
        format!("/media/..%2F{}", asset.key.replace('/', "%2F")),
    ] {
        assert_eq!(get_raw(&app, &probe).await.status().as_u16(), 404, "{probe}");
    }

    // Others cannot upload; a replacement swaps the file.
    upload(
        &app,
        &asset_path,
        Some(&bo.user.access),
        "x.zip",
        "application/zip",
        b"evil".to_vec(),
    )
    .await
    .expect(403);
    let customer = app.register("cy@example.com").await;
    upload(
        &app,
        &asset_path,
        Some(&customer.access),
        "x.zip",
        "application/zip",
        b"evil".to_vec(),
    )
    .await
    .expect(403);
    upload(&app, &asset_path, None, "x.zip", "application/zip", b"evil".to_vec())
        .await
        .expect(401);
    upload(&app, &asset_path, token, "empty.zip", "application/zip", Vec::new())
        .await
        .expect_problem(422, "validation_failed");
    let replaced = upload(&app, &asset_path, token, "v3.zip", "application/zip", b"version three".to_vec())
        .await
        .expect(201)
        .body;
    assert_eq!(replaced["sha256"], hex::encode(Sha256::digest(b"version three")).as_str());
    assert_eq!(replaced["filename"], "v3.zip");
    let current = app.market.store().product_asset(id).await.unwrap().unwrap();
    assert_eq!(current.size_bytes, 13);
    assert!(
        !app.market.files().exists(&asset.key).await.unwrap(),
        "the replaced file is removed"
    );
}

async fn asset_size_limit(backend: Backend) {
    let Some(app) = spawn_app(backend, &[("MAX_ASSET_BYTES", "1000")]).await else {
        return;
    };
    let admin = app.admin().await;
    let ana = approved_shop(&app, &admin, "ana@example.com", "Ana Art").await;
    let digital = create_product(
        &app,
        &ana.user.access,
        json!({"title": "Small file", "description": "Tiny.", "kind": "digital", "price_cents": 100,
               "category_id": "digital-art"}),
    )
    .await;
    let path = format!("/products/{}/asset", text(&digital, "id"));
    let token = Some(ana.user.access.as_str());
    let reply = upload(&app, &path, token, "big.bin", "application/octet-stream", vec![7u8; 2000]).await;
    assert_eq!(reply.status.as_u16(), 413, "{}", reply.body);
    // Past the body limit too: the server answers 413 before reading everything, so the client
    // may instead see the connection closed under it while still sending.
    let part = reqwest::multipart::Part::bytes(vec![7u8; 200_000]).file_name("bigger.bin");
    let sent = app
        .client
        .post(app.url(&path))
        .bearer_auth(&ana.user.access)
        .header(reqwest::header::CONNECTION, "close")
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await;
    if let Ok(response) = sent {
        assert_eq!(response.status().as_u16(), 413);
    }
    assert!(
        app.market
            .store()
            .product_asset(ProductId::parse(&text(&digital, "id")).unwrap())
            .await
            .unwrap()
            .is_none()
    );
    let stored = upload(&app, &path, token, "exact.bin", "application/octet-stream", vec![7u8; 1000])
        .await
        .expect(201)
        .body;
    assert_eq!(stored["size_bytes"], 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asset_size_limit_sqlite() {
    asset_size_limit(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asset_size_limit_postgres() {
    asset_size_limit(Backend::Postgres).await;
}
