//! Unit tests of the Stripe provider: requests against a wiremock Stripe and webhook parsing.
//! Static Stripe objects come from `tests/fixtures/stripe/` (shared with the end-to-end tests).

use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::payments::CheckoutLine;

const SECRET_KEY: &str = "sk_test_kalavpp_secret_key_0123456789";
const WEBHOOK_SECRET: &str = "whsec_kalavpp_test_secret";

/// A Stripe object from `tests/fixtures/stripe/` (shared with the end-to-end fake Stripe).
macro_rules! fixture {
    ($name:literal) => {
        serde_json::from_str::<Value>(include_str!(concat!("../../../../tests/fixtures/stripe/", $name))).expect(concat!("fixture ", $name))
    };
}

fn provider(api_base: Option<String>) -> StripePaymentProvider {
    StripePaymentProvider::new(Secret::new(SECRET_KEY), Secret::new(WEBHOOK_SECRET), api_base).unwrap()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Decodes an `application/x-www-form-urlencoded` body into ordered pairs.
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    fn decode(text: &str) -> String {
        let bytes = text.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                byte => out.push(byte),
            }
            i += 1;
        }
        String::from_utf8(out).unwrap()
    }
    std::str::from_utf8(body)
        .unwrap()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(key), decode(value))
        })
        .collect()
}

fn field<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// The minimal Checkout Session JSON that async-stripe deserialises (see DEPENDENCIES.md).
fn session_json(id: &str, url: &str) -> Value {
    let mut session = fixture!("checkout_session_open.json");
    session["id"] = json!(id);
    session["url"] = json!(url);
    session
}

fn checkout_request(order_id: OrderId) -> CheckoutRequest {
    CheckoutRequest {
        order_id,
        order_number: "KV-2024-000123".into(),
        currency: "usd".into(),
        lines: vec![
            CheckoutLine {
                title: "Hand-woven scarf".into(),
                unit_amount_cents: 2599,
                quantity: 2,
            },
            CheckoutLine {
                title: "Pattern book (PDF) & extras".into(),
                unit_amount_cents: 1250,
                quantity: 1,
            },
        ],
        customer_email: "buyer+1@example.com".into(),
        success_url: "https://shop.example.com/orders/success?session_id={CHECKOUT_SESSION_ID}".into(),
        cancel_url: "https://shop.example.com/cart".into(),
        idempotency_key: format!("checkout-{order_id}"),
        expires_at: Some(1_700_003_600),
    }
}

#[tokio::test]
async fn create_checkout_sends_the_expected_form_and_idempotency_key() {
    let server = MockServer::start().await;
    let order_id = OrderId::new();
    let idempotency_key = format!("checkout-{order_id}");
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .and(header("idempotency-key", idempotency_key.as_str()))
        .and(header("authorization", format!("Bearer {SECRET_KEY}").as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(session_json("cs_test_a1b2c3", "https://checkout.stripe.com/c/pay/cs_test_a1b2c3")),
        )
        .expect(1)
        .mount(&server)
        .await;

    let stripe = provider(Some(server.uri()));
    let session = stripe.create_checkout(checkout_request(order_id)).await.unwrap();
    assert_eq!(
        session,
        CheckoutSession {
            session_id: "cs_test_a1b2c3".into(),
            url: "https://checkout.stripe.com/c/pay/cs_test_a1b2c3".into()
        }
    );

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(
        request.headers.get("content-type").unwrap().to_str().unwrap(),
        "application/x-www-form-urlencoded"
    );
    let pairs = form_pairs(&request.body);
    let order = order_id.to_string();
    let expected = [
        ("mode", "payment"),
        ("client_reference_id", order.as_str()),
        ("customer_email", "buyer+1@example.com"),
        (
            "success_url",
            "https://shop.example.com/orders/success?session_id={CHECKOUT_SESSION_ID}",
        ),
        ("cancel_url", "https://shop.example.com/cart"),
        ("metadata[order_id]", order.as_str()),
        ("metadata[order_number]", "KV-2024-000123"),
        ("payment_intent_data[metadata][order_id]", order.as_str()),
        ("line_items[0][price_data][currency]", "usd"),
        ("line_items[0][price_data][unit_amount]", "2599"),
        ("line_items[0][price_data][product_data][name]", "Hand-woven scarf"),
        ("line_items[0][quantity]", "2"),
        ("line_items[1][price_data][currency]", "usd"),
        ("line_items[1][price_data][unit_amount]", "1250"),
        ("line_items[1][price_data][product_data][name]", "Pattern book (PDF) & extras"),
        ("line_items[1][quantity]", "1"),
        ("expires_at", "1700003600"),
    ];
    for (key, value) in expected {
        assert_eq!(field(&pairs, key), Some(value), "field {key} in {pairs:?}");
    }
    assert!(field(&pairs, "line_items[2][quantity]").is_none(), "{pairs:?}");
    assert!(
        pairs.iter().all(|(key, _)| !key.contains("unit_amount_decimal")),
        "only integer cents are sent: {pairs:?}"
    );
}

#[tokio::test]
async fn create_checkout_refusal_and_missing_url() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(400).set_body_json(fixture!("error_parameter_invalid_integer.json")))
        .mount(&server)
        .await;
    let stripe = provider(Some(server.uri()));
    let err = stripe.create_checkout(checkout_request(OrderId::new())).await.unwrap_err();
    assert!(
        matches!(&err, PaymentError::Refused(message) if message.contains("Invalid integer")),
        "{err:?}"
    );

    let server = MockServer::start().await;
    let mut session = session_json("cs_test_nourl", "");
    session["url"] = Value::Null;
    Mock::given(method("POST"))
        .and(path("/v1/checkout/sessions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(session))
        .mount(&server)
        .await;
    let stripe = provider(Some(format!("{}/", server.uri())));
    let err = stripe.create_checkout(checkout_request(OrderId::new())).await.unwrap_err();
    assert!(matches!(err, PaymentError::Provider(_)), "{err:?}");
}

#[tokio::test]
async fn create_checkout_rejects_bad_lines_without_calling_stripe() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let stripe = provider(Some(server.uri()));
    let mut request = checkout_request(OrderId::new());
    request.lines[1].quantity = 0;
    assert!(matches!(stripe.create_checkout(request).await, Err(PaymentError::Refused(_))));
    let mut request = checkout_request(OrderId::new());
    request.lines.clear();
    assert!(matches!(stripe.create_checkout(request).await, Err(PaymentError::Refused(_))));
}

#[tokio::test]
async fn refund_sends_payment_intent_amount_and_idempotency_key() {
    let server = MockServer::start().await;
    let order_id = OrderId::new();
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .and(header("idempotency-key", format!("refund-{order_id}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json({
            let mut refund = fixture!("refund_succeeded.json");
            refund["metadata"] = json!({ "order_id": order_id.to_string() });
            refund
        }))
        .expect(1)
        .mount(&server)
        .await;

    let stripe = provider(Some(server.uri()));
    let refund_id = stripe
        .refund(RefundRequest {
            order_id,
            payment_intent_id: Some("pi_3PqRsTabc".into()),
            session_id: Some("cs_test_a1b2c3".into()),
            amount_cents: 6448,
            idempotency_key: format!("refund-{order_id}"),
        })
        .await
        .unwrap();
    assert_eq!(refund_id, "re_3PqRsT");

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let pairs = form_pairs(&requests[0].body);
    assert_eq!(field(&pairs, "payment_intent"), Some("pi_3PqRsTabc"));
    assert_eq!(field(&pairs, "amount"), Some("6448"));
    assert_eq!(field(&pairs, "metadata[order_id]"), Some(order_id.to_string().as_str()));
    assert!(field(&pairs, "charge").is_none());
}

#[tokio::test]
async fn refund_without_payment_intent_or_refused_by_stripe_is_refused() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/refunds"))
        .respond_with(ResponseTemplate::new(400).set_body_json(fixture!("error_charge_already_refunded.json")))
        .expect(1)
        .mount(&server)
        .await;
    let stripe = provider(Some(server.uri()));
    let request = RefundRequest {
        order_id: OrderId::new(),
        payment_intent_id: None,
        session_id: Some("cs_test_x".into()),
        amount_cents: 100,
        idempotency_key: "refund-x".into(),
    };
    assert!(matches!(stripe.refund(request.clone()).await, Err(PaymentError::Refused(_))));
    let err = stripe
        .refund(RefundRequest {
            payment_intent_id: Some("pi_1".into()),
            ..request
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PaymentError::Refused(message) if message.contains("charge_already_refunded")),
        "{err:?}"
    );
}

#[tokio::test]
async fn unreachable_stripe_is_a_provider_error() {
    // Bind and drop a listener to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let stripe = provider(Some(format!("http://127.0.0.1:{port}")));
    let err = stripe.create_checkout(checkout_request(OrderId::new())).await.unwrap_err();
    assert!(matches!(err, PaymentError::Provider(_)), "{err:?}");
}

#[test]
fn debug_hides_secrets_and_empty_secrets_are_refused() {
    let stripe = provider(Some("http://127.0.0.1:9".into()));
    let debug = format!("{stripe:?}");
    assert!(!debug.contains(SECRET_KEY) && !debug.contains(WEBHOOK_SECRET), "{debug}");
    assert!(debug.contains("redacted"));
    assert_eq!(stripe.api_base(), Some("http://127.0.0.1:9/"));
    assert_eq!(stripe.name(), "stripe");
    assert!(StripePaymentProvider::new(Secret::new(SECRET_KEY), Secret::new(""), None).is_err());
    assert!(StripePaymentProvider::new(Secret::new(" "), Secret::new(WEBHOOK_SECRET), None).is_err());
    assert!(StripePaymentProvider::new(Secret::new(SECRET_KEY), Secret::new(WEBHOOK_SECRET), None).is_ok());
}

// ---- webhooks ----

fn event(id: &str, event_type: &str, object: Value) -> String {
    let mut event = fixture!("event.json");
    event["id"] = json!(id);
    event["created"] = json!(now());
    event["type"] = json!(event_type);
    event["data"]["object"] = object;
    event.to_string()
}

/// A realistic Checkout Session as Stripe sends it in webhooks.
fn checkout_session_object(order_id: OrderId, payment_status: &str, status: &str) -> Value {
    let mut object = fixture!("checkout_session_paid.json");
    object["client_reference_id"] = json!(order_id.to_string());
    object["metadata"]["order_id"] = json!(order_id.to_string());
    object["payment_status"] = json!(payment_status);
    object["status"] = json!(status);
    if status == "expired" {
        object["payment_intent"] = Value::Null;
    }
    object
}

fn payment_intent_object(order_id: OrderId, status: &str, amount_received: i64) -> Value {
    let mut object = fixture!("payment_intent_succeeded.json");
    object["metadata"]["order_id"] = json!(order_id.to_string());
    object["status"] = json!(status);
    object["amount_received"] = json!(amount_received);
    if status == "requires_payment_method" {
        object["last_payment_error"] = fixture!("card_declined_error.json");
    }
    if amount_received <= 0 {
        object["latest_charge"] = Value::Null;
    }
    object
}

fn signed(payload: &str) -> String {
    sign_test_payload(payload, WEBHOOK_SECRET, now())
}

#[test]
fn checkout_session_completed_paid_is_succeeded() {
    let stripe = provider(None);
    let order_id = OrderId::new();
    let payload = event(
        "evt_1PaidSession",
        "checkout.session.completed",
        checkout_session_object(order_id, "paid", "complete"),
    );
    let parsed = stripe.parse_webhook(payload.as_bytes(), Some(&signed(&payload))).unwrap();
    assert_eq!(
        parsed,
        Some(PaymentEvent {
            event_id: "evt_1PaidSession".into(),
            kind: PaymentEventKind::Succeeded,
            session_id: Some("cs_test_a1b2c3".into()),
            payment_intent_id: Some("pi_3PqRsTabc".into()),
            order_id: Some(order_id),
            amount_cents: Some(6448),
            currency: Some("usd".into()),
        })
    );
}

#[test]
fn checkout_session_completed_unpaid_is_ignored() {
    let stripe = provider(None);
    let payload = event(
        "evt_1UnpaidSession",
        "checkout.session.completed",
        checkout_session_object(OrderId::new(), "unpaid", "complete"),
    );
    assert_eq!(stripe.parse_webhook(payload.as_bytes(), Some(&signed(&payload))), Ok(None));
}

#[test]
fn order_id_falls_back_to_metadata() {
    let stripe = provider(None);
    let order_id = OrderId::new();
    let mut session = checkout_session_object(order_id, "paid", "complete");
    session["client_reference_id"] = Value::Null;
    let payload = event("evt_1NoRef", "checkout.session.completed", session);
    let parsed = stripe.parse_webhook(payload.as_bytes(), Some(&signed(&payload))).unwrap().unwrap();
    assert_eq!(parsed.order_id, Some(order_id));
}

#[test]
fn payment_intent_succeeded_is_succeeded() {
    let stripe = provider(None);
    let order_id = OrderId::new();
    let payload = event(
        "evt_3PiSucceeded",
        "payment_intent.succeeded",
        payment_intent_object(order_id, "succeeded", 6448),
    );
    let parsed = stripe.parse_webhook(payload.as_bytes(), Some(&signed(&payload))).unwrap();
    assert_eq!(
        parsed,
        Some(PaymentEvent {
            event_id: "evt_3PiSucceeded".into(),
            kind: PaymentEventKind::Succeeded,
            session_id: None,
            payment_intent_id: Some("pi_3PqRsTabc".into()),
            order_id: Some(order_id),
            amount_cents: Some(6448),
            currency: Some("usd".into()),
        })
    );
}

#[test]
fn payment_intent_payment_failed_is_failed() {
    let stripe = provider(None);
    let order_id = OrderId::new();
    let payload = event(
        "evt_3PiFailed",
        "payment_intent.payment_failed",
        payment_intent_object(order_id, "requires_payment_method", 0),
    );
    let parsed = stripe.parse_webhook(payload.as_bytes(), Some(&signed(&payload))).unwrap();
    assert_eq!(
        parsed,
        Some(PaymentEvent {
            event_id: "evt_3PiFailed".into(),
            kind: PaymentEventKind::Failed,
            session_id: None,
            payment_intent_id: Some("pi_3PqRsTabc".into()),
            order_id: Some(order_id),
            amount_cents: None,
            currency: None,
        })
    );
}

#[test]
fn checkout_session_expired_is_expired() {
    let stripe = provider(None);
    let order_id = OrderId::new();
    let payload = event(
        "evt_1Expired",
        "checkout.session.expired",
        checkout_session_object(order_id, "unpaid", "expired"),
    );
    let parsed = stripe.parse_webhook(payload.as_bytes(), Some(&signed(&payload))).unwrap();
    assert_eq!(
        parsed,
        Some(PaymentEvent {
            event_id: "evt_1Expired".into(),
            kind: PaymentEventKind::Expired,
            session_id: Some("cs_test_a1b2c3".into()),
            payment_intent_id: None,
            order_id: Some(order_id),
            amount_cents: None,
            currency: None,
        })
    );
}

#[test]
fn realistic_fixtures_are_readable_by_the_typed_model() {
    // Keeps the fixtures above honest: async-stripe itself accepts them end to end.
    let order_id = OrderId::new();
    for (event_type, object) in [
        ("checkout.session.completed", checkout_session_object(order_id, "paid", "complete")),
        ("checkout.session.expired", checkout_session_object(order_id, "unpaid", "expired")),
        ("payment_intent.succeeded", payment_intent_object(order_id, "succeeded", 6448)),
        (
            "payment_intent.payment_failed",
            payment_intent_object(order_id, "requires_payment_method", 0),
        ),
    ] {
        let payload = event("evt_typed", event_type, object);
        let parsed = Webhook::construct_event(&payload, &signed(&payload), WEBHOOK_SECRET);
        assert!(parsed.is_ok(), "{event_type}: {:?}", parsed.err());
    }
}

#[test]
fn unknown_event_types_are_ignored() {
    let stripe = provider(None);
    let payload = event(
        "evt_1Customer",
        "customer.created",
        json!({ "id": "cus_123", "object": "customer", "created": 1_700_000_000, "livemode": false }),
    );
    assert_eq!(stripe.parse_webhook(payload.as_bytes(), Some(&signed(&payload))), Ok(None));
    let payload = event(
        "evt_1Future",
        "brand_new.thing_happened",
        json!({ "id": "bnt_1", "object": "brand_new" }),
    );
    assert_eq!(stripe.parse_webhook(payload.as_bytes(), Some(&signed(&payload))), Ok(None));
}

#[test]
fn verified_events_the_typed_model_cannot_read_are_still_mapped() {
    // A trimmed object (the typed model needs many more fields): the signature is still
    // checked by async-stripe, the fields are read from the JSON.
    let stripe = provider(None);
    let order_id = OrderId::new();
    let payload = event(
        "evt_1Trimmed",
        "checkout.session.completed",
        json!({
            "id": "cs_test_trim", "object": "checkout.session", "payment_status": "paid",
            "client_reference_id": order_id.to_string(), "amount_total": 500, "currency": "EUR",
            "payment_intent": { "id": "pi_expanded", "object": "payment_intent" }
        }),
    );
    let parsed = stripe.parse_webhook(payload.as_bytes(), Some(&signed(&payload))).unwrap().unwrap();
    assert_eq!(parsed.session_id.as_deref(), Some("cs_test_trim"));
    assert_eq!(parsed.payment_intent_id.as_deref(), Some("pi_expanded"));
    assert_eq!(parsed.order_id, Some(order_id));
    assert_eq!(parsed.amount_cents, Some(500));
    assert_eq!(parsed.currency.as_deref(), Some("eur"));

    // The same trimmed body, tampered: refused before anything is read.
    let signature = signed(&payload);
    let tampered = payload.replace("\"amount_total\":500", "\"amount_total\":1");
    assert_ne!(tampered, payload);
    assert!(matches!(
        stripe.parse_webhook(tampered.as_bytes(), Some(&signature)),
        Err(WebhookError::BadSignature(_))
    ));
}

#[test]
fn bad_signatures_are_refused() {
    let stripe = provider(None);
    let payload = event(
        "evt_1PaidSession",
        "checkout.session.completed",
        checkout_session_object(OrderId::new(), "paid", "complete"),
    );
    let bad = |result: Result<Option<PaymentEvent>, WebhookError>| {
        assert!(matches!(result, Err(WebhookError::BadSignature(_))), "{result:?}");
    };

    // Missing or empty header.
    bad(stripe.parse_webhook(payload.as_bytes(), None));
    bad(stripe.parse_webhook(payload.as_bytes(), Some("")));
    // Signed with another secret.
    bad(stripe.parse_webhook(payload.as_bytes(), Some(&sign_test_payload(&payload, "whsec_other", now()))));
    // Tampered body.
    let signature = signed(&payload);
    let tampered = payload.replace("\"amount_total\":6448", "\"amount_total\":1");
    assert_ne!(tampered, payload);
    bad(stripe.parse_webhook(tampered.as_bytes(), Some(&signature)));
    // Stale (and future) timestamps beyond the 300 s tolerance.
    bad(stripe.parse_webhook(payload.as_bytes(), Some(&sign_test_payload(&payload, WEBHOOK_SECRET, now() - 301))));
    bad(stripe.parse_webhook(payload.as_bytes(), Some(&sign_test_payload(&payload, WEBHOOK_SECRET, now() + 400))));
    // Garbage headers.
    bad(stripe.parse_webhook(payload.as_bytes(), Some("t=abc,v1=00")));
    bad(stripe.parse_webhook(payload.as_bytes(), Some("v1=deadbeef")));
    bad(stripe.parse_webhook(payload.as_bytes(), Some("nonsense")));
    // A v0 (test-mode scheme) signature alone is not accepted.
    let v1 = signed(&payload);
    bad(stripe.parse_webhook(payload.as_bytes(), Some(&v1.replace("v1=", "v0="))));

    // Within tolerance: accepted.
    let recent = sign_test_payload(&payload, WEBHOOK_SECRET, now() - 200);
    assert!(stripe.parse_webhook(payload.as_bytes(), Some(&recent)).unwrap().is_some());
    // Several v1 signatures (secret rotation): one matching is enough.
    let ts = now();
    let good = sign_test_payload(&payload, WEBHOOK_SECRET, ts);
    let other = sign_test_payload(&payload, "whsec_old", ts);
    let rotated = format!("{other},{}", good.split_once(',').unwrap().1);
    assert!(stripe.parse_webhook(payload.as_bytes(), Some(&rotated)).unwrap().is_some());
}

#[test]
fn malformed_but_signed_bodies_are_malformed() {
    let stripe = provider(None);
    let not_utf8 = [0xff_u8, 0xfe, 0x00];
    assert!(matches!(
        stripe.parse_webhook(&not_utf8, Some("t=1,v1=00")),
        Err(WebhookError::Malformed(_))
    ));
    let not_json = "this is not json";
    assert!(matches!(
        stripe.parse_webhook(not_json.as_bytes(), Some(&signed(not_json))),
        Err(WebhookError::Malformed(_))
    ));
    let no_object = json!({ "id": "evt_x", "object": "event", "type": "payment_intent.succeeded",
                            "created": now(), "livemode": false, "data": {} })
    .to_string();
    assert!(matches!(
        stripe.parse_webhook(no_object.as_bytes(), Some(&signed(&no_object))),
        Err(WebhookError::Malformed(_))
    ));
}

#[test]
fn sign_test_payload_matches_stripes_scheme() {
    // HMAC-SHA256("{t}.{payload}") in hex, as Stripe documents it.
    use hmac::{Hmac, Mac};
    let payload = r#"{"id":"evt_1"}"#;
    let header = sign_test_payload(payload, "whsec_abc", 1_700_000_000);
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"whsec_abc").unwrap();
    mac.update(format!("1700000000.{payload}").as_bytes());
    assert_eq!(header, format!("t=1700000000,v1={}", hex::encode(mac.finalize().into_bytes())));
}
