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
