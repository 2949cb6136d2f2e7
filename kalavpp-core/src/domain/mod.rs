//! The marketplace's nouns and rules: validated values (ids, emails, passwords, money, roles),
//! the entities services return (accounts, vendors, products, orders, payouts, reviews, ledger
//! entries, statistics) with their list filters, and the pure functions of the order status
//! machine and the ledger postings.

mod audit;
mod balance;
mod catalog;
mod email;
mod ids;
pub mod ledger;
mod money;
mod order;
pub mod order_flow;
mod order_rules;
mod outbox;
mod page;
mod password;
mod payment_intent;
mod payout;
mod product;
mod review;
mod role;
mod slug;
mod stats;
mod time;
mod user;
mod vendor;

pub use audit::{AuditEntry, AuditFilter};
pub use balance::{Balance, LedgerEntry};
pub use catalog::{FulfilmentStatus, LedgerBucket, LedgerKind, OrderStatus, PayoutStatus, ProductKind, ProductStatus, VendorStatus};
pub use email::Email;
pub use ids::{
    AuditId, CategoryId, EmailId, ImageId, LedgerEntryId, OrderId, OrderItemId, PayoutId, ProductId, ReviewId, SessionFamilyId, UserId,
    VendorId,
};
pub use money::Money;
pub use order::{CartLine, EventOutcome, Order, OrderFilter, OrderItem};
pub use order_flow::{OrderEvent, all_delivered, can_ship, fulfilment_on_payment};
pub use order_rules::refuses_payment;
pub use outbox::{EmailFilter, OutboxEmail};
pub use page::{MAX_PER_PAGE, Page, PageRequest};
pub use password::Password;
pub use payment_intent::{IntentKind, IntentStatus, PaymentIntent};
pub use payout::{Payout, PayoutAction, PayoutFilter};
pub use product::{AdminProductFilter, Category, CategoryRef, Product, ProductAsset, ProductImage, ProductQuery, ProductSort};
pub use review::Review;
pub use role::{Role, UserStatus};
pub use slug::slugify;
pub use stats::{AnalyticsData, CategoryRanking, DaySales, MarketplaceTotals, ProductSales, StatsWindow, VendorRanking, VendorSales};
pub use time::{Timestamp, now};
pub use user::{User, UserFilter, UserName};
pub use vendor::{Vendor, VendorFilter, VendorRef};
