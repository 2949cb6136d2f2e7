//! Categories, products and the public catalog (browse, search, detail), with caching.
//!
//! [`Catalog`] is one service; its methods are grouped by area in the submodules.

mod browse;
mod categories;
mod products;

pub use browse::BrowseFilters;
pub use categories::{CategoryInput, CategoryView};
pub use products::{ProductDraft, ProductEdit};

use crate::auth::AdminCap;
use crate::domain::{AuditId, Product, ProductStatus, VendorStatus, now};
use crate::error::Error;
use crate::marketplace::Inner;
use crate::storage::NewAudit;

/// Highest price accepted, in cents (one million in the installation currency).
pub const MAX_PRICE_CENTS: i64 = 100_000_000;

/// Highest stock accepted.
pub const MAX_STOCK: i64 = 1_000_000;

/// A search counts its matches exactly up to this many; past it the page's `total` is this
/// number and `total_capped` is set ("1,000+"), so a common word never counts every match.
pub const SEARCH_COUNT_CAP: i64 = 1_000;

/// Catalog services; get one from [`crate::Marketplace::catalog`].
pub struct Catalog<'a> {
    inner: &'a Inner,
}

fn product_not_found() -> Error {
    Error::not_found("product_not_found", "product not found")
}

/// Whether the public may see `product`.
pub(crate) fn is_public(product: &Product) -> bool {
    product.status == ProductStatus::Published && product.vendor.status == VendorStatus::Approved
}

impl<'a> Catalog<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }
}

/// The audit row of an admin's change, written now (see [`NewAudit::by_admin`]).
pub(crate) fn audit(admin: &AdminCap, action: &str, target_type: &str, target_id: String, details: serde_json::Value) -> NewAudit {
    NewAudit::by_admin(admin, now(), action, target_type, target_id, details)
}

/// The audit row of an event no admin is acting in at this moment: a refund the payment
/// provider reports, or one the reconciler completes for the admin recorded with its intent
/// (`actor`; `None` for the provider or the system).
pub(crate) fn event_audit(
    actor: Option<crate::domain::UserId>,
    action: &str,
    target_type: &str,
    target_id: String,
    details: serde_json::Value,
) -> NewAudit {
    NewAudit {
        id: AuditId::new(),
        at: now(),
        actor_id: actor,
        action: action.into(),
        target_type: target_type.into(),
        target_id,
        details,
    }
}
