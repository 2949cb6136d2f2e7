//! Shops as visitors see them: one approved shop, and the list of approved shops.

use tracing::instrument;

use crate::domain::{Page, PageRequest, VendorId, VendorStatus};
use crate::domain::{Vendor, VendorFilter};
use crate::error::Result;

use super::{Vendors, vendor_not_found};

impl Vendors<'_> {
    /// An approved vendor's public profile by id or slug.
    #[instrument(skip_all)]
    pub async fn public(&self, id_or_slug: &str) -> Result<Vendor> {
        let vendor = match VendorId::parse(id_or_slug) {
            Some(id) => self.inner.store.vendor_by_id(id).await?,
            None => self.inner.store.vendor_by_slug(&id_or_slug.to_lowercase()).await?,
        };
        vendor.filter(|v| v.status == VendorStatus::Approved).ok_or_else(vendor_not_found)
    }

    /// Approved vendors, newest first.
    #[instrument(skip_all)]
    pub async fn list_public(&self, page: PageRequest) -> Result<Page<Vendor>> {
        let filter = VendorFilter {
            status: Some(VendorStatus::Approved),
        };
        Ok(self.inner.store.list_vendors(&filter, page).await?)
    }
}
