//! Marketplace services: validate, check the actor, decide, then call one unit of work.

mod accounts;
mod admin;
mod cart;
mod catalog;
mod downloads;
pub mod emails;
mod jobs;
pub(crate) mod match_sets;
mod media;
mod orders;
mod payouts;
mod reviews;
mod search;
mod stats;
mod vendors;

pub use accounts::{Accounts, AuthSession, ProfileChanges, Registration};
pub use admin::ProductSearch;
pub use admin::{Administration, UserChanges};
pub use cart::{Cart, CartView, MAX_CART_QUANTITY};
pub use catalog::{BrowseFilters, Catalog, CategoryInput, CategoryView, MAX_PRICE_CENTS, ProductDraft, ProductEdit, SEARCH_COUNT_CAP};
pub use downloads::{DownloadFile, DownloadLink, Downloads};
pub use jobs::Jobs;
pub use media::{MAX_IMAGE_BYTES, MAX_IMAGES_PER_PRODUCT, Media};
pub use orders::{CheckoutOutcome, Earnings, Orders, split_commission};
pub use payouts::{MAX_PAYOUT_CENTS, Payouts};
pub use reviews::{MAX_REVIEW_BODY, MAX_REVIEW_TITLE, ReviewChanges, ReviewDraft, Reviews};
pub use search::search_terms;
pub use stats::{Analytics, DASHBOARD_DAYS, Interval, MAX_PERIODS, Period, Stats, TOP_ENTRIES, VendorDashboard};
pub use vendors::{VendorApplication, VendorProfileEdit, Vendors};
