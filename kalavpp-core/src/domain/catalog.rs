use serde::{Deserialize, Serialize};

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),*
        }

        impl $name {
            /// The stored / wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),*
                }
            }

            /// Parses the wire name.
            pub fn parse(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok(Self::$variant),)*
                    _ => Err(format!("must be one of {}", [$($text),*].join(", "))),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// Where a vendor application stands.
    VendorStatus {
        /// Applied, waiting for an admin.
        Pending => "pending",
        /// May sell.
        Approved => "approved",
        /// Turned down (with a reason).
        Rejected => "rejected",
        /// Was approved; products hidden, no selling.
        Suspended => "suspended",
    }
);

text_enum!(
    /// What kind of thing a product is.
    ProductKind {
        /// A physical work with a finite stock, shipped by the vendor.
        Physical => "physical",
        /// A digital download, unlimited.
        Digital => "digital",
    }
);

text_enum!(
    /// Where a product is in its life.
    ProductStatus {
        /// Visible to its vendor only.
        Draft => "draft",
        /// In the public catalog (when the vendor is approved).
        Published => "published",
        /// Withdrawn; orders keep their snapshot.
        Archived => "archived",
    }
);

text_enum!(
    /// Where an order is in its life.
    OrderStatus {
        /// Stock reserved, waiting for the payment.
        PendingPayment => "pending_payment",
        /// Paid; physical items wait for shipping.
        Paid => "paid",
        /// Paid and every item shipped or delivered.
        Completed => "completed",
        /// A payment attempt failed; the buyer may retry until the session expires.
        PaymentFailed => "payment_failed",
        /// Cancelled by the buyer before paying; stock released.
        Cancelled => "cancelled",
        /// Never paid in time; stock released.
        Expired => "expired",
        /// Refunded by an admin; stock restored, ledger reversed.
        Refunded => "refunded",
    }
);

text_enum!(
    /// Where an order line is in its delivery.
    FulfilmentStatus {
        /// Not shipped yet.
        Unfulfilled => "unfulfilled",
        /// Handed to a carrier by the vendor.
        Shipped => "shipped",
        /// Delivered (digital items on payment).
        Delivered => "delivered",
    }
);

text_enum!(
    /// Which balance a ledger entry moves.
    LedgerBucket {
        /// Earned but not yet withdrawable (physical items not shipped yet).
        Pending => "pending",
        /// Withdrawable.
        Available => "available",
        /// Held for a requested payout.
        Held => "held",
        /// Paid out to the vendor.
        PaidOut => "paid_out",
        /// The platform's commission on the vendor's sales (for reporting).
        Platform => "platform",
    }
);

text_enum!(
    /// Why a ledger entry exists.
    LedgerKind {
        /// A paid line's net amount for the vendor.
        SaleCredit => "sale_credit",
        /// The platform's commission on a paid line.
        Commission => "commission",
        /// Pending money becoming available (the line shipped).
        Release => "release",
        /// A refunded line taken back.
        RefundReversal => "refund_reversal",
        /// Commission given back on a refund.
        CommissionReversal => "commission_reversal",
        /// Money held for / released from a payout request.
        PayoutHold => "payout_hold",
        /// A payout sent to the vendor.
        PayoutDebit => "payout_debit",
        /// A disputed line's share held (from pending and available) until the dispute closes.
        DisputeHold => "dispute_hold",
        /// A disputed line's held share back in pending after the dispute was won.
        DisputeRelease => "dispute_release",
    }
);

text_enum!(
    /// Where a vendor's payout request stands.
    PayoutStatus {
        /// Asked for by the vendor; the amount is held from the available balance.
        Requested => "requested",
        /// Accepted by an admin; waiting to be sent.
        Approved => "approved",
        /// Sent to the vendor (with a reference); final.
        Paid => "paid",
        /// Turned down (with a reason); the held amount is available again. Final.
        Rejected => "rejected",
    }
);
