//! Shared pieces of the order and payment tests: a fake Stripe (wiremock), signed webhook events,
//! two selling shops, carts, checkouts, balances and download helpers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::StatusCode;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::catalog_support::{Shop, approved_shop, create_product, painting, text, upload};
use crate::helpers::{Backend, Reply, Session, TestApp, spawn_app};

/// The Stripe secret key the test servers use.
pub const STRIPE_SECRET_KEY: &str = "sk_test_x";
/// The webhook signing secret the test servers use.
pub const WEBHOOK_SECRET: &str = "whsec_test";
/// `FRONTEND_URL` of the test servers, the base of Stripe's success and cancel URLs.
pub const FRONTEND_URL: &str = "http://shop.test";

/// A Stripe-shaped HTTP server answering Checkout Session and refund creation.
pub struct FakeStripe {
    pub server: MockServer,
}

/// Decodes an `application/x-www-form-urlencoded` body into ordered pairs.
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The value of `key` in decoded form pairs.
pub fn field<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// A request header as text.
pub fn header<'a>(request: &'a Request, name: &str) -> &'a str {
    request.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// A Stripe object from `tests/fixtures/stripe/` (shared with the `kalavpp-core` unit tests).
macro_rules! fixture {
    ($name:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!("../fixtures/stripe/", $name))).expect(concat!("fixture ", $name))
    };
}

/// A Checkout Session object as Stripe answers it.
fn session(id: &str, status: &str, url: Option<&str>) -> Value {
    let mut session = fixture!("checkout_session_open.json");
    session["id"] = json!(id);
    session["status"] = json!(status);
    session["url"] = json!(url);
    session
}

impl FakeStripe {
    /// Starts the server: `POST /v1/checkout/sessions` answers a fresh session (`cs_test_<n>`),
    /// `POST /v1/refunds` a succeeded refund echoing the amount and payment intent.
    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let sessions = Arc::new(AtomicU64::new(0));
        Mock::given(method("POST"))
            .and(path("/v1/checkout/sessions"))
            .respond_with(move |_: &Request| {
                let n = sessions.fetch_add(1, Ordering::SeqCst) + 1;
                let id = format!("cs_test_{n:04}");
                let url = format!("https://checkout.stripe.test/c/pay/{id}");
                ResponseTemplate::new(200).set_body_json(session(&id, "open", Some(&url)))
            })
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path_regex("^/v1/checkout/sessions/[^/]+/expire$"))
            .respond_with(|request: &Request| {
                let id = request.url.path().split('/').nth(4).unwrap_or_default().to_owned();
                ResponseTemplate::new(200).set_body_json(session(&id, "expired", None))
            })
            .mount(&server)
            .await;
        let refunds = Arc::new(AtomicU64::new(0));
        Mock::given(method("POST"))
            .and(path("/v1/refunds"))
            .respond_with(move |request: &Request| {
                let n = refunds.fetch_add(1, Ordering::SeqCst) + 1;
                let pairs = form_pairs(&request.body);
                let amount: i64 = field(&pairs, "amount").and_then(|a| a.parse().ok()).unwrap_or(0);
                let mut refund = fixture!("refund_succeeded.json");
                refund["id"] = json!(format!("re_test_{n:04}"));
                refund["amount"] = json!(amount);
                refund["payment_intent"] = json!(field(&pairs, "payment_intent"));
                ResponseTemplate::new(200).set_body_json(refund)
            })
            .mount(&server)
            .await;
        Self { server }
    }

    /// Requests received on `route` (e.g. `/v1/refunds`), oldest first.
    pub async fn requests(&self, route: &str) -> Vec<Request> {
        self.server
            .received_requests()
            .await
            .expect("request recording is on")
            .into_iter()
            .filter(|r| r.url.path() == route)
            .collect()
    }
}

/// A server on `backend` paying through a fresh [`FakeStripe`]; `None` when PostgreSQL is not
/// configured.
pub async fn spawn_with_stripe(backend: Backend) -> Option<(TestApp, FakeStripe)> {
    let stripe = FakeStripe::start().await;
    let uri = stripe.server.uri();
    let app = spawn_app(
        backend,
        &[
            ("STRIPE_SECRET_KEY", STRIPE_SECRET_KEY),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("STRIPE_API_BASE", uri.as_str()),
            ("FRONTEND_URL", FRONTEND_URL),
            // Failed payment actions are due again at once (the tests run the reconciler).
            ("PAYMENT_RETRY_BASE_MS", "1"),
        ],
    )
    .await?;
    Some((app, stripe))
}

/// Runs each `async fn(TestApp, FakeStripe)` as `<name>_sqlite` and `<name>_postgres`, each with
/// its own fake Stripe.
macro_rules! on_both_backends_with_stripe {
    ($($flow:ident),* $(,)?) => {
        $(
            pastey::paste! {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn [<$flow _sqlite>]() {
                    let (app, stripe) = crate::payment_support::spawn_with_stripe(crate::helpers::Backend::Sqlite)
                        .await
                        .expect("sqlite app");
                    $flow(app, stripe).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn [<$flow _postgres>]() {
                    let Some((app, stripe)) =
                        crate::payment_support::spawn_with_stripe(crate::helpers::Backend::Postgres).await
                    else {
                        return;
                    };
                    $flow(app, stripe).await;
                }
            }
        )*
    };
}
pub(crate) use on_both_backends_with_stripe;

// ---- webhooks ----

/// Unix seconds now.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// A Stripe event envelope around `object`.
pub fn event(id: &str, event_type: &str, object: Value) -> String {
    let mut event = fixture!("event.json");
    event["id"] = json!(id);
    event["created"] = json!(now());
    event["type"] = json!(event_type);
    event["data"]["object"] = object;
    event.to_string()
}

/// A paid Checkout Session for `order` (as `POST /checkout` returned it) with `amount_total`.
pub fn paid_session(order: &Value, amount_total: i64, currency: &str, payment_intent: &str) -> Value {
    json!({
        "id": text(order, "payment_session_id"),
        "object": "checkout.session",
        "mode": "payment",
        "status": "complete",
        "payment_status": "paid",
        "amount_subtotal": amount_total,
        "amount_total": amount_total,
        "currency": currency,
        "client_reference_id": text(order, "id"),
        "metadata": { "order_id": text(order, "id"), "order_number": text(order, "number") },
        "payment_intent": payment_intent
    })
}

/// `checkout.session.completed` for `order`, paid in full in its currency.
pub fn completed_event(id: &str, order: &Value, payment_intent: &str) -> String {
    let total = order["total_cents"].as_i64().expect("total_cents");
    event(
        id,
        "checkout.session.completed",
        paid_session(order, total, order["currency"].as_str().expect("currency"), payment_intent),
    )
}

/// The `Stripe-Signature` of `payload` signed now with the servers' webhook secret.
pub fn sign(payload: &str) -> String {
    kalavpp_core::payments::stripe::sign_test_payload(payload, WEBHOOK_SECRET, now())
}

/// Posts a raw webhook body with an optional `Stripe-Signature` header.
pub async fn post_webhook(app: &TestApp, payload: &str, signature: Option<&str>) -> Reply {
    let mut request = app
        .client
        .post(app.url("/payments/webhook"))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(payload.to_owned());
    if let Some(signature) = signature {
        request = request.header("Stripe-Signature", signature);
    }
    crate::helpers::read(request.send().await.expect("webhook sent")).await
}

/// Posts `payload` correctly signed and expects `200` with `outcome`.
pub async fn deliver(app: &TestApp, payload: &str, outcome: &str) -> Reply {
    let reply = post_webhook(app, payload, Some(&sign(payload))).await.expect(200);
    assert_eq!(reply.body["received"], true, "{}", reply.body);
    assert_eq!(reply.body["outcome"], outcome, "{}", reply.body);
    reply
}

// ---- shops, carts and orders ----

/// Two approved shops and a customer.
pub struct Scene {
    pub admin: Session,
    pub ana: Shop,
    pub bo: Shop,
    pub customer: Session,
}

impl Scene {
    pub async fn new(app: &TestApp) -> Self {
        let admin = app.admin().await;
        let ana = approved_shop(app, &admin, "ana@example.com", "Ana Oils").await;
        let bo = approved_shop(app, &admin, "bo@example.com", "Bo Pixels").await;
        let customer = app.register("cat@example.com").await;
        Self { admin, ana, bo, customer }
    }
}

/// A valid shipping address.
pub fn address() -> Value {
    json!({
        "name": "Cat Buyer",
        "line1": "12 Harbour Road",
        "line2": "Flat 3",
        "city": "Lisbon",
        "postal_code": "1100-148",
        "country": "PT",
        "phone": "+351 21 000 0000"
    })
}

/// A published physical work with `stock`.
pub async fn physical(app: &TestApp, token: &str, title: &str, price_cents: i64, stock: i64) -> Value {
    let mut body = painting(title, price_cents);
    body["stock"] = json!(stock);
    body["status"] = json!("published");
    create_product(app, token, body).await
}

/// A published digital work (no asset yet).
pub async fn digital(app: &TestApp, token: &str, title: &str, price_cents: i64) -> Value {
    create_product(
        app,
        token,
        json!({"title": title, "description": "A digital work.", "kind": "digital", "price_cents": price_cents,
               "category_id": "digital-art", "status": "published"}),
    )
    .await
}

/// Deterministic, non-repeating-looking asset bytes.
pub fn asset_bytes(len: u32) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect()
}

/// Uploads `bytes` as the product's asset named `filename`; returns the stored file name.
pub async fn attach_asset(app: &TestApp, token: &str, product_id: &str, filename: &str, bytes: Vec<u8>) -> String {
    let stored = upload(
        app,
        &format!("/products/{product_id}/asset"),
        Some(token),
        filename,
        "application/zip",
        bytes,
    )
    .await
    .expect(201);
    text(&stored.body, "filename")
}

/// Adds `quantity` of a product to the cart (expecting `200`).
pub async fn add_to_cart(app: &TestApp, token: &str, product_id: &str, quantity: i64) -> Value {
    app.post("/cart/items", Some(token), json!({"product_id": product_id, "quantity": quantity}))
        .await
        .expect(200)
        .body
}

/// Checks out with `address` (expecting `201`) and returns the whole body.
pub async fn checkout(app: &TestApp, token: &str, address: Option<Value>) -> Value {
    let body = match address {
        Some(address) => json!({"shipping_address": address}),
        None => json!({}),
    };
    app.post("/checkout", Some(token), body).await.expect(201).body
}

/// The order as its buyer (or an admin) sees it.
pub async fn order(app: &TestApp, token: &str, id: &str) -> Value {
    app.get(&format!("/orders/{id}"), Some(token)).await.expect(200).body
}

/// The current stock of a product (public view).
pub async fn stock(app: &TestApp, product_id: &str) -> Option<i64> {
    app.get(&format!("/products/{product_id}"), None).await.expect(200).body["stock"].as_i64()
}

/// A vendor's `GET /vendor/earnings` body.
pub async fn earnings(app: &TestApp, token: &str) -> Value {
    app.get("/vendor/earnings?per_page=100", Some(token)).await.expect(200).body
}

/// `(pending_cents, available_cents)` of a vendor.
pub async fn balance(app: &TestApp, token: &str) -> (i64, i64) {
    let body = earnings(app, token).await;
    (
        body["balance"]["pending_cents"].as_i64().expect("pending_cents"),
        body["balance"]["available_cents"].as_i64().expect("available_cents"),
    )
}

/// The line of `order` for `product_id`.
pub fn line<'a>(order: &'a Value, product_id: &str) -> &'a Value {
    order["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["product_id"] == product_id)
        .unwrap_or_else(|| panic!("a line for {product_id} in {order}"))
}

/// Number of outbox emails with `template`.
pub async fn email_count(app: &TestApp, admin: &str, template: &str) -> i64 {
    app.get(&format!("/admin/emails?template={template}"), Some(admin))
        .await
        .expect(200)
        .body["total"]
        .as_i64()
        .expect("total")
}

/// The token at the end of a download URL.
pub fn token_of(url: &str) -> String {
    url.rsplit('/').next().expect("a token").to_owned()
}

/// A raw download, optionally with a `Range` header: status, headers and bytes.
pub async fn fetch(app: &TestApp, url: &str, range: Option<&str>) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut request = app.client.get(url);
    if let Some(range) = range {
        request = request.header(reqwest::header::RANGE, range);
    }
    let response = request.send().await.expect("download sent");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("download body").to_vec();
    (status, headers, bytes)
}

/// A download by token, relative to the server.
pub async fn fetch_token(app: &TestApp, token: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    fetch(app, &app.url(&format!("/downloads/{token}")), None).await
}
