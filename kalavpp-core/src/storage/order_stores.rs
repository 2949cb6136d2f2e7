//! Store traits of money: orders, payment intents, the ledger and payouts.

use async_trait::async_trait;

use crate::domain::{
    Balance, EventOutcome, IntentStatus, LedgerEntry, Order, OrderFilter, OrderId, OrderItem, Page, PageRequest, PaymentIntent, Payout,
    PayoutFilter, PayoutId, Timestamp, UserId, VendorId,
};

use uuid::Uuid;

use super::{Fulfilment, NewOrder, NewPaymentIntent, NewPayout, PaymentEventRecord, PayoutDecision, Refund, StoreResult};

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
