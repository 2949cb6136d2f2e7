//! Store traits of running the marketplace: the mail outbox, the audit log, job leases,
//! health checks and statistics.

use async_trait::async_trait;

use crate::domain::{
    AnalyticsData, AuditEntry, AuditFilter, EmailFilter, EmailId, MarketplaceTotals, OutboxEmail, Page, PageRequest, StatsWindow,
    Timestamp, VendorId, VendorSales,
};

use super::{ClaimedEmail, NewAudit, NewEmail, StoreResult};

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
