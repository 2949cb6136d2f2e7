//! Outbound payment actions recorded as intents: written in the same transaction as the state
//! change that needs them, completed by the payment reconciler with their idempotency key until
//! the provider confirms, then applied in one transaction.

use uuid::Uuid;

use super::{NewAudit, NewEmail};
use crate::domain::Timestamp;
use crate::domain::{IntentKind, OrderId, UserId};

/// A new outbound payment action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPaymentIntent {
    /// Row id.
    pub id: Uuid,
    /// The order it concerns.
    pub order_id: OrderId,
    /// What to ask.
    pub kind: IntentKind,
    /// Sent with every attempt, so the provider acts once (unique).
    pub idempotency_key: String,
    /// The checkout session (expiries).
    pub session_id: Option<String>,
    /// The provider's payment to refund (refunds).
    pub payment_intent_id: Option<String>,
    /// Amount in cents (refunds).
    pub amount_cents: i64,
    /// The admin who asked (refunds), `None` for the system.
    pub actor_id: Option<UserId>,
    /// First attempt not before (the inline attempt's lease).
    pub next_attempt_at: Timestamp,
    /// When.
    pub at: Timestamp,
}

/// A payment the order cannot take, to be given back: stored with the event that brought it
/// when (and only when) the order's status, read inside the event's transaction, refuses it.
#[derive(Debug, Clone)]
pub struct LatePayment {
    /// The refund intent (kind [`IntentKind::AutoRefund`]).
    pub intent: NewPaymentIntent,
    /// `order.auto_refund` (actor: system).
    pub audit: NewAudit,
    /// Tells the buyer the money is on its way back.
    pub email: Option<NewEmail>,
    /// Refund even if the order is still waiting for payment (the amount or currency was wrong);
    /// a paid order's own payment is never given back this way.
    pub always: bool,
}
