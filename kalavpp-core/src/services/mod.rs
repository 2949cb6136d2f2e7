//! Marketplace services: validate, check the actor, decide, then call one unit of work.

mod accounts;
mod admin;
mod catalog;
mod emails;
mod media;
mod search;
mod vendors;

pub use accounts::{Accounts, AuthSession, ProfileChanges, Registration};
pub use admin::{Administration, UserChanges};
pub use catalog::{BrowseFilters, Catalog, CategoryInput, CategoryView, MAX_PRICE_CENTS, ProductDraft, ProductEdit};
pub use media::{Media, MAX_IMAGES_PER_PRODUCT, MAX_IMAGE_BYTES};
pub use search::search_terms;
pub use vendors::{VendorApplication, VendorProfileEdit, Vendors};
