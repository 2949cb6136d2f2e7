//! Storage traits (units of work, one transaction per method) and the two backends.
//!
//! Services validate and decide; a store method commits everything that must be atomic together.
//! Uniqueness and races are decided by the database (unique keys, conditional updates).

mod catalog_records;
mod change_feed;
mod conflict;
mod intent_records;
mod order_records;
mod payout_records;
#[cfg(feature = "postgres")]
pub mod postgres;
mod records;
mod review_records;
#[cfg(feature = "sqlite")]
pub mod sqlite;

use async_trait::async_trait;

use crate::domain::{
    AdminProductFilter, AnalyticsData, AuditEntry, AuditFilter, Balance, CartLine, Category, CategoryId, Email, EmailFilter, EmailId,
    EventOutcome, ImageId, IntentStatus, LedgerEntry, MarketplaceTotals, Order, OrderFilter, OrderId, OrderItem, OutboxEmail, Page,
    PageRequest, PaymentIntent, Payout, PayoutFilter, PayoutId, Product, ProductAsset, ProductId, ProductImage, ProductQuery, Review,
    ReviewId, SessionFamilyId, StatsWindow, Timestamp, User, UserFilter, UserId, UserName, Vendor, VendorFilter, VendorId, VendorSales,
};

use uuid::Uuid;

pub use catalog_records::*;
pub use change_feed::ChangeFeed;
pub use conflict::{Conflict, HasStatus, Sluggable, Table};
pub use intent_records::*;
pub use order_records::*;
pub use payout_records::*;
pub use records::*;
pub use review_records::*;

/// What a store method can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row the method works on does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule or a conditional write refused the change; says which ([`Conflict`]).
    #[error("conflict on {0}")]
    Conflict(Conflict),
    /// The database could not be reached or timed out.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database refused a value no client input should carry (e.g. a NUL character in text on
    /// PostgreSQL). Reported to the caller as a bad request, never as a server error.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Any other database failure. `message` says what failed (in the driver's words where there
    /// is a driver error); `source` keeps that error with its own causes for logs
    /// ([`crate::error::report`] prints the whole chain). Neither is ever shown to clients.
    #[error("database error: {message}")]
    Backend {
        /// What failed, in words.
        message: String,
        /// The error that caused it, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl StoreError {
    /// A [`StoreError::Backend`] without an underlying error.
    pub fn backend(message: impl Into<String>) -> Self {
        Self::Backend {
            message: message.into(),
            source: None,
        }
    }

    /// A [`StoreError::Backend`] caused by `source`.
    pub fn backend_caused(message: impl Into<String>, source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Backend {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

impl From<Conflict> for StoreError {
    fn from(conflict: Conflict) -> Self {
        Self::Conflict(conflict)
    }
}

/// Result alias of store methods.
pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// The SQL list (`'pending_payment', 'payment_failed'`) of the statuses `event` applies in, for
/// the guard of a backend's conditional update (`... WHERE status IN (<this>)`). The statuses
/// are the domain's fixed names, never input.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    expect(dead_code, reason = "used by the backends")
)]
pub(crate) fn status_guard(event: crate::domain::OrderEvent) -> String {
    quoted(event.allowed_from().iter().map(|status| status.as_str()))
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// The SQL list of the payout statuses `action` may start from (see [`status_guard`]).
pub(crate) fn payout_guard(action: &crate::domain::PayoutAction) -> String {
    quoted(action.allowed_from().iter().map(|status| status.as_str()))
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// `'a', 'b'` of fixed names (never input).
fn quoted<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.map(|name| format!("'{name}'")).collect::<Vec<_>>().join(", ")
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// `UPDATE orders SET status = '<target>'` of `event`, for the backends' guarded updates.
pub(crate) fn set_status(event: crate::domain::OrderEvent) -> String {
    format!("UPDATE orders SET status = '{}'", event.target().as_str())
}

/// Accounts.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates an account and queues its `welcome_email` (if any) in the same transaction;
    /// `Conflict::EmailTaken` when the email is taken (and then nothing is queued).
    async fn insert_user(&self, user: NewUser) -> StoreResult<User>;
    /// An account by id.
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;
    /// An account and its password hash by (normalised) email.
    async fn credentials_by_email(&self, email: &Email) -> StoreResult<Option<UserCredentials>>;
    /// An account and its password hash by id.
    async fn credentials_by_id(&self, id: UserId) -> StoreResult<Option<UserCredentials>>;
    /// Renames an account; `NotFound` when it does not exist.
    async fn update_user_name(&self, id: UserId, name: &UserName, at: Timestamp) -> StoreResult<User>;
    /// Replaces the password hash and revokes every login session except `keep_session`.
    async fn change_password(&self, change: PasswordChange) -> StoreResult<()>;
    /// Accounts matching `filter`, newest first.
    async fn list_users(&self, filter: &UserFilter, page: PageRequest) -> StoreResult<Page<User>>;
    /// Applies an admin's change of status and/or role, writes the audit row, and revokes all
    /// sessions when the account is suspended, in one transaction. `NotFound` for an unknown id.
    async fn admin_update_user(&self, change: AdminUserChange) -> StoreResult<User>;
}

/// Refresh-token families (login sessions).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores the first refresh token of a new login session.
    async fn insert_refresh_token(&self, token: NewRefreshToken) -> StoreResult<()>;
    /// Marks the presented token used and stores `next` in the same family, in one transaction.
    /// A token that was already used revokes its whole family and reports `Reused`.
    async fn rotate_refresh_token(&self, presented_hash: &str, next: RotatedToken) -> StoreResult<RefreshOutcome>;
    /// Revokes the family of the presented token; `false` when the token is unknown.
    async fn revoke_session(&self, presented_hash: &str, at: Timestamp) -> StoreResult<bool>;
    /// Reads (never rotates or revokes) the session of a presented token: `Some` only when the
    /// token is the family's current one (not yet rotated away) and its session is neither
    /// revoked nor expired at `at` (its absolute end, or its idle deadline when it has one);
    /// `None` otherwise. Used by cookie sessions (the admin panel),
    /// which present the same token on every request.
    async fn current_session(&self, presented_hash: &str, at: Timestamp) -> StoreResult<Option<SessionOwner>>;
    /// Whether the login session `family` of `user` is live at `at`: neither revoked (logout,
    /// suspension, password change or reset, refresh-token reuse) nor expired (absolute end or
    /// idle deadline). Checked on every
    /// request that presents an access token, so a token dies with its session.
    async fn session_is_live(&self, family: SessionFamilyId, user: UserId, at: Timestamp) -> StoreResult<bool>;
    /// Pushes the idle deadline of session `family` to `idle_expires_at` (never back) when the
    /// session has an idle limit and is live at `at` (not revoked, neither its absolute end nor its
    /// idle deadline passed); `false`, changing nothing, otherwise — an idle session is not revived.
    async fn touch_session(&self, family: SessionFamilyId, idle_expires_at: Timestamp, at: Timestamp) -> StoreResult<bool>;
    /// Ends (revokes at `at`) the session of a presented token when its idle deadline has passed
    /// at `at`; `true` when it ended one now. Sessions without an idle limit are never ended here.
    async fn end_idle_session(&self, presented_hash: &str, at: Timestamp) -> StoreResult<bool>;
}

/// Password reset tokens.
#[async_trait]
pub trait PasswordResetStore: Send + Sync {
    /// Stores a reset token (hashed) and queues its email, in one transaction.
    async fn create_password_reset(&self, reset: NewPasswordReset, email: NewEmail) -> StoreResult<()>;
    /// Uses a reset token once: when it is unused and unexpired, sets the new password hash and
    /// revokes every session of the user. `None` when the token is unknown, used or expired.
    async fn consume_password_reset(&self, token_hash: &str, new_password_hash: &str, at: Timestamp) -> StoreResult<Option<UserId>>;
    /// Whether a reset token is unused and unexpired at `at` (read only; checked before the new
    /// password is hashed, so unknown tokens cost no hashing).
    async fn password_reset_is_valid(&self, token_hash: &str, at: Timestamp) -> StoreResult<bool>;
}

/// The email outbox: messages written by the changes that cause them, delivered by a worker
/// (`crate::mail::OutboxWorker`) that claims them, sends them and records the outcome.
///
/// A message goes `queued` → `sending` (claimed, leased until `next_attempt_at`) → `sent`, or back
/// to `queued` with a later `next_attempt_at` after a failed attempt, or `failed` for good.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Queues an email (`queued`, due at once).
    async fn enqueue_email(&self, email: NewEmail) -> StoreResult<()>;
    /// Outbox messages, newest first.
    async fn list_emails(&self, filter: &EmailFilter, page: PageRequest) -> StoreResult<Page<OutboxEmail>>;
    /// Puts a `failed` message back in the queue, in one transaction with `audit`: `queued`,
    /// `attempts = 0`, due at `at` (the worker sends it on its next poll; the last error is
    /// kept). `Ok(false)`, changing nothing, when message `id` is not `failed`; `NotFound` when
    /// there is no such message.
    async fn retry_email(&self, id: EmailId, audit: NewAudit, at: Timestamp) -> StoreResult<bool>;
    /// Claims up to `limit` messages due at `now`, oldest first (by `created_at`, then id): `queued`
    /// ones whose `next_attempt_at <= now`, and `sending` ones whose lease ran out (their worker
    /// stopped before recording an outcome). In one transaction they become `sending` with
    /// `attempts + 1` and `next_attempt_at = lease_until`, and are returned in that order.
    /// Concurrent claimers — tasks of one process, or several processes on PostgreSQL
    /// (`FOR UPDATE SKIP LOCKED`) — get disjoint sets, so no message is sent twice while its lease
    /// holds.
    async fn claim_emails(&self, now: Timestamp, lease_until: Timestamp, limit: i64) -> StoreResult<Vec<ClaimedEmail>>;
    /// Records that a `sending` message was delivered at `at` (`sent`, `sent_at = at`).
    /// `attempt` is the claim's `attempts`: it fences the outcome to the claim that sent it, so a
    /// worker whose lease ran out (the message was claimed again) cannot overwrite the newer
    /// claim's outcome. `NotFound` when message `id` is not `sending` under that attempt.
    async fn mark_email_sent(&self, id: EmailId, attempt: i32, at: Timestamp) -> StoreResult<()>;
    /// Puts a `sending` message back in the queue after a failed attempt: `queued`,
    /// `last_error = error`, due again at `next_attempt_at`. `NotFound` when message `id` is not
    /// `sending` under `attempt`.
    async fn reschedule_email(&self, id: EmailId, attempt: i32, error: &str, next_attempt_at: Timestamp) -> StoreResult<()>;
    /// Gives up on a `sending` message: `failed` with `last_error = error`; `at` (the time of the
    /// last attempt) is kept in `next_attempt_at`. `NotFound` when message `id` is not `sending`
    /// under `attempt`.
    async fn mark_email_failed(&self, id: EmailId, attempt: i32, error: &str, at: Timestamp) -> StoreResult<()>;
}

/// The audit log (rows are written by the mutations themselves).
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Audit rows matching `filter`, newest first.
    async fn list_audit(&self, filter: &AuditFilter, page: PageRequest) -> StoreResult<Page<AuditEntry>>;
}

/// Leases of scheduled jobs, so that instances sharing one database run each period of a job once.
#[async_trait]
pub trait JobLeaseStore: Send + Sync {
    /// Takes job `name`'s lease for `holder` until `until` when nobody holds it or the lease ran
    /// out by `now` — even the holder cannot take it again before it runs out, so each lease is one
    /// run. Returns whether `holder` got it; the database decides, so of several instances asking
    /// at once exactly one gets it.
    async fn acquire_lease(&self, name: &str, holder: &str, now: Timestamp, until: Timestamp) -> StoreResult<bool>;
    /// Ends `holder`'s lease of job `name` at `until` (e.g. `now`, to let the job run again at
    /// once after a failed run). Nothing happens when someone else holds it.
    async fn release_lease(&self, name: &str, holder: &str, until: Timestamp) -> StoreResult<()>;
    /// When job `name`'s current lease runs out, and who holds it.
    async fn lease(&self, name: &str) -> StoreResult<Option<(String, Timestamp)>>;
}

/// Liveness of the database.
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> StoreResult<()>;
}

/// Vendors and their applications.
#[async_trait]
pub trait VendorStore: Send + Sync {
    /// Stores a new application (`pending`). `Conflict::AlreadyApplied` when the user already
    /// has one, `Conflict::SlugTaken(Sluggable::Vendor)` when the slug is taken.
    async fn insert_vendor(&self, vendor: NewVendor) -> StoreResult<Vendor>;
    /// Turns a `rejected` application of `vendor.user_id` back into a `pending` one with new
    /// details; `None` when the user has no rejected application.
    async fn reapply_vendor(&self, vendor: NewVendor) -> StoreResult<Option<Vendor>>;
    /// A vendor by id.
    async fn vendor_by_id(&self, id: VendorId) -> StoreResult<Option<Vendor>>;
    /// A vendor by slug.
    async fn vendor_by_slug(&self, slug: &str) -> StoreResult<Option<Vendor>>;
    /// The vendor of a user.
    async fn vendor_by_user(&self, user_id: UserId) -> StoreResult<Option<Vendor>>;
    /// Vendors matching `filter`, newest first.
    async fn list_vendors(&self, filter: &VendorFilter, page: PageRequest) -> StoreResult<Page<Vendor>>;
    /// Applies a vendor's own profile change.
    async fn update_vendor_profile(&self, id: VendorId, change: VendorProfileChange, at: Timestamp) -> StoreResult<Vendor>;
    /// Applies an admin decision (status, commission, role, audit row, email) in one transaction.
    /// `NotFound` for an unknown vendor, `Conflict::StaleStatus(HasStatus::Vendor)` when its status is not in `from`.
    async fn decide_vendor(&self, decision: VendorDecision) -> StoreResult<Vendor>;
}

/// Categories, products, images and digital assets.
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// All categories with their visible product counts, ordered by name.
    async fn list_categories(&self) -> StoreResult<Vec<Category>>;
    /// Creates a category. `Conflict::SlugTaken(Sluggable::Category)` when the slug is taken.
    async fn insert_category(&self, category: NewCategory) -> StoreResult<Category>;
    /// Renames / moves a category.
    async fn update_category(&self, change: CategoryChange) -> StoreResult<Category>;
    /// Deletes a category. `Conflict::CategoryInUse` while products (of any status) or
    /// child categories use it.
    async fn delete_category(&self, id: CategoryId, audit: NewAudit) -> StoreResult<()>;
    /// Creates a product.
    async fn insert_product(&self, product: NewProduct) -> StoreResult<Product>;
    /// A product in any status.
    async fn product_by_id(&self, id: ProductId) -> StoreResult<Option<Product>>;
    /// A product in any status, by slug.
    async fn product_by_slug(&self, slug: &str) -> StoreResult<Option<Product>>;
    /// Replaces a product's editable fields (and writes the audit row, if any).
    async fn update_product(&self, update: ProductUpdate) -> StoreResult<Product>;
    /// Published products of approved vendors matching `query`.
    async fn list_products(&self, query: &ProductQuery, page: PageRequest) -> StoreResult<Page<Product>>;
    /// Every published product of an approved vendor matching all of `terms` (normalised search
    /// terms, at least one), in no particular order; `None` when more than `limit` match. The
    /// catalog service caches the set and answers searches for these terms from it. The default
    /// says "too many" always, so a store without it answers every search with
    /// [`CatalogStore::list_products`].
    async fn search_matches(&self, terms: &[String], limit: usize) -> StoreResult<Option<Vec<SearchMatch>>> {
        let _ = (terms, limit);
        Ok(None)
    }
    /// Products (in any status) by id, in the order of `ids`; unknown ids are left out.
    async fn products_by_ids(&self, ids: &[ProductId]) -> StoreResult<Vec<Product>> {
        let mut products = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(product) = self.product_by_id(*id).await? {
                products.push(product);
            }
        }
        Ok(products)
    }
    /// Every product matching `filter` in any status, of any vendor (the admin's moderation
    /// list), newest first (then by id). Does not use the public full-text index.
    async fn list_all_products(&self, filter: &AdminProductFilter, page: PageRequest) -> StoreResult<Page<Product>>;
    /// All products of a vendor in every status, newest first.
    async fn list_vendor_products(&self, vendor_id: VendorId, page: PageRequest) -> StoreResult<Page<Product>>;
    /// Appends an image unless the product already has `max_images` (`Conflict::TooManyImages`).
    async fn add_product_image(&self, image: ProductImage, max_images: i64) -> StoreResult<ProductImage>;
    /// Removes an image of a product and returns it (for file clean-up), writing the audit row (an
    /// admin's removal) in the same transaction; `None` (and no audit row) when not found.
    async fn delete_product_image(
        &self,
        product_id: ProductId,
        image_id: ImageId,
        audit: Option<NewAudit>,
    ) -> StoreResult<Option<ProductImage>>;
    /// Moves an image of a product to `position` (0 first; past the end means last) and numbers
    /// the product's images 0, 1, … in that order, writing the audit row (an admin's move) in the
    /// same transaction; `false` (and no audit row) when the image is not the product's.
    async fn move_product_image(
        &self,
        product_id: ProductId,
        image_id: ImageId,
        position: usize,
        audit: Option<NewAudit>,
    ) -> StoreResult<bool>;
    /// Sets (or replaces) a product's digital asset; returns the replaced one.
    async fn set_product_asset(&self, asset: ProductAsset) -> StoreResult<Option<ProductAsset>>;
    /// A product's digital asset.
    async fn product_asset(&self, product_id: ProductId) -> StoreResult<Option<ProductAsset>>;
}

/// Server-side carts.
#[async_trait]
pub trait CartStore: Send + Sync {
    /// The user's cart lines with each product's current state, oldest first.
    async fn cart_lines(&self, user_id: UserId) -> StoreResult<Vec<CartLine>>;
    /// Adds `quantity` to the line of `product_id` (creating it); returns the new quantity.
    async fn add_to_cart(&self, user_id: UserId, product_id: ProductId, quantity: i64, at: Timestamp) -> StoreResult<i64>;
    /// Sets a line's quantity (0 removes it); `false` when the line does not exist.
    async fn set_cart_quantity(&self, user_id: UserId, product_id: ProductId, quantity: i64) -> StoreResult<bool>;
    /// Removes a line; `false` when it did not exist.
    async fn remove_from_cart(&self, user_id: UserId, product_id: ProductId) -> StoreResult<bool>;
}

/// Orders, payments, fulfilment and refunds. Every method is one transaction.
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Reserves stock with conditional decrements (no read-then-write), stores the order
    /// (`pending_payment`) and its lines, and empties the buyer's cart — all or nothing.
    /// `Conflict::OutOfStock` when a line is out of stock or no longer for sale,
    /// `Conflict::OrderNumberTaken` when the number is taken.
    async fn place_order(&self, order: NewOrder) -> StoreResult<Order>;
    /// Remembers the provider's checkout session of an order.
    async fn attach_payment_session(&self, order_id: OrderId, session_id: &str) -> StoreResult<()>;
    /// An order with all its lines.
    async fn order_by_id(&self, id: OrderId) -> StoreResult<Option<Order>>;
    /// The order of a checkout session or payment intent.
    async fn order_by_payment_ref(&self, session_id: Option<&str>, payment_intent_id: Option<&str>) -> StoreResult<Option<Order>>;
    /// Orders matching `filter`, newest first; with a vendor filter each order holds only that
    /// vendor's lines.
    async fn list_orders(&self, filter: &OrderFilter, page: PageRequest) -> StoreResult<Page<Order>>;
    /// Cancels the buyer's `pending_payment` order and releases its stock. `NotFound` for
    /// another buyer's or an unknown order, `Conflict::StaleStatus(HasStatus::Order)` in any other status.
    async fn cancel_order(&self, order_id: OrderId, user_id: UserId, at: Timestamp) -> StoreResult<Order>;
    /// Expires unpaid orders created before `created_before` and releases their stock.
    async fn expire_orders(&self, created_before: Timestamp, at: Timestamp) -> StoreResult<Vec<OrderId>>;
    /// Records the event id and applies its effect in one transaction: `Succeeded` pays the order
    /// (paid_at, digital lines delivered, ledger credits and commission per line, sales counts, the
    /// confirmation email); `Failed` marks it `payment_failed`; `Expired` expires it and releases
    /// stock. A seen event id is `Duplicate`; a transition the status does not allow is `Ignored`.
    async fn apply_payment_event(&self, event: PaymentEventRecord) -> StoreResult<EventOutcome>;
    /// Marks a paid physical line of the vendor shipped and moves its net from pending to
    /// available; the order becomes `completed` when every line is shipped or delivered.
    /// `NotFound` when the line is not the vendor's, `Conflict::StaleStatus(HasStatus::OrderItem)` when the
    /// order is not paid or the line is not an unshipped physical one.
    async fn fulfil_item(&self, fulfilment: Fulfilment) -> StoreResult<OrderItem>;
    /// Marks a paid (or completed) order refunded, writes a reversal of every ledger amount of
    /// its lines, restores physical stock, writes the audit row and queues the email.
    /// `Conflict::StaleStatus(HasStatus::Order)` in any other status.
    async fn refund_order(&self, refund: Refund) -> StoreResult<Order>;
}

/// Outbound payment actions (see [`NewPaymentIntent`]). Claims are leases: a claimed intent is
/// not claimed again before its `next_attempt_at`, so a reconciler that dies mid-call is
/// replaced, and the idempotency key makes the repeated provider call act once.
#[async_trait]
pub trait PaymentIntentStore: Send + Sync {
    /// Records an admin's refund of a paid (or completed) order: a `pending` refund intent, or
    /// re-arms a `failed` one under a new key (`<key>-<new intent id>`: the provider would
    /// replay the refusal for the old one). `Conflict::StaleStatus(HasStatus::Order)` when the order is not
    /// paid, `Conflict::RefundPending` while a refund of it is pending or done.
    async fn request_refund(&self, intent: NewPaymentIntent) -> StoreResult<PaymentIntent>;
    /// Claims up to `limit` pending intents due at `now` (only `order`'s when given), oldest
    /// first: each gets `attempts + 1` and `next_attempt_at = lease_until`, in one transaction
    /// (`SKIP LOCKED` on PostgreSQL).
    async fn claim_payment_intents(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: i64,
        order: Option<OrderId>,
    ) -> StoreResult<Vec<PaymentIntent>>;
    /// Marks a pending intent `done` with the provider's result id (expiries and automatic
    /// refunds; an admin's refund completes through [`OrderStore::refund_order`]). `false` when it
    /// was not pending.
    async fn finish_payment_intent(&self, id: Uuid, result_id: Option<&str>, at: Timestamp) -> StoreResult<bool>;
    /// Records a failed provider call: back to `pending` due at `retry_at`, or `failed` for good
    /// when `retry_at` is `None`.
    async fn fail_payment_intent(&self, id: Uuid, error: &str, retry_at: Option<Timestamp>, at: Timestamp) -> StoreResult<()>;
    /// Every intent of an order, oldest first.
    async fn payment_intents_for_order(&self, order_id: OrderId) -> StoreResult<Vec<PaymentIntent>>;
    /// Intents in `status`, oldest first (operators; tests).
    async fn payment_intents_in(&self, status: IntentStatus, limit: i64) -> StoreResult<Vec<PaymentIntent>>;
}

/// The vendor ledger (append-only; balances are sums).
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// A vendor's balances.
    async fn vendor_balance(&self, vendor_id: VendorId) -> StoreResult<Balance>;
    /// A vendor's ledger entries, newest first.
    async fn ledger_entries(&self, vendor_id: VendorId, page: PageRequest) -> StoreResult<Page<LedgerEntry>>;
    /// Moves what is still pending on each line of a paid (or completed) order to available
    /// once its refund window has passed: digital lines of orders paid before `paid_before`,
    /// physical lines shipped before `shipped_before` (a `release` pair per line, in one
    /// transaction). Idempotent: a line with nothing pending moves nothing. Returns the lines moved.
    async fn release_matured_credits(&self, paid_before: Timestamp, shipped_before: Timestamp, at: Timestamp) -> StoreResult<u64>;
    /// A dispute of a paid (or completed) order: with `hold`, moves what each line has in
    /// `pending` and `available` to `held` (`dispute_hold`); without, moves each line's `held`
    /// back to `pending` (`dispute_release`), from where the refund-window release takes it as
    /// for any sale. Idempotent by construction (a second call moves
    /// nothing) and `0` for an order in any other status. Returns the lines moved.
    async fn hold_for_dispute(&self, order_id: OrderId, hold: bool, at: Timestamp) -> StoreResult<u64>;
}

/// Vendor payout requests. The money moves as ledger entries written by these methods.
#[async_trait]
pub trait PayoutStore: Send + Sync {
    /// Holds `amount` out of the vendor's available balance (ledger: available −amount, held
    /// +amount) and stores the request (`requested`) with its email, in one transaction that is
    /// serialised per vendor, so two concurrent requests can never both spend the same money.
    /// `Conflict::InsufficientBalance` when the available balance is smaller than the amount.
    async fn request_payout(&self, payout: NewPayout) -> StoreResult<Payout>;
    /// A payout request by id.
    async fn payout_by_id(&self, id: PayoutId) -> StoreResult<Option<Payout>>;
    /// Payout requests matching `filter`, newest first.
    async fn list_payouts(&self, filter: &PayoutFilter, page: PageRequest) -> StoreResult<Page<Payout>>;
    /// Applies an admin decision with a conditional status change: a rejection returns the held
    /// amount to available, marking paid moves it from held to paid out; the audit row and the
    /// email are written in the same transaction. `NotFound` for an unknown id,
    /// `Conflict::StaleStatus(HasStatus::Payout)` when the current status does not allow the action.
    async fn decide_payout(&self, decision: PayoutDecision) -> StoreResult<Payout>;
}

/// Dashboards and analytics, aggregated by the database (no order is loaded into memory).
#[async_trait]
pub trait StatsStore: Send + Sync {
    /// A vendor's all-time sales figures, with per-day sales from `window.from` to `window.to`
    /// and its `window.top` best-selling products (all time).
    async fn vendor_sales(&self, vendor_id: VendorId, window: StatsWindow) -> StoreResult<VendorSales>;
    /// The marketplace's counts and sums; `new_users` counts accounts created since `new_since`.
    async fn marketplace_totals(&self, new_since: Timestamp) -> StoreResult<MarketplaceTotals>;
    /// Paid orders, new accounts and rankings inside the window, per UTC day.
    async fn analytics(&self, window: StatsWindow) -> StoreResult<AnalyticsData>;
}

/// Download links of paid digital lines.
#[async_trait]
pub trait DownloadStore: Send + Sync {
    /// Stores a new link for a line and returns the downloads it allows: the line's remaining
    /// count carries over (at most `link.downloads`; the newest earlier link's count), so asking
    /// for links again never resets the limit. Earlier links of the line stop counting (their
    /// count becomes 0) and only the line's five newest links are kept.
    async fn create_download_link(&self, link: NewDownloadLink) -> StoreResult<i32>;
    /// Counts one download of a link of `user_id` (conditional decrement) and returns the file,
    /// or why not. Links of orders that are no longer paid are `Unknown`.
    async fn use_download_link(&self, id: uuid::Uuid, user_id: UserId, at: Timestamp) -> StoreResult<DownloadUse>;
    /// Like [`DownloadStore::use_download_link`] without counting. With `resumed_since: None` (a
    /// `HEAD`) the link must have downloads left; with `Some(t)` (a `Range` request continuing a
    /// download) the link must have counted a download at or after `t`, whatever is left.
    async fn peek_download_link(
        &self,
        id: uuid::Uuid,
        user_id: UserId,
        at: Timestamp,
        resumed_since: Option<Timestamp>,
    ) -> StoreResult<DownloadUse>;
}

/// Product reviews. Every mutation recomputes, in the same transaction, `rating_avg` and
/// `rating_count` of the review's product and of its vendor from the visible (not hidden) reviews:
/// the count, and the average rounded half up to two decimals (0 without reviews).
#[async_trait]
pub trait ReviewStore: Send + Sync {
    /// Stores a review of `review.product_id` (its vendor is read from the product).
    /// `Conflict::AlreadyReviewed` when the user already reviewed the product,
    /// `NotFound` when the product does not exist.
    async fn insert_review(&self, review: NewReview) -> StoreResult<Review>;
    /// A review (hidden or not) by id.
    async fn review_by_id(&self, id: ReviewId) -> StoreResult<Option<Review>>;
    /// The visible reviews of a product, newest first (ties by id, newest first).
    async fn list_product_reviews(&self, product_id: ProductId, page: PageRequest) -> StoreResult<Page<Review>>;
    /// Every review of every product for moderation, newest first (ties by id, newest first):
    /// all of them with `hidden == None`, only hidden (`Some(true)`) or only visible (`Some(false)`) ones.
    async fn list_reviews(&self, hidden: Option<bool>, page: PageRequest) -> StoreResult<Page<Review>>;
    /// Whether `user_id` has an order in status `paid` or `completed` with a line of `product_id`
    /// (unpaid, failed, cancelled, expired and refunded orders do not count).
    async fn has_bought(&self, user_id: UserId, product_id: ProductId) -> StoreResult<bool>;
    /// Applies the author's edit. `NotFound` when the review does not exist or is not by
    /// `edit.author_id`.
    async fn update_review(&self, edit: ReviewEdit) -> StoreResult<Review>;
    /// Hides or shows a review again and writes the audit row. `NotFound` for an unknown review
    /// (nothing is audited then).
    async fn set_review_hidden(&self, id: ReviewId, hidden: bool, audit: NewAudit) -> StoreResult<Review>;
    /// Deletes a review and writes the audit row, if any (admin deletions). `NotFound` for an
    /// unknown review (nothing is audited then).
    async fn delete_review(&self, id: ReviewId, audit: Option<NewAudit>) -> StoreResult<()>;
}

/// Everything the marketplace needs from a backend. `Marketplace` holds an `Arc<dyn Store>`, so an
/// embedder may bring its own implementation (and run the conformance suite against it).
pub trait Store:
    UserStore
    + SessionStore
    + PasswordResetStore
    + OutboxStore
    + AuditStore
    + HealthStore
    + VendorStore
    + CatalogStore
    + CartStore
    + OrderStore
    + PaymentIntentStore
    + LedgerStore
    + DownloadStore
    + PayoutStore
    + StatsStore
    + ReviewStore
    + JobLeaseStore
{
    /// `sqlite` or `postgres`.
    fn backend_name(&self) -> &'static str;

    /// The cross-process change feed, for backends that several processes share (PostgreSQL);
    /// `None` (the default) for single-process backends.
    fn change_feed(&self) -> Option<std::sync::Arc<dyn ChangeFeed>> {
        None
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` (SQLite) or `ILIKE` (PostgreSQL)
/// pattern matching anywhere in the text; both backends use it.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    expect(dead_code, reason = "used by the backends")
)]
pub(crate) fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(all(test, feature = "sqlite", feature = "postgres"))]
mod tests {
    #[test]
    fn both_backends_have_the_same_migration_versions() {
        let sqlite = super::sqlite::embedded_migration_versions();
        let postgres = super::postgres::embedded_migration_versions();
        assert!(!sqlite.is_empty());
        assert_eq!(
            sqlite, postgres,
            "migrations/sqlite and migrations/postgres must hold the same versions"
        );
    }
}
