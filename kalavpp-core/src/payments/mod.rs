//! Payment providers: Stripe Checkout in production (`stripe`, cargo feature `stripe`), a local
//! fake in development ([`dev`], always there). Both feed the same [`PaymentEvent`]s into the
//! order services.

pub mod dev;
#[cfg(feature = "stripe")]
pub mod stripe;

use async_trait::async_trait;

use crate::domain::OrderId;

/// One line of a checkout session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutLine {
    /// Product title at checkout.
    pub title: String,
    /// Unit price in cents.
    pub unit_amount_cents: i64,
    /// Quantity.
    pub quantity: i64,
}

/// What a provider needs to open a hosted checkout for an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutRequest {
    /// The order (sent as `client_reference_id` and metadata `order_id`).
    pub order_id: OrderId,
    /// Human order number.
    pub order_number: String,
    /// ISO 4217 currency, lower case.
    pub currency: String,
    /// One entry per order line.
    pub lines: Vec<CheckoutLine>,
    /// The buyer's email.
    pub customer_email: String,
    /// Where the provider sends the buyer after paying.
    pub success_url: String,
    /// Where the provider sends the buyer after giving up.
    pub cancel_url: String,
    /// Makes retries of the same request create one session.
    pub idempotency_key: String,
    /// When the session stops taking payments (Unix seconds), matching the local reservation.
    pub expires_at: Option<i64>,
}

/// A hosted checkout session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckoutSession {
    /// The provider's session id (e.g. `cs_test_...`).
    pub session_id: String,
    /// Where to send the buyer.
    pub url: String,
}

/// A refund to issue for a paid order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// The order.
    pub order_id: OrderId,
    /// The provider's payment (payment intent) id, when known.
    pub payment_intent_id: Option<String>,
    /// The checkout session id.
    pub session_id: Option<String>,
    /// Amount in cents (the whole order).
    pub amount_cents: i64,
    /// Makes retries of the same refund refund once.
    pub idempotency_key: String,
}

/// What a provider event means for an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentEventKind {
    /// The money was taken (`checkout.session.completed` with `payment_status: paid`, `payment_intent.succeeded`).
    Succeeded,
    /// A payment attempt failed (`payment_intent.payment_failed`); the buyer may retry.
    Failed,
    /// The checkout session expired unpaid (`checkout.session.expired`).
    Expired,
    /// The payment was refunded in full outside KALAVPP (`charge.refunded`, e.g. from Stripe's
    /// dashboard): the ledger is reversed as for an admin refund.
    Refunded,
    /// The buyer disputed the payment (`charge.dispute.created`): the vendors' shares are held.
    DisputeOpened,
    /// The dispute was decided for the shop (`charge.dispute.closed`, `won` or `warning_closed`):
    /// the held shares are released.
    DisputeWon,
    /// The dispute was lost (`charge.dispute.closed`, `lost`): the money went back to the buyer,
    /// and the ledger is reversed as for a refund.
    DisputeLost,
}

/// A provider event reduced to what the order services need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEvent {
    /// The provider's event id (`evt_...`); each id takes effect at most once.
    pub event_id: String,
    /// What happened.
    pub kind: PaymentEventKind,
    /// The checkout session id, when the event names one.
    pub session_id: Option<String>,
    /// The payment intent id, when the event names one.
    pub payment_intent_id: Option<String>,
    /// The order id from `client_reference_id` / metadata, when present.
    pub order_id: Option<OrderId>,
    /// Amount paid in cents, when the event states it (checked against the order).
    pub amount_cents: Option<i64>,
    /// Currency, lower case, when the event states it (checked against the order).
    pub currency: Option<String>,
}

/// Why a provider call failed.
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    /// The provider could not be reached or answered with an error.
    #[error("payment provider error: {0}")]
    Provider(String),
    /// The provider refused the request (e.g. a refund of an unpaid charge).
    #[error("payment provider refused: {0}")]
    Refused(String),
}

/// Why a webhook was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    /// Missing, wrong or stale (> 300 s) signature.
    #[error("invalid signature: {0}")]
    BadSignature(String),
    /// Signed correctly but not a readable event.
    #[error("malformed event: {0}")]
    Malformed(String),
}

/// A payment provider.
#[async_trait]
pub trait PaymentProvider: Send + Sync + std::fmt::Debug {
    /// `stripe` or `dev`.
    fn name(&self) -> &'static str;
    /// Opens a hosted checkout for an order.
    async fn create_checkout(&self, request: CheckoutRequest) -> Result<CheckoutSession, PaymentError>;
    /// Refunds a paid order in full; returns the provider's refund id.
    async fn refund(&self, request: RefundRequest) -> Result<String, PaymentError>;
    /// Expires an open checkout session so nobody can pay on it any more. A session that is no
    /// longer open (already expired or completed) is `Refused`.
    async fn expire_checkout(&self, session_id: &str, idempotency_key: &str) -> Result<(), PaymentError>;
    /// Verifies and reads a webhook (raw body + `Stripe-Signature` header). `Ok(None)` for event
    /// types that do not concern orders.
    fn parse_webhook(&self, payload: &[u8], signature: Option<&str>) -> Result<Option<PaymentEvent>, WebhookError>;
}
