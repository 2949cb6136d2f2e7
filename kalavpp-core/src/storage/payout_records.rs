//! Records of vendor payout requests.

use super::{NewAudit, NewEmail};
use crate::domain::Timestamp;
use crate::domain::{Money, PayoutAction, PayoutId, VendorId};

/// A vendor asking to be paid `amount` out of its available balance.
#[derive(Debug, Clone)]
pub struct NewPayout {
    /// Request id.
    pub id: PayoutId,
    /// The vendor.
    pub vendor_id: VendorId,
    /// Amount (> 0).
    pub amount: Money,
    /// Installation currency.
    pub currency: String,
    /// Confirmation email to the vendor.
    pub email: Option<NewEmail>,
    /// When.
    pub at: Timestamp,
}

/// An admin decision on a payout, with its audit row and email.
#[derive(Debug, Clone)]
pub struct PayoutDecision {
    /// The request.
    pub payout_id: PayoutId,
    /// What to do.
    pub action: PayoutAction,
    /// Audit row written in the same transaction.
    pub audit: NewAudit,
    /// Email to the vendor.
    pub email: Option<NewEmail>,
    /// When.
    pub at: Timestamp,
}
