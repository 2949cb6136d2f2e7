//! The closed sets of words the API takes and returns, as OpenAPI enums. The handlers read and
//! write these as strings (the core parses them and answers `422` for anything else); these types
//! only describe them in the document.

use serde::Serialize;
use utoipa::ToSchema;

macro_rules! doc_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[expect(missing_docs, reason = "the variants are the wire names, documented by the enum")]
        #[derive(Debug, Clone, Copy, Serialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }
    };
}

doc_enum!(
    /// A user's role.
    Role { Customer, Vendor, Admin }
);
doc_enum!(
    /// A role an admin may give (vendors are made by approving their application).
    AssignableRole { Customer, Admin }
);
doc_enum!(
    /// A user account's status.
    UserStatus { Active, Suspended }
);
doc_enum!(
    /// A vendor's status.
    VendorStatus { Pending, Approved, Rejected, Suspended }
);
doc_enum!(
    /// `physical` (shipped, with stock) or `digital` (a download, unlimited).
    ProductKind { Physical, Digital }
);
doc_enum!(
    /// A product's status.
    ProductStatus { Draft, Published, Archived }
);
doc_enum!(
    /// The status a new product may start in.
    NewProductStatus { Draft, Published }
);
doc_enum!(
    /// Catalog order.
    ProductSort { Newest, PriceAsc, PriceDesc, Rating, Popular }
);
doc_enum!(
    /// An order's status.
    OrderStatus { PendingPayment, Paid, Completed, PaymentFailed, Cancelled, Expired, Refunded }
);
doc_enum!(
    /// An order item's fulfilment.
    FulfilmentStatus { Unfulfilled, Shipped, Delivered }
);
doc_enum!(
    /// A payout request's status.
    PayoutStatus { Requested, Approved, Paid, Rejected }
);
doc_enum!(
    /// A ledger entry's kind.
    LedgerKind { SaleCredit, Commission, Release, RefundReversal, CommissionReversal, PayoutHold, PayoutDebit, DisputeHold, DisputeRelease }
);
doc_enum!(
    /// The balance a ledger entry moves.
    LedgerBucket { Pending, Available, Held, PaidOut, Platform }
);
doc_enum!(
    /// An outbox email's status.
    EmailStatus { Queued, Sending, Sent, Failed }
);
doc_enum!(
    /// Analytics bucket size.
    Interval { Day, Week, Month }
);
doc_enum!(
    /// What a payment action does.
    PaymentActionKind { Refund, AutoRefund, ExpireSession }
);
doc_enum!(
    /// Where a payment action is.
    PaymentActionStatus { Pending, Done, Failed }
);
doc_enum!(
    /// What a webhook event did.
    WebhookOutcome { Applied, Duplicate, Ignored, AutoRefund }
);
