//! Validated domain values: ids, emails, passwords, money, roles and records.

mod catalog;
mod email;
mod ids;
pub mod ledger;
mod money;
pub mod order_flow;
mod order_rules;
mod page;
mod password;
mod role;
mod slug;
mod time;
mod user;

pub use catalog::{FulfilmentStatus, LedgerBucket, LedgerKind, OrderStatus, PayoutStatus, ProductKind, ProductStatus, VendorStatus};
pub use email::Email;
pub use ids::{
    AuditId, CategoryId, EmailId, ImageId, LedgerEntryId, OrderId, OrderItemId, PayoutId, ProductId, ReviewId, SessionFamilyId, UserId,
    VendorId,
};
pub use money::Money;
pub use order_flow::{OrderEvent, can_ship};
pub use order_rules::refuses_payment;
pub use page::{MAX_PER_PAGE, Page, PageRequest};
pub use password::Password;
pub use role::{Role, UserStatus};
pub use slug::slugify;
pub use time::now;
pub use user::{User, UserName};
