//! The email outbox as the admin sees it, and its filters.

use serde::Serialize;

use super::{EmailId, Timestamp};

/// A message in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxEmail {
    /// Message id.
    pub id: EmailId,
    /// Recipient address.
    pub recipient: String,
    /// Template name.
    pub template: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub body_text: String,
    /// `queued`, `sending` (claimed by a worker), `sent` or `failed`.
    pub status: String,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// The last delivery error (kept after a later attempt succeeds).
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: Timestamp,
    /// When it was delivered.
    pub sent_at: Option<Timestamp>,
}

/// Filters of the outbox list.
#[derive(Debug, Clone, Default)]
pub struct EmailFilter {
    /// Only messages to this address.
    pub recipient: Option<String>,
    /// Only this template.
    pub template: Option<String>,
    /// Only this status.
    pub status: Option<String>,
}
