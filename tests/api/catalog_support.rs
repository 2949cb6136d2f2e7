//! Shared pieces of the vendor and catalog tests: approved shops, products, images, uploads.

use std::io::Cursor;

use image::{ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::helpers::{Reply, Session, TestApp, read};

/// The seeded `paintings` category (parent of `oil-paintings`).
pub const PAINTINGS_ID: &str = "01900000-0000-7000-8000-000000000001";
/// The seeded `oil-paintings` category.
pub const OIL_PAINTINGS_ID: &str = "01900000-0000-7000-8000-000000000002";
/// An id that exists nowhere.
pub const UNKNOWN_ID: &str = "01a217ba-ff35-76c9-bdb0-60e20e42ddc8";

/// An approved vendor as the tests see it.
#[derive(Debug, Clone)]
pub struct Shop {
    pub user: Session,
    pub id: String,
    pub slug: String,
}

/// Registers `email`, applies with `shop_name` and has `admin` approve the application.
pub async fn approved_shop(app: &TestApp, admin: &Session, email: &str, shop_name: &str) -> Shop {
    let user = app.register(email).await;
    let vendor = app
        .post("/vendors/apply", Some(&user.access), json!({"shop_name": shop_name}))
        .await
        .expect(201);
    let id = vendor.body["id"].as_str().expect("vendor id").to_owned();
    app.post(&format!("/admin/vendors/{id}/approve"), Some(&admin.access), json!({}))
        .await
        .expect(200);
    Shop {
        user,
        id,
        slug: vendor.body["slug"].as_str().expect("vendor slug").to_owned(),
    }
}

/// A valid body for a physical painting.
pub fn painting(title: &str, price_cents: i64) -> Value {
    json!({
        "title": title,
        "description": "Oil on canvas.",
        "kind": "physical",
        "price_cents": price_cents,
        "stock": 1,
        "category_id": "oil-paintings",
    })
}

/// Creates a product (expecting `201`) and returns its body.
pub async fn create_product(app: &TestApp, token: &str, body: Value) -> Value {
    app.post("/products", Some(token), body).await.expect(201).body
}

/// Creates a published physical painting and returns its body.
pub async fn published_painting(app: &TestApp, token: &str, title: &str, price_cents: i64) -> Value {
    let mut body = painting(title, price_cents);
    body["status"] = json!("published");
    create_product(app, token, body).await
}

/// `value[key]` as an owned string.
pub fn text(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_else(|| panic!("`{key}` in {value}")).to_owned()
}

/// The `id`s of a page's items, in order.
pub fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("a page: {page}"))
        .iter()
        .map(|item| text(item, "id"))
        .collect()
}

/// An RGB image (re-encoded as JPEG by the server) encoded as PNG.
pub fn png_rgb(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8]));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).expect("encode PNG");
    out.into_inner()
}

/// An RGBA image (kept as PNG by the server) encoded as PNG.
pub fn png_rgba(width: u32, height: u32) -> Vec<u8> {
    let image = RgbaImage::from_fn(width, height, |x, y| Rgba([(x % 256) as u8, (y % 256) as u8, 90, 200]));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Png).expect("encode PNG");
    out.into_inner()
}

/// An RGB image encoded as JPEG.
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let image = RgbImage::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, 120, (y % 256) as u8]));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, ImageFormat::Jpeg).expect("encode JPEG");
    out.into_inner()
}

/// Sends `bytes` as the multipart field `field` (file name `filename`, type `content_type`).
pub async fn upload_field(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    field: &str,
    filename: &str,
    content_type: &str,
    bytes: Vec<u8>,
) -> Reply {
    let part = Part::bytes(bytes)
        .file_name(filename.to_owned())
        .mime_str(content_type)
        .expect("content type");
    // A fresh connection per upload: the server may answer an upload before reading all of it
    // and then close the connection, which a pooled connection would race with.
    let mut request = app
        .client
        .post(app.url(path))
        .header(reqwest::header::CONNECTION, "close")
        // File names go out as written, like a hostile client would send them.
        .multipart(Form::new().percent_encode_noop().part(field.to_owned(), part));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    read(request.send().await.expect("upload sent")).await
}

/// Sends `bytes` as the multipart field `file`.
pub async fn upload(app: &TestApp, path: &str, token: Option<&str>, filename: &str, content_type: &str, bytes: Vec<u8>) -> Reply {
    upload_field(app, path, token, "file", filename, content_type, bytes).await
}

/// Uploads a PNG image to a product, expecting `201`, and returns the image body.
pub async fn add_image(app: &TestApp, product_id: &str, token: &str, bytes: Vec<u8>) -> Value {
    upload(
        app,
        &format!("/products/{product_id}/images"),
        Some(token),
        "art.png",
        "image/png",
        bytes,
    )
    .await
    .expect(201)
    .body
}

pub async fn delete(app: &TestApp, path: &str, token: Option<&str>) -> Reply {
    app.call(Method::DELETE, path, token, None).await
}

/// The path part of an absolute URL (`http://host:port/media/x` → `/media/x`).
pub fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    match rest.find('/') {
        Some(slash) => rest[slash..].to_owned(),
        None => "/".to_owned(),
    }
}

/// A raw `GET` of a path on the server (outside `/api/v1`).
pub async fn get_raw(app: &TestApp, path: &str) -> reqwest::Response {
    app.client.get(format!("{}{path}", app.base)).send().await.expect("request sent")
}

/// The `product_count` of the category with `slug` in `GET /categories`.
pub async fn category_count(app: &TestApp, slug: &str) -> i64 {
    let categories = app.get("/categories", None).await.expect(200);
    categories
        .body
        .as_array()
        .expect("a list")
        .iter()
        .find(|c| c["slug"] == slug)
        .unwrap_or_else(|| panic!("category {slug} in {}", categories.body))["product_count"]
        .as_i64()
        .expect("product_count")
}
