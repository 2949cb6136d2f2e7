use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered (UUIDv7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// Parses an id from its text form; `None` for anything that is not a UUID.
            pub fn parse(text: &str) -> Option<Self> {
                Uuid::from_str(text.trim()).ok().map(Self)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// Identifies a user account.
    UserId
);
id_type!(
    /// Identifies a refresh-token family (one login session and all its rotations).
    SessionFamilyId
);
id_type!(
    /// Identifies a message in the email outbox.
    EmailId
);
id_type!(
    /// Identifies an audit-log row.
    AuditId
);
id_type!(
    /// Identifies a vendor (a shop).
    VendorId
);
id_type!(
    /// Identifies a catalog category.
    CategoryId
);
id_type!(
    /// Identifies a product.
    ProductId
);
id_type!(
    /// Identifies a product image.
    ImageId
);
id_type!(
    /// Identifies an order.
    OrderId
);
id_type!(
    /// Identifies an order line.
    OrderItemId
);
id_type!(
    /// Identifies a ledger entry.
    LedgerEntryId
);
id_type!(
    /// Identifies a vendor payout request.
    PayoutId
);
id_type!(
    /// Identifies a product review.
    ReviewId
);
