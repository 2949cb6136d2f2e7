//! Ledger postings of an order's lines as pure functions: which entries a payment, a release, a
//! dispute hold or release and a refund write. Backends read what these need inside their
//! transaction, call them, and insert exactly the postings they return.
//!
//! A line is identified by a backend-chosen key `L` (its item, vendor and order ids in the
//! backend's own representation), so the rules stay free of storage types.

use super::{LedgerBucket, LedgerKind, Money, PayoutAction};

/// One entry to append to the ledger for the line identified by `line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinePosting<L> {
    /// The line (backend key: item, vendor, order).
    pub line: L,
    /// Why the entry is written.
    pub kind: LedgerKind,
    /// Which balance it moves.
    pub bucket: LedgerBucket,
    /// Signed amount; never zero (zero postings are not written).
    pub amount: Money,
}

/// A line of an order being paid, as snapshotted at checkout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidLine<L> {
    /// The line (backend key).
    pub line: L,
    /// Whether the line is a digital download (delivered on payment).
    pub digital: bool,
    /// The vendor's net share of the line.
    pub net: Money,
    /// The platform's commission on the line.
    pub commission: Money,
}

/// What the ledger holds for one line in one bucket (the sum of its entries there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketSum<L> {
    /// The line (backend key).
    pub line: L,
    /// The bucket.
    pub bucket: LedgerBucket,
    /// The sum of the line's entries in that bucket.
    pub sum: Money,
}

fn push<L>(out: &mut Vec<LinePosting<L>>, line: L, kind: LedgerKind, bucket: LedgerBucket, amount: i64) {
    if amount != 0 {
        out.push(LinePosting {
            line,
            kind,
            bucket,
            amount: Money(amount),
        });
    }
}

/// The entries a successful payment writes, line by line in the given order: the vendor's net as a
/// sale credit (available at once for a digital line unless `digital_credit_pending`, pending
/// otherwise), then the platform's commission.
pub fn payment_postings<L: Clone>(lines: &[PaidLine<L>], digital_credit_pending: bool) -> Vec<LinePosting<L>> {
    let mut out = Vec::with_capacity(lines.len() * 2);
    for line in lines {
        let bucket = if line.digital && !digital_credit_pending {
            LedgerBucket::Available
        } else {
            LedgerBucket::Pending
        };
        push(&mut out, line.line.clone(), LedgerKind::SaleCredit, bucket, line.net.0);
        push(
            &mut out,
            line.line.clone(),
            LedgerKind::Commission,
            LedgerBucket::Platform,
            line.commission.0,
        );
    }
    out
}

/// The entries that make a line's `pending` credit available (a shipment released at once, or a
/// matured refund window): pending down, available up, by the same amount.
pub fn release_postings<L: Clone>(line: L, pending: Money) -> Vec<LinePosting<L>> {
    let mut out = Vec::with_capacity(2);
    push(&mut out, line.clone(), LedgerKind::Release, LedgerBucket::Pending, -pending.0);
    push(&mut out, line, LedgerKind::Release, LedgerBucket::Available, pending.0);
    out
}

/// The buckets a dispute hold (`hold`) or its release takes money from.
pub fn dispute_sources(hold: bool) -> &'static [LedgerBucket] {
    if hold {
        &[LedgerBucket::Pending, LedgerBucket::Available]
    } else {
        &[LedgerBucket::Held]
    }
}

/// The entries a dispute hold (or its release) writes for the given sums of the buckets
/// [`dispute_sources`] names: each sum moved out of its bucket into `held` (hold) or back into
/// `pending` (release), in the order of `sums`.
pub fn dispute_postings<L: Clone>(hold: bool, sums: &[BucketSum<L>]) -> Vec<LinePosting<L>> {
    let (kind, to) = if hold {
        (LedgerKind::DisputeHold, LedgerBucket::Held)
    } else {
        (LedgerKind::DisputeRelease, LedgerBucket::Pending)
    };
    let mut out = Vec::with_capacity(sums.len() * 2);
    for sum in sums {
        push(&mut out, sum.line.clone(), kind, sum.bucket, -sum.sum.0);
        push(&mut out, sum.line.clone(), kind, to, sum.sum.0);
    }
    out
}

/// The entries a refund writes: exactly what the ledger holds for each line, whatever bucket it
/// sits in now, reversed (commission reversal for the platform bucket, refund reversal for the
/// vendor's), in the order of `sums`.
pub fn refund_postings<L: Clone>(sums: &[BucketSum<L>]) -> Vec<LinePosting<L>> {
    let mut out = Vec::with_capacity(sums.len());
    for sum in sums {
        let kind = if sum.bucket == LedgerBucket::Platform {
            LedgerKind::CommissionReversal
        } else {
            LedgerKind::RefundReversal
        };
        push(&mut out, sum.line.clone(), kind, sum.bucket, -sum.sum.0);
    }
    out
}

/// One entry of a payout (no order, no line): kind, bucket and signed amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayoutPosting {
    /// Why the entry is written.
    pub kind: LedgerKind,
    /// Which balance it moves.
    pub bucket: LedgerBucket,
    /// Signed amount.
    pub amount: Money,
}

fn payout_move(kind: LedgerKind, from: LedgerBucket, to: LedgerBucket, amount: Money) -> [PayoutPosting; 2] {
    [
        PayoutPosting {
            kind,
            bucket: from,
            amount: Money(-amount.0),
        },
        PayoutPosting { kind, bucket: to, amount },
    ]
}

/// The entries of a payout request of `amount` against the vendor's `available` balance: the
/// amount moved from available to held, or `None` when it exceeds what is available.
pub fn payout_hold_postings(available: Money, amount: Money) -> Option<[PayoutPosting; 2]> {
    (available >= amount).then(|| payout_move(LedgerKind::PayoutHold, LedgerBucket::Available, LedgerBucket::Held, amount))
}

/// The entries of a rejected payout: its held amount moved back to available.
pub fn payout_release_postings(amount: Money) -> [PayoutPosting; 2] {
    payout_move(LedgerKind::PayoutHold, LedgerBucket::Held, LedgerBucket::Available, amount)
}

/// The entries of a payout marked paid: its held amount moved to paid out.
pub fn payout_debit_postings(amount: Money) -> [PayoutPosting; 2] {
    payout_move(LedgerKind::PayoutDebit, LedgerBucket::Held, LedgerBucket::PaidOut, amount)
}

/// The entries of an admin's decision on a payout of `amount`: none for an approval, the hold
/// released for a rejection, the debit for a payout marked paid.
pub fn payout_decision_postings(action: &PayoutAction, amount: Money) -> Vec<PayoutPosting> {
    match action {
        PayoutAction::Approve => Vec::new(),
        PayoutAction::Reject { .. } => payout_release_postings(amount).to_vec(),
        PayoutAction::MarkPaid { .. } => payout_debit_postings(amount).to_vec(),
    }
}

#[cfg(test)]
mod tests;
