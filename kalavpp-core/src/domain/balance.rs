//! A vendor's ledger as read back: its entries and the balances they sum to.

use serde::Serialize;

use super::{LedgerBucket, LedgerEntryId, LedgerKind, Money, OrderId, OrderItemId, PayoutId, Timestamp, VendorId};

/// A stored ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    /// Entry id.
    pub id: LedgerEntryId,
    /// The vendor.
    pub vendor_id: VendorId,
    /// The order.
    pub order_id: Option<OrderId>,
    /// The line.
    pub order_item_id: Option<OrderItemId>,
    /// Why.
    pub kind: LedgerKind,
    /// Which balance.
    pub bucket: LedgerBucket,
    /// Signed amount.
    pub amount: Money,
    /// When.
    pub created_at: Timestamp,
    /// The payout request it belongs to (payout holds and debits).
    pub payout_id: Option<PayoutId>,
}

/// A vendor's balances: sums of ledger entries per bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Balance {
    /// Earned, not yet withdrawable.
    pub pending: Money,
    /// Withdrawable (may be negative after a refund of money already paid out).
    pub available: Money,
    /// Held for payout requests.
    pub held: Money,
    /// Paid out so far.
    pub paid_out: Money,
    /// Platform commission on this vendor's sales.
    pub commission: Money,
}
