//! Response bodies of the API (the core's records are never serialised directly).

use chrono::{DateTime, Utc};
use kalavpp_core::domain::{AuditEntry, OutboxEmail};
use kalavpp_core::domain::{Page, User};
use kalavpp_core::services::AuthSession;
use serde::Serialize;
use utoipa::ToSchema;

/// An account.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    /// Account id (UUIDv7).
    pub id: String,
    /// Email address, lower case.
    pub email: String,
    /// Display name.
    pub name: String,
    /// `customer`, `vendor` or `admin`.
    #[schema(value_type = super::enums::Role)]
    pub role: String,
    /// `active` or `suspended`.
    #[schema(value_type = super::enums::UserStatus)]
    pub status: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// The user's shop, when they applied as a vendor (`GET /auth/me` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendor: Option<UserVendorBody>,
}

/// The shop summary shown with a user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserVendorBody {
    /// Vendor id.
    pub id: String,
    /// Slug.
    pub slug: String,
    /// Shop name.
    pub shop_name: String,
    /// `pending`, `approved`, `rejected` or `suspended`.
    #[schema(value_type = super::enums::VendorStatus)]
    pub status: String,
}

impl From<&kalavpp_core::domain::Vendor> for UserVendorBody {
    fn from(v: &kalavpp_core::domain::Vendor) -> Self {
        Self {
            id: v.id.to_string(),
            slug: v.slug.clone(),
            shop_name: v.shop_name.clone(),
            status: v.status.as_str().to_owned(),
        }
    }
}

impl From<User> for UserBody {
    fn from(user: User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email,
            name: user.name,
            role: user.role.as_str().to_owned(),
            status: user.status.as_str().to_owned(),
            created_at: user.created_at,
            updated_at: user.updated_at,
            vendor: None,
        }
    }
}

/// A signed-in user and their tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenBody {
    /// The account.
    pub user: UserBody,
    /// JWT access token for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque refresh token; each use returns a new one.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

impl From<AuthSession> for TokenBody {
    fn from(session: AuthSession) -> Self {
        Self {
            user: session.user.into(),
            access_token: session.tokens.access_token,
            refresh_token: session.tokens.refresh_token,
            token_type: "Bearer",
            expires_in: session.tokens.expires_in,
        }
    }
}

/// A short confirmation.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageBody {
    /// What happened.
    pub message: String,
}

/// A message in the outbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmailBody {
    /// Message id.
    pub id: String,
    /// Recipient address.
    pub recipient: String,
    /// Template name, e.g. `password_reset`.
    pub template: String,
    /// Subject line.
    pub subject: String,
    /// `queued`, `sending` (claimed by a worker), `sent` or `failed`.
    #[schema(value_type = super::enums::EmailStatus)]
    pub status: String,
    /// Delivery attempts so far.
    pub attempts: i32,
    /// Last delivery error.
    pub last_error: Option<String>,
    /// Plain-text body (one-time tokens are redacted in production).
    pub body_text: String,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it was delivered.
    pub sent_at: Option<DateTime<Utc>>,
}

impl EmailBody {
    /// Converts an outbox row; `redact_tokens` hides bodies that carry one-time tokens.
    pub fn from_outbox(email: OutboxEmail, redact_tokens: bool) -> Self {
        let body_text = if redact_tokens && email.template == "password_reset" {
            "[redacted: contains a one-time token]".to_owned()
        } else {
            email.body_text
        };
        Self {
            id: email.id.to_string(),
            recipient: email.recipient,
            template: email.template,
            subject: email.subject,
            status: email.status,
            attempts: email.attempts,
            last_error: email.last_error,
            body_text,
            created_at: email.created_at,
            sent_at: email.sent_at,
        }
    }
}

/// An audit-log row.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditBody {
    /// Row id.
    pub id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (absent for the CLI / system).
    pub actor_id: Option<String>,
    /// `<target>.<verb>`, e.g. `user.update`.
    pub action: String,
    /// Kind of thing changed.
    pub target_type: String,
    /// Id of the thing changed.
    pub target_id: String,
    /// What changed.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<AuditEntry> for AuditBody {
    fn from(entry: AuditEntry) -> Self {
        Self {
            id: entry.id.to_string(),
            at: entry.at,
            actor_id: entry.actor_id.map(|a| a.to_string()),
            action: entry.action,
            target_type: entry.target_type,
            target_id: entry.target_id,
            details: entry.details,
        }
    }
}

macro_rules! page_body {
    ($(#[$doc:meta])* $name:ident, $item:ty) => {
        $(#[$doc])*
        #[derive(Debug, Serialize, ToSchema)]
        pub struct $name {
            /// The items on this page.
            pub items: Vec<$item>,
            /// 1-based page number.
            pub page: u32,
            /// Page size (at most 100).
            pub per_page: u32,
            /// Matching items in all; with `total_capped`, at least this many (counting stopped).
            pub total: i64,
            /// Present, and `true`, only when counting stopped at a cap (searches count at most
            /// 1,000 matches): more than `total` items match and later pages still hold items.
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            pub total_capped: bool,
        }

        impl $name {
            /// Converts a core page.
            pub fn from_page<T>(page: Page<T>, convert: impl FnMut(T) -> $item) -> Self {
                let page = page.map(convert);
                Self { items: page.items, page: page.page, per_page: page.per_page, total: page.total, total_capped: page.total_capped }
            }

            /// Converts a borrowed core page.
            pub fn from_page_ref<T>(page: &Page<T>, convert: impl FnMut(&T) -> $item) -> Self {
                Self { items: page.items.iter().map(convert).collect(), page: page.page, per_page: page.per_page, total: page.total, total_capped: page.total_capped }
            }
        }
    };
}

page_body!(
    /// A page of users.
    UserPage,
    UserBody
);
page_body!(
    /// A page of outbox messages.
    EmailPage,
    EmailBody
);
page_body!(
    /// A page of audit-log rows.
    AuditPage,
    AuditBody
);
page_body!(
    /// A page of public vendor profiles.
    VendorPublicPage,
    super::catalog_dto::VendorPublicBody
);
page_body!(
    /// A page of vendors (admin view).
    VendorPage,
    super::catalog_dto::VendorBody
);
page_body!(
    /// A page of products.
    ProductPage,
    super::catalog_dto::ProductBody
);
page_body!(
    /// A page of orders.
    OrderPage,
    super::orders_dto::OrderBody
);
page_body!(
    /// A page of payout requests.
    PayoutPage,
    super::payouts::PayoutBody
);
page_body!(
    /// A page of product reviews.
    ReviewPage,
    super::reviews::ReviewBody
);
