//! The audit log as read back: who changed what, and its filters.

use serde::Serialize;

use super::{AuditId, Timestamp, UserId};

/// A stored audit-log row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// Row id.
    pub id: AuditId,
    /// When.
    pub at: Timestamp,
    /// Who (None for the system / CLI).
    pub actor_id: Option<UserId>,
    /// `<target>.<verb>`.
    pub action: String,
    /// Kind of thing changed.
    pub target_type: String,
    /// Id of the thing changed.
    pub target_id: String,
    /// What changed.
    pub details: serde_json::Value,
}

/// Filters of the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only rows by this actor.
    pub actor_id: Option<UserId>,
    /// Only this action.
    pub action: Option<String>,
    /// Rows at or after.
    pub from: Option<Timestamp>,
    /// Rows before or at.
    pub to: Option<Timestamp>,
}
