//! What a store method refused: a uniqueness rule of the database or a conditional write.
//!
//! Each backend maps its unique-violation report (SQLite: `UNIQUE constraint failed: table.col`,
//! PostgreSQL: the constraint name) onto a [`Conflict`] in one function, so both say the same.

use std::path::PathBuf;

/// Why a store method refused to write. Services match on these variants; the `Display` form is the
/// `table.column` name of what clashed (e.g. `users.email`), stable and safe to log or show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Conflict {
    /// `users.email`: an account with this email already exists.
    #[error("users.email")]
    EmailTaken,
    /// A slug (vendor, category or product) is already used by another row of that kind.
    #[error("{}", .0.key())]
    SlugTaken(Sluggable),
    /// `vendors.user_id`: the user already has a vendor application (one per user).
    #[error("vendors.user_id")]
    AlreadyApplied,
    /// `refresh_tokens.token_hash`: a refresh token with this hash is already stored.
    #[error("refresh_tokens.token_hash")]
    RefreshTokenTaken,
    /// `password_resets.token_hash`: a password-reset token with this hash is already stored.
    #[error("password_resets.token_hash")]
    ResetTokenTaken,
    /// `product_assets.product_id`: the product already has its (one) downloadable asset.
    #[error("product_assets.product_id")]
    AssetExists,
    /// `orders.number`: the order number is taken (the service draws another).
    #[error("orders.number")]
    OrderNumberTaken,
    /// `orders.payment_session_id`: another order is attached to this checkout session.
    #[error("orders.payment_session_id")]
    PaymentSessionTaken,
    /// `payment_events.event_id`: this provider event was already recorded (a replay).
    #[error("payment_events.event_id")]
    EventAlreadyRecorded,
    /// `payment_intents.idempotency_key`: an intent with this idempotency key already exists.
    #[error("payment_intents.idempotency_key")]
    IdempotencyKeyTaken,
    /// `reviews.product_user`: the user already reviewed this product (one review each).
    #[error("reviews.product_user")]
    AlreadyReviewed,
    /// The primary key of a new row is already used in its table (an id collision).
    #[error("{}", .0.id_key())]
    DuplicateId(Table),
    /// `categories.products`: the category still has products or child categories.
    #[error("categories.products")]
    CategoryInUse,
    /// `product_images.limit`: the product already has the maximum number of images.
    #[error("product_images.limit")]
    TooManyImages,
    /// `stock`: a line of the order is out of stock or no longer for sale.
    #[error("stock")]
    OutOfStock,
    /// `cart`: the cart no longer holds what the order was computed from (a concurrent change).
    #[error("cart")]
    CartChanged,
    /// `unpaid_orders`: the customer already has the maximum number of orders awaiting payment.
    #[error("unpaid_orders")]
    TooManyUnpaidOrders,
    /// `ledger.available`: the vendor's available balance is smaller than the amount asked for.
    #[error("ledger.available")]
    InsufficientBalance,
    /// The row's current status does not allow the change (it moved on, or never was there).
    #[error("{}", .0.key())]
    StaleStatus(HasStatus),
    /// `payment_intents.pending`: a refund of the order is already pending or done.
    #[error("payment_intents.pending")]
    RefundPending,
    /// A backup's destination file already exists (a backup never overwrites).
    #[error("{} already exists", .0.display())]
    BackupExists(PathBuf),
}

impl Conflict {
    /// A static name of what clashed (`users.email`, `orders.status`, ...), never holding a value
    /// from a row or a path: the form shown to clients.
    pub fn key(&self) -> &'static str {
        match self {
            Self::EmailTaken => "users.email",
            Self::SlugTaken(of) => of.key(),
            Self::AlreadyApplied => "vendors.user_id",
            Self::RefreshTokenTaken => "refresh_tokens.token_hash",
            Self::ResetTokenTaken => "password_resets.token_hash",
            Self::AssetExists => "product_assets.product_id",
            Self::OrderNumberTaken => "orders.number",
            Self::PaymentSessionTaken => "orders.payment_session_id",
            Self::EventAlreadyRecorded => "payment_events.event_id",
            Self::IdempotencyKeyTaken => "payment_intents.idempotency_key",
            Self::AlreadyReviewed => "reviews.product_user",
            Self::DuplicateId(table) => table.id_key(),
            Self::CategoryInUse => "categories.products",
            Self::TooManyImages => "product_images.limit",
            Self::OutOfStock => "stock",
            Self::CartChanged => "cart",
            Self::TooManyUnpaidOrders => "unpaid_orders",
            Self::InsufficientBalance => "ledger.available",
            Self::StaleStatus(of) => of.key(),
            Self::RefundPending => "payment_intents.pending",
            Self::BackupExists(_) => "backup destination",
        }
    }
}

/// What kind of row a [`Conflict::SlugTaken`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Sluggable {
    /// `vendors.slug`: a shop.
    Vendor,
    /// `categories.slug`: a category.
    Category,
    /// `products.slug`: a work.
    Product,
}

impl Sluggable {
    fn key(self) -> &'static str {
        match self {
            Self::Vendor => "vendors.slug",
            Self::Category => "categories.slug",
            Self::Product => "products.slug",
        }
    }
}

/// What kind of row a [`Conflict::StaleStatus`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HasStatus {
    /// `vendors.status`: a vendor application or shop.
    Vendor,
    /// `orders.status`: an order.
    Order,
    /// `order_items.status`: one line of an order (its fulfilment).
    OrderItem,
    /// `payouts.status`: a payout request.
    Payout,
}

impl HasStatus {
    fn key(self) -> &'static str {
        match self {
            Self::Vendor => "vendors.status",
            Self::Order => "orders.status",
            Self::OrderItem => "order_items.status",
            Self::Payout => "payouts.status",
        }
    }
}

/// A table, for [`Conflict::DuplicateId`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Table {
    /// `users`.
    Users,
    /// `sessions`.
    Sessions,
    /// `refresh_tokens`.
    RefreshTokens,
    /// `outbox`.
    Outbox,
    /// `audit_log`.
    AuditLog,
    /// `vendors`.
    Vendors,
    /// `categories`.
    Categories,
    /// `products`.
    Products,
    /// `product_images`.
    ProductImages,
    /// `cart_items` (keyed by user and product).
    CartItems,
    /// `orders`.
    Orders,
    /// `order_items`.
    OrderItems,
    /// `ledger_entries`.
    LedgerEntries,
    /// `download_links`.
    DownloadLinks,
    /// `payouts`.
    Payouts,
    /// `reviews`.
    Reviews,
    /// `payment_intents`.
    PaymentIntents,
    /// `job_leases` (keyed by job name).
    JobLeases,
}

impl Table {
    /// Every table, for the backends' mapping.
    pub(crate) const ALL: [Table; 18] = [
        Self::Users,
        Self::Sessions,
        Self::RefreshTokens,
        Self::Outbox,
        Self::AuditLog,
        Self::Vendors,
        Self::Categories,
        Self::Products,
        Self::ProductImages,
        Self::CartItems,
        Self::Orders,
        Self::OrderItems,
        Self::LedgerEntries,
        Self::DownloadLinks,
        Self::Payouts,
        Self::Reviews,
        Self::PaymentIntents,
        Self::JobLeases,
    ];

    /// The SQL name of the table.
    pub fn name(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Sessions => "sessions",
            Self::RefreshTokens => "refresh_tokens",
            Self::Outbox => "outbox",
            Self::AuditLog => "audit_log",
            Self::Vendors => "vendors",
            Self::Categories => "categories",
            Self::Products => "products",
            Self::ProductImages => "product_images",
            Self::CartItems => "cart_items",
            Self::Orders => "orders",
            Self::OrderItems => "order_items",
            Self::LedgerEntries => "ledger_entries",
            Self::DownloadLinks => "download_links",
            Self::Payouts => "payouts",
            Self::Reviews => "reviews",
            Self::PaymentIntents => "payment_intents",
            Self::JobLeases => "job_leases",
        }
    }

    /// `table.id` (or the table's own key column).
    fn id_key(self) -> &'static str {
        match self {
            Self::Users => "users.id",
            Self::Sessions => "sessions.id",
            Self::RefreshTokens => "refresh_tokens.id",
            Self::Outbox => "outbox.id",
            Self::AuditLog => "audit_log.id",
            Self::Vendors => "vendors.id",
            Self::Categories => "categories.id",
            Self::Products => "products.id",
            Self::ProductImages => "product_images.id",
            Self::CartItems => "cart_items.user_id, cart_items.product_id",
            Self::Orders => "orders.id",
            Self::OrderItems => "order_items.id",
            Self::LedgerEntries => "ledger_entries.id",
            Self::DownloadLinks => "download_links.id",
            Self::Payouts => "payouts.id",
            Self::Reviews => "reviews.id",
            Self::PaymentIntents => "payment_intents.id",
            Self::JobLeases => "job_leases.name",
        }
    }

    /// The table called `name`.
    #[cfg_attr(
        not(any(feature = "sqlite", feature = "postgres")),
        expect(dead_code, reason = "used by the backends")
    )]
    pub(crate) fn from_name(name: &str) -> Option<Table> {
        Self::ALL.into_iter().find(|table| table.name() == name)
    }
}
