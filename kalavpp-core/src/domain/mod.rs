//! Validated domain values: ids, emails, passwords, money, roles and records.

mod email;
mod ids;
mod money;
mod page;
mod password;
mod role;
mod slug;
mod catalog;
mod time;
mod user;

pub use email::Email;
pub use catalog::{ProductKind, ProductStatus, VendorStatus};
pub use ids::{AuditId, CategoryId, EmailId, ImageId, ProductId, SessionFamilyId, UserId, VendorId};
pub use slug::slugify;
pub use money::Money;
pub use page::{MAX_PER_PAGE, Page, PageRequest};
pub use password::Password;
pub use role::{Role, UserStatus};
pub use time::now;
pub use user::{User, UserName};
