//! Records of the admin panel's moderation lists.

use crate::domain::{ProductStatus, VendorId};

/// Filters of the admin's product list ([`super::CatalogStore::list_all_products`]): unlike the
/// public catalog it sees every status and every vendor's products.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminProductFilter {
    /// Case-insensitive text the title or the slug contains.
    pub q: Option<String>,
    /// Only this status.
    pub status: Option<ProductStatus>,
    /// Only this vendor's products.
    pub vendor_id: Option<VendorId>,
}
