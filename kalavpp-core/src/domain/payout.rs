//! Vendor payout requests, the admin's decisions on them, and the payout list's filters.

use serde::Serialize;

use super::{Money, PayoutId, PayoutStatus, Timestamp, VendorId};

/// A payout request and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payout {
    /// Request id.
    pub id: PayoutId,
    /// The vendor paid.
    pub vendor_id: VendorId,
    /// Amount asked for (> 0).
    pub amount: Money,
    /// Installation currency at request time.
    pub currency: String,
    /// Where it stands.
    pub status: PayoutStatus,
    /// Why an admin turned it down.
    pub rejection_reason: Option<String>,
    /// The transfer reference given when it was paid.
    pub reference: Option<String>,
    /// When the vendor asked.
    pub requested_at: Timestamp,
    /// When an admin approved it.
    pub approved_at: Option<Timestamp>,
    /// When it was marked paid.
    pub paid_at: Option<Timestamp>,
    /// When it was rejected.
    pub rejected_at: Option<Timestamp>,
    /// Last change.
    pub updated_at: Timestamp,
}

/// What an admin does with a payout request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayoutAction {
    /// `requested` → `approved`.
    Approve,
    /// `requested` or `approved` → `rejected`; the held amount returns to available.
    Reject {
        /// Shown to the vendor.
        reason: String,
    },
    /// `approved` → `paid`; the held amount leaves as a payout debit.
    MarkPaid {
        /// Transfer reference.
        reference: String,
    },
}

impl PayoutAction {
    /// The statuses this action may start from.
    pub fn allowed_from(&self) -> &'static [PayoutStatus] {
        match self {
            Self::Approve => &[PayoutStatus::Requested],
            Self::Reject { .. } => &[PayoutStatus::Requested, PayoutStatus::Approved],
            Self::MarkPaid { .. } => &[PayoutStatus::Approved],
        }
    }

    /// The status this action leads to.
    pub fn target(&self) -> PayoutStatus {
        match self {
            Self::Approve => PayoutStatus::Approved,
            Self::Reject { .. } => PayoutStatus::Rejected,
            Self::MarkPaid { .. } => PayoutStatus::Paid,
        }
    }
}

/// Filters of payout lists.
#[derive(Debug, Clone, Default)]
pub struct PayoutFilter {
    /// Only this vendor's requests.
    pub vendor_id: Option<VendorId>,
    /// Only this status.
    pub status: Option<PayoutStatus>,
}
