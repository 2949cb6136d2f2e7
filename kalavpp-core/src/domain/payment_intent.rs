//! Outbound payment actions recorded as intents: written in the same transaction as the state
//! change that needs them, completed by the payment reconciler with their idempotency key until
//! the provider confirms.

use uuid::Uuid;

use super::{OrderId, Timestamp, UserId};

/// What a payment intent asks the provider to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntentKind {
    /// Open the provider's checkout session of a new order (written with the order; a crash
    /// before its session id is stored is repaired with the same idempotency key).
    CreateSession,
    /// Expire the checkout session of an order that was cancelled or expired locally.
    ExpireSession,
    /// Refund a paid order in full (an admin's refund); the ledger is reversed once the
    /// provider confirms.
    Refund,
    /// Give back a payment the order could not take (it arrived after a cancel or an expiry,
    /// for a refunded order, twice, or for the wrong amount). No ledger entry ever existed.
    AutoRefund,
}

impl IntentKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreateSession => "create_session",
            Self::ExpireSession => "expire_session",
            Self::Refund => "refund",
            Self::AutoRefund => "auto_refund",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "create_session" => Ok(Self::CreateSession),
            "expire_session" => Ok(Self::ExpireSession),
            "refund" => Ok(Self::Refund),
            "auto_refund" => Ok(Self::AutoRefund),
            other => Err(format!("unknown payment intent kind {other:?}")),
        }
    }
}

/// Where an intent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntentStatus {
    /// Waiting for (another) provider call.
    Pending,
    /// The provider confirmed and the result was applied.
    Done,
    /// The provider refused for good (e.g. insufficient funds); nothing was applied.
    Failed,
}

impl IntentStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "pending" => Ok(Self::Pending),
            "done" => Ok(Self::Done),
            "failed" => Ok(Self::Failed),
            other => Err(format!("unknown payment intent status {other:?}")),
        }
    }
}

/// A stored payment intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentIntent {
    /// Row id.
    pub id: Uuid,
    /// The order it concerns.
    pub order_id: OrderId,
    /// What it asks.
    pub kind: IntentKind,
    /// Where it stands.
    pub status: IntentStatus,
    /// Its idempotency key.
    pub idempotency_key: String,
    /// The checkout session (expiries).
    pub session_id: Option<String>,
    /// The provider's payment (refunds).
    pub payment_intent_id: Option<String>,
    /// Amount in cents (refunds).
    pub amount_cents: i64,
    /// Who asked.
    pub actor_id: Option<UserId>,
    /// What the provider answered (a refund id).
    pub result_id: Option<String>,
    /// Provider calls made (claims taken).
    pub attempts: i32,
    /// Next attempt not before (also the lease of a claimed attempt).
    pub next_attempt_at: Timestamp,
    /// The last failure, for operators.
    pub last_error: Option<String>,
    /// Created.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}
