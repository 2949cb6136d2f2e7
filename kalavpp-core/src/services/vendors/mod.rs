//! Vendor applications, profiles and the admin decisions on them.
//!
//! [`Vendors`] is one service; its methods are grouped by area in the submodules.

mod decisions;
mod own_shop;
mod public_profiles;
#[cfg(test)]
mod tests;

pub use own_shop::{VendorApplication, VendorProfileEdit};

use crate::error::Error;
use crate::marketplace::Inner;

/// Vendor services; get one from [`crate::Marketplace::vendors`].
pub struct Vendors<'a> {
    inner: &'a Inner,
}

fn vendor_not_found() -> Error {
    Error::not_found("vendor_not_found", "vendor not found")
}

impl<'a> Vendors<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }
}
