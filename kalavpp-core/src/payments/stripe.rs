//! Stripe Checkout through async-stripe (`=1.0.0-rc.10`).
//!
//! * [`StripePaymentProvider::create_checkout`] opens a Checkout Session (mode `payment`, one
//!   `price_data` line per order line, `client_reference_id` = order id, the order id in the
//!   session's and the payment intent's metadata) with the order's idempotency key.
//! * [`StripePaymentProvider::refund`] refunds the payment intent, also idempotently.
//! * [`StripePaymentProvider::parse_webhook`] verifies `Stripe-Signature` with async-stripe's
//!   [`Webhook::construct_event`] (HMAC-SHA256, 300 s tolerance) and reduces the event to a
//!   [`PaymentEvent`], reading the few fields it needs from the verified JSON itself so that a
//!   newer Stripe API version or an object shape the typed model does not know never loses a
//!   payment.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use stripe::{IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::CheckoutSessionMode;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData, CreateCheckoutSessionPaymentIntentData,
    ExpireCheckoutSession, ProductData,
};
use stripe_core::refund::CreateRefund;
use stripe_webhook::Webhook;

use super::{CheckoutRequest, CheckoutSession, PaymentError, PaymentEvent, PaymentEventKind, PaymentProvider, RefundRequest, WebhookError};
use crate::config::{Secret, StripeConfig};
use crate::domain::OrderId;

/// How far (in seconds) a webhook's signed timestamp may be from now; enforced by
/// [`Webhook::construct_event`].
pub const WEBHOOK_TOLERANCE_SECS: i64 = 300;

/// Per-attempt timeout of calls to Stripe.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Produces a valid `Stripe-Signature` header value (`t=<timestamp>,v1=<hex HMAC-SHA256>`) for
/// `payload` signed with the webhook secret `secret` at `timestamp` (Unix seconds). For tests
/// and local tooling; Stripe signs real events itself.
pub fn sign_test_payload(payload: &str, secret: &str, timestamp: i64) -> String {
    Webhook::generate_test_header(payload, secret, Some(timestamp))
}

/// The Stripe provider for a [`StripeConfig`] (`STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`,
/// `STRIPE_API_BASE`), ready to hand to the marketplace.
pub fn provider(config: &StripeConfig) -> crate::error::Result<Arc<dyn PaymentProvider>> {
    let provider = StripePaymentProvider::new(config.secret_key.clone(), config.webhook_secret.clone(), config.api_base.clone())
        .map_err(|err| crate::error::Error::Internal(err.to_string()))?;
    Ok(Arc::new(provider))
}

/// Stripe Checkout as a [`PaymentProvider`].
#[derive(Clone)]
pub struct StripePaymentProvider {
    client: stripe::Client,
    webhook_secret: Secret,
    api_base: Option<String>,
}

impl fmt::Debug for StripePaymentProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripePaymentProvider")
            .field("api_base", &self.api_base.as_deref().unwrap_or("https://api.stripe.com/"))
            .field("secret_key", &"[redacted]")
            .field("webhook_secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl StripePaymentProvider {
    /// A provider calling Stripe with `secret_key` (`sk_...` / `rk_...`) and verifying webhooks
    /// with `webhook_secret` (`whsec_...`). `api_base` points the client at another
    /// Stripe-shaped server (`STRIPE_API_BASE`, e.g. `http://127.0.0.1:12111`); `None` is Stripe.
    pub fn new(secret_key: Secret, webhook_secret: Secret, api_base: Option<String>) -> Result<Self, PaymentError> {
        if secret_key.expose().trim().is_empty() {
            return Err(PaymentError::Provider("the Stripe secret key is empty".into()));
        }
        // An empty HMAC key would let anyone sign events.
        if webhook_secret.expose().trim().is_empty() {
            return Err(PaymentError::Provider("the Stripe webhook secret is empty".into()));
        }
        let api_base = api_base
            .map(|base| base.trim().to_owned())
            .filter(|base| !base.is_empty())
            .map(|base| {
                // The client joins `{base}v1/...`: keep exactly one slash between them.
                if base.ends_with('/') { base } else { format!("{base}/") }
            });
        let mut builder = stripe::ClientBuilder::new(secret_key.expose())
            .app_info("kalavpp", Some(env!("CARGO_PKG_VERSION").to_owned()), None)
            .timeout(REQUEST_TIMEOUT);
        if let Some(base) = &api_base {
            builder = builder.url(base.clone());
        }
        // The error text never contains the key (async-stripe only names the bad setting).
        let client = builder
            .build()
            .map_err(|err| PaymentError::Provider(format!("Stripe client: {err}")))?;
        Ok(Self {
            client,
            webhook_secret,
            api_base,
        })
    }

    /// The overriding API base, if any (normalised to end with `/`).
    pub fn api_base(&self) -> Option<&str> {
        self.api_base.as_deref()
    }
}

fn idempotent(key: &str) -> Result<RequestStrategy, PaymentError> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|err| PaymentError::Provider(format!("invalid idempotency key: {err}")))
}

/// Stripe's 400 / 402 / 404 answers are refusals of this request; anything else (network, 401,
/// 409 idempotency conflicts, 429, 5xx, undecodable answers) is a provider failure.
fn map_stripe_error(context: &str, err: StripeError) -> PaymentError {
    match err {
        StripeError::Stripe(api, status) => {
            let detail = format!(
                "{context}: {} {}{} (HTTP {status})",
                api.type_.as_str(),
                api.code.as_ref().map(|code| format!("{code}: ")).unwrap_or_default(),
                api.message.as_deref().unwrap_or("no message"),
            );
            if matches!(status, 400 | 402 | 404) {
                PaymentError::Refused(detail)
            } else {
                PaymentError::Provider(detail)
            }
        }
        other => PaymentError::Provider(format!("{context}: {other}")),
    }
}

#[async_trait]
impl PaymentProvider for StripePaymentProvider {
    fn name(&self) -> &'static str {
        "stripe"
    }

    async fn create_checkout(&self, request: CheckoutRequest) -> Result<CheckoutSession, PaymentError> {
        if request.lines.is_empty() {
            return Err(PaymentError::Refused("a checkout needs at least one line".into()));
        }
        let Ok(currency) = stripe_types::Currency::from_str(&request.currency.trim().to_ascii_lowercase());
        let mut line_items = Vec::with_capacity(request.lines.len());
        for line in &request.lines {
            let quantity = u64::try_from(line.quantity)
                .ok()
                .filter(|quantity| *quantity > 0)
                .ok_or_else(|| PaymentError::Refused(format!("invalid quantity {} for {:?}", line.quantity, line.title)))?;
            if line.unit_amount_cents < 0 {
                return Err(PaymentError::Refused(format!(
                    "invalid unit amount {} for {:?}",
                    line.unit_amount_cents, line.title
                )));
            }
            let mut price_data = CreateCheckoutSessionLineItemsPriceData::new(currency.clone());
            price_data.product_data = Some(ProductData::new(line.title.clone()));
            price_data.unit_amount = Some(line.unit_amount_cents);
            let mut item = CreateCheckoutSessionLineItems::new();
            item.price_data = Some(price_data);
            item.quantity = Some(quantity);
            line_items.push(item);
        }

        let order_id = request.order_id.to_string();
        let metadata = HashMap::from([
            ("order_id".to_owned(), order_id.clone()),
            ("order_number".to_owned(), request.order_number.clone()),
        ]);
        // So that `payment_intent.*` events name the order too.
        let mut payment_intent_data = CreateCheckoutSessionPaymentIntentData::new();
        payment_intent_data.metadata = Some(HashMap::from([
            ("order_id".to_owned(), order_id.clone()),
            ("order_number".to_owned(), request.order_number.clone()),
        ]));

        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Payment)
            .line_items(line_items)
            .client_reference_id(order_id)
            .metadata(metadata)
            .payment_intent_data(payment_intent_data)
            .customer_email(request.customer_email.clone())
            .success_url(request.success_url.clone())
            .cancel_url(request.cancel_url.clone());
        let session = match request.expires_at {
            Some(at) => session.expires_at(at),
            None => session,
        };
        let session = session
            .customize()
            .request_strategy(idempotent(&request.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(|err| map_stripe_error("creating the checkout session", err))?;

        let url = session
            .url
            .filter(|url| !url.is_empty())
            .ok_or_else(|| PaymentError::Provider(format!("checkout session {} has no url", session.id.as_str())))?;
        Ok(CheckoutSession {
            session_id: session.id.as_str().to_owned(),
            url,
        })
    }

    async fn refund(&self, request: RefundRequest) -> Result<String, PaymentError> {
        let payment_intent = request
            .payment_intent_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| PaymentError::Refused(format!("order {} has no Stripe payment intent to refund", request.order_id)))?;
        if request.amount_cents <= 0 {
            return Err(PaymentError::Refused(format!("invalid refund amount {}", request.amount_cents)));
        }
        let refund = CreateRefund::new()
            .payment_intent(payment_intent)
            .amount(request.amount_cents)
            .metadata(HashMap::from([("order_id".to_owned(), request.order_id.to_string())]))
            .customize()
            .request_strategy(idempotent(&request.idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(|err| map_stripe_error("creating the refund", err))?;
        Ok(refund.id.as_str().to_owned())
    }

    async fn expire_checkout(&self, session_id: &str, idempotency_key: &str) -> Result<(), PaymentError> {
        ExpireCheckoutSession::new(session_id)
            .customize()
            .request_strategy(idempotent(idempotency_key)?)
            .send(&self.client)
            .await
            .map_err(|err| map_stripe_error("expiring the checkout session", err))?;
        Ok(())
    }

    fn parse_webhook(&self, payload: &[u8], signature: Option<&str>) -> Result<Option<PaymentEvent>, WebhookError> {
        let signature = signature
            .map(str::trim)
            .filter(|signature| !signature.is_empty())
            .ok_or_else(|| WebhookError::BadSignature("missing Stripe-Signature header".into()))?;
        let body = std::str::from_utf8(payload).map_err(|_| WebhookError::Malformed("body is not UTF-8".into()))?;

        match Webhook::construct_event(body, signature, self.webhook_secret.expose()) {
            Ok(_) => {}
            // async-stripe checks the header, the HMAC and the timestamp before it parses the
            // payload (`do_construct_event`), so `BadParse` means "verified, but the typed model
            // could not read it": we read the verified JSON ourselves below.
            Err(stripe_webhook::WebhookError::BadParse(reason)) => {
                tracing::debug!(%reason, "verified Stripe event not readable by the typed model; reading it as JSON");
            }
            Err(stripe_webhook::WebhookError::BadSignature) => {
                return Err(WebhookError::BadSignature("no v1 signature matches".into()));
            }
            Err(stripe_webhook::WebhookError::BadTimestamp(timestamp)) => {
                return Err(WebhookError::BadSignature(format!(
                    "timestamp {timestamp} is more than {WEBHOOK_TOLERANCE_SECS} s from now"
                )));
            }
            Err(stripe_webhook::WebhookError::BadHeader(_)) => {
                return Err(WebhookError::BadSignature("unreadable timestamp in Stripe-Signature".into()));
            }
            Err(stripe_webhook::WebhookError::BadKey) => {
                return Err(WebhookError::BadSignature("unusable webhook secret".into()));
            }
        }

        let event: Value = serde_json::from_str(body).map_err(|err| WebhookError::Malformed(format!("not JSON: {err}")))?;
        event_from_json(&event)
    }
}

/// Reduces a verified Stripe event to a [`PaymentEvent`]; `Ok(None)` for other event types.
fn event_from_json(event: &Value) -> Result<Option<PaymentEvent>, WebhookError> {
    let event_id = non_empty_str(&event["id"]).ok_or_else(|| WebhookError::Malformed("event has no id".into()))?;
    let event_type = non_empty_str(&event["type"]).ok_or_else(|| WebhookError::Malformed("event has no type".into()))?;
    let object = || {
        event
            .pointer("/data/object")
            .filter(|object| object.is_object())
            .ok_or_else(|| WebhookError::Malformed(format!("{event_type} event {event_id} has no data.object")))
    };
    let object_id = |object: &Value| {
        non_empty_str(&object["id"])
            .map(str::to_owned)
            .ok_or_else(|| WebhookError::Malformed(format!("{event_type} event {event_id}: data.object has no id")))
    };
    let base = |kind| PaymentEvent {
        event_id: event_id.to_owned(),
        kind,
        session_id: None,
        payment_intent_id: None,
        order_id: None,
        amount_cents: None,
        currency: None,
    };

    let parsed = match event_type {
        "checkout.session.completed" => {
            let session = object()?;
            if session["payment_status"].as_str() != Some("paid") {
                // e.g. a delayed payment method: `payment_intent.succeeded` follows when it clears.
                return Ok(None);
            }
            PaymentEvent {
                session_id: Some(object_id(session)?),
                payment_intent_id: id_or_expanded(&session["payment_intent"]),
                order_id: session_order_id(session),
                amount_cents: session["amount_total"].as_i64(),
                currency: currency(session),
                ..base(PaymentEventKind::Succeeded)
            }
        }
        "checkout.session.expired" => {
            let session = object()?;
            PaymentEvent {
                session_id: Some(object_id(session)?),
                payment_intent_id: id_or_expanded(&session["payment_intent"]),
                order_id: session_order_id(session),
                ..base(PaymentEventKind::Expired)
            }
        }
        "payment_intent.succeeded" => {
            let intent = object()?;
            PaymentEvent {
                payment_intent_id: Some(object_id(intent)?),
                order_id: metadata_order_id(intent),
                amount_cents: intent["amount_received"].as_i64(),
                currency: currency(intent),
                ..base(PaymentEventKind::Succeeded)
            }
        }
        "payment_intent.payment_failed" => {
            let intent = object()?;
            PaymentEvent {
                payment_intent_id: Some(object_id(intent)?),
                order_id: metadata_order_id(intent),
                ..base(PaymentEventKind::Failed)
            }
        }
        "charge.refunded" => {
            let charge = object()?;
            if charge["refunded"].as_bool() != Some(true) {
                // A partial refund: the order and ledger stay as they are (full refunds only).
                tracing::warn!(event = event_id, "partial refund made outside KALAVPP; the order is unchanged");
                return Ok(None);
            }
            PaymentEvent {
                payment_intent_id: id_or_expanded(&charge["payment_intent"]),
                order_id: metadata_order_id(charge),
                amount_cents: charge["amount_refunded"].as_i64(),
                currency: currency(charge),
                ..base(PaymentEventKind::Refunded)
            }
        }
        "charge.dispute.created" | "charge.dispute.closed" => {
            let dispute = object()?;
            let kind = match (event_type, dispute["status"].as_str()) {
                ("charge.dispute.created", _) => PaymentEventKind::DisputeOpened,
                (_, Some("lost")) => PaymentEventKind::DisputeLost,
                (_, Some("won" | "warning_closed")) => PaymentEventKind::DisputeWon,
                _ => return Ok(None),
            };
            PaymentEvent {
                payment_intent_id: id_or_expanded(&dispute["payment_intent"]),
                order_id: metadata_order_id(dispute),
                amount_cents: dispute["amount"].as_i64(),
                currency: currency(dispute),
                ..base(kind)
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(parsed))
}

fn non_empty_str(value: &Value) -> Option<&str> {
    value.as_str().map(str::trim).filter(|text| !text.is_empty())
}

/// An expandable reference: either `"pi_..."` or an expanded object with an `id`.
fn id_or_expanded(value: &Value) -> Option<String> {
    non_empty_str(value).or_else(|| non_empty_str(&value["id"])).map(str::to_owned)
}

fn currency(object: &Value) -> Option<String> {
    non_empty_str(&object["currency"]).map(str::to_ascii_lowercase)
}

fn parse_order_id(text: &str, source: &str) -> Option<OrderId> {
    let parsed = OrderId::parse(text);
    if parsed.is_none() {
        tracing::warn!(value = text, source, "Stripe event names an order id that is not ours");
    }
    parsed
}

fn metadata_order_id(object: &Value) -> Option<OrderId> {
    non_empty_str(&object["metadata"]["order_id"]).and_then(|text| parse_order_id(text, "metadata.order_id"))
}

fn session_order_id(session: &Value) -> Option<OrderId> {
    non_empty_str(&session["client_reference_id"])
        .and_then(|text| parse_order_id(text, "client_reference_id"))
        .or_else(|| metadata_order_id(session))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wiremock::matchers::{header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;
    use crate::payments::CheckoutLine;

    const SECRET_KEY: &str = "sk_test_kalavpp_secret_key_0123456789";
    const WEBHOOK_SECRET: &str = "whsec_kalavpp_test_secret";

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
        json!({
            "id": id,
            "object": "checkout.session",
            "created": 1_700_000_000,
            "expires_at": 1_700_086_400,
            "livemode": false,
            "mode": "payment",
            "payment_status": "unpaid",
            "status": "open",
            "url": url,
            "automatic_tax": { "enabled": false, "liability": null, "status": null },
            "custom_fields": [],
            "custom_text": {
                "after_submit": null,
                "shipping_address": null,
                "submit": null,
                "terms_of_service_acceptance": null
            },
            "payment_method_types": ["card"],
            "phone_number_collection": { "enabled": false },
            "shipping_options": []
        })
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
                ResponseTemplate::new(200)
                    .set_body_json(session_json("cs_test_a1b2c3", "https://checkout.stripe.com/c/pay/cs_test_a1b2c3")),
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
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "error": { "type": "invalid_request_error", "code": "parameter_invalid_integer",
                           "message": "Invalid integer: -1", "param": "line_items[0][quantity]" }
            })))
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
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "re_3PqRsT",
                "object": "refund",
                "amount": 6448,
                "created": 1_700_000_500,
                "currency": "usd",
                "payment_intent": "pi_3PqRsTabc",
                "status": "succeeded",
                "metadata": { "order_id": order_id.to_string() }
            })))
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
            .respond_with(ResponseTemplate::new(400).set_body_json(json!({
                "error": { "type": "invalid_request_error", "code": "charge_already_refunded",
                           "message": "Charge ch_1 has already been refunded." }
            })))
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
        json!({
            "id": id,
            "object": "event",
            "api_version": "2025-03-31.basil",
            "created": now(),
            "livemode": false,
            "pending_webhooks": 1,
            "request": { "id": null, "idempotency_key": null },
            "type": event_type,
            "data": { "object": object }
        })
        .to_string()
    }

    /// A realistic Checkout Session as Stripe sends it in webhooks.
    fn checkout_session_object(order_id: OrderId, payment_status: &str, status: &str) -> Value {
        // Built in two halves: one `json!` this size exceeds the macro recursion limit.
        let mut object = json!({
            "id": "cs_test_a1b2c3",
            "object": "checkout.session",
            "adaptive_pricing": { "enabled": false },
            "after_expiration": null,
            "allow_promotion_codes": null,
            "amount_subtotal": 6448,
            "amount_total": 6448,
            "automatic_tax": { "enabled": false, "liability": null, "provider": null, "status": null },
            "billing_address_collection": null,
            "cancel_url": "https://shop.example.com/cart",
            "client_reference_id": order_id.to_string(),
            "client_secret": null,
            "collected_information": null,
            "consent": null,
            "consent_collection": null,
            "created": 1_700_000_000,
            "currency": "usd",
            "currency_conversion": null,
            "custom_fields": [],
            "custom_text": {
                "after_submit": null, "shipping_address": null, "submit": null,
                "terms_of_service_acceptance": null
            },
            "customer": null,
            "customer_creation": "if_required",
            "customer_details": {
                "address": null, "email": "buyer@example.com", "name": "Buyer", "phone": null,
                "tax_exempt": "none", "tax_ids": []
            },
            "customer_email": "buyer@example.com",
            "discounts": []
        });
        let rest = json!({
            "expires_at": 1_700_086_400,
            "invoice": null,
            "invoice_creation": null,
            "livemode": false,
            "locale": null,
            "metadata": { "order_id": order_id.to_string(), "order_number": "KV-2024-000123" },
            "mode": "payment",
            "payment_intent": if status == "expired" { Value::Null } else { json!("pi_3PqRsTabc") },
            "payment_link": null,
            "payment_method_collection": "if_required",
            "payment_method_configuration_details": null,
            "payment_method_options": { "card": { "request_three_d_secure": "automatic" } },
            "payment_method_types": ["card"],
            "payment_status": payment_status,
            "phone_number_collection": { "enabled": false },
            "recovered_from": null,
            "saved_payment_method_options": null,
            "setup_intent": null,
            "shipping_address_collection": null,
            "shipping_cost": null,
            "shipping_options": [],
            "status": status,
            "submit_type": null,
            "subscription": null,
            "success_url": "https://shop.example.com/orders/success",
            "total_details": { "amount_discount": 0, "amount_shipping": 0, "amount_tax": 0 },
            "ui_mode": "hosted",
            "url": null
        });
        object.as_object_mut().unwrap().extend(rest.as_object().unwrap().clone());
        object
    }

    fn payment_intent_object(order_id: OrderId, status: &str, amount_received: i64) -> Value {
        json!({
            "id": "pi_3PqRsTabc",
            "object": "payment_intent",
            "amount": 6448,
            "amount_capturable": 0,
            "amount_details": { "tip": {} },
            "amount_received": amount_received,
            "application": null,
            "application_fee_amount": null,
            "automatic_payment_methods": null,
            "canceled_at": null,
            "cancellation_reason": null,
            "capture_method": "automatic_async",
            "client_secret": "pi_3PqRsTabc_secret_xyz",
            "confirmation_method": "automatic",
            "created": 1_700_000_100,
            "currency": "usd",
            "customer": null,
            "description": null,
            "last_payment_error": if status == "requires_payment_method" {
                json!({ "type": "card_error", "code": "card_declined", "decline_code": "generic_decline",
                        "message": "Your card was declined." })
            } else { Value::Null },
            "latest_charge": if amount_received > 0 { json!("ch_3PqRsTabc") } else { Value::Null },
            "livemode": false,
            "metadata": { "order_id": order_id.to_string(), "order_number": "KV-2024-000123" },
            "next_action": null,
            "on_behalf_of": null,
            "payment_method": null,
            "payment_method_configuration_details": null,
            "payment_method_options": { "card": { "installments": null, "mandate_options": null,
                "network": null, "request_three_d_secure": "automatic" } },
            "payment_method_types": ["card"],
            "processing": null,
            "receipt_email": null,
            "review": null,
            "setup_future_usage": null,
            "shipping": null,
            "source": null,
            "statement_descriptor": null,
            "statement_descriptor_suffix": null,
            "status": status,
            "transfer_data": null,
            "transfer_group": null
        })
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
}
