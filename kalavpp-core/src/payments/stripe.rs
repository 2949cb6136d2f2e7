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
mod tests;
