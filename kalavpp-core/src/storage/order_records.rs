//! Records of carts, orders, payments, the ledger and download links.

use super::{NewAudit, NewEmail};
use crate::domain::Timestamp;
use crate::domain::{Money, OrderId, OrderItemId, ProductId, ProductKind, UserId, VendorId};
use crate::payments::PaymentEventKind;

/// One line of a new order, priced and with its commission computed by the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrderItem {
    /// Line id.
    pub id: OrderItemId,
    /// The product.
    pub product_id: ProductId,
    /// The vendor.
    pub vendor_id: VendorId,
    /// Title snapshot.
    pub title: String,
    /// Kind snapshot.
    pub kind: ProductKind,
    /// Quantity.
    pub quantity: i64,
    /// Unit price snapshot.
    pub unit_price: Money,
    /// `unit_price × quantity`.
    pub line_total: Money,
    /// Commission rate snapshot in basis points.
    pub commission_bps: i32,
    /// Commission in cents.
    pub commission: Money,
    /// `line_total − commission`.
    pub vendor_net: Money,
}

/// A new order: reserve stock, store the order and its lines, empty the cart — all or nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrder {
    /// Order id.
    pub id: OrderId,
    /// Human order number (unique).
    pub number: String,
    /// The buyer.
    pub user_id: UserId,
    /// Currency.
    pub currency: String,
    /// The lines.
    pub items: Vec<NewOrderItem>,
    /// Sum of the lines.
    pub subtotal: Money,
    /// What the buyer pays.
    pub total: Money,
    /// Sum of the commissions.
    pub commission: Money,
    /// Shipping address (JSON), required when any line is physical.
    pub shipping_address: Option<serde_json::Value>,
    /// `stripe` or `dev`.
    pub payment_provider: String,
    /// Take exactly these lines (product and quantity) out of the buyer's cart, or fail with
    /// `Conflict::CartChanged` — so a double-submitted checkout places one order. When false, the
    /// buyer's whole cart is emptied instead.
    pub take_from_cart: bool,
    /// When set, the buyer may hold at most this many unpaid orders (`pending_payment` or
    /// `payment_failed`, which still reserve stock) before this one: one more fails with
    /// `Conflict::TooManyUnpaidOrders`, decided inside the transaction.
    pub max_unpaid: Option<i64>,
    /// The provider call that opens the order's checkout, recorded with the order.
    pub checkout_intent: Option<super::NewPaymentIntent>,
    /// When.
    pub at: Timestamp,
}

/// A provider event to apply (see [`super::OrderStore::apply_payment_event`]).
#[derive(Debug, Clone)]
pub struct PaymentEventRecord {
    /// Provider event id (unique).
    pub event_id: String,
    /// What happened.
    pub kind: PaymentEventKind,
    /// The order it concerns (found by the service from the session / intent / reference).
    pub order_id: OrderId,
    /// Payment intent id to remember.
    pub payment_intent_id: Option<String>,
    /// The email queued when this event pays the order.
    pub confirmation: Option<NewEmail>,
    /// For a `Succeeded` event: the refund to record when the order cannot take this payment
    /// (cancelled, expired, refunded, or paid with another payment) — decided in the transaction.
    pub late_payment: Option<super::LatePayment>,
    /// Credit digital lines to `pending` (released after the refund window) instead of
    /// `available`.
    pub digital_credit_pending: bool,
    /// When.
    pub at: Timestamp,
}

/// A vendor marking one of its paid physical lines shipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fulfilment {
    /// The vendor (must own the line).
    pub vendor_id: VendorId,
    /// The order.
    pub order_id: OrderId,
    /// The line.
    pub item_id: OrderItemId,
    /// Tracking number.
    pub tracking_number: Option<String>,
    /// Carrier.
    pub carrier: Option<String>,
    /// Move the line's net from pending to available now (no refund window); otherwise it
    /// stays pending until [`LedgerStore::release_matured_credits`] moves it.
    pub release_now: bool,
    /// When.
    pub at: Timestamp,
}

/// An admin refund of a paid order.
#[derive(Debug, Clone)]
pub struct Refund {
    /// The order.
    pub order_id: OrderId,
    /// Provider refund id.
    pub refund_id: String,
    /// The refund intent this completes (marked `done` in the same transaction), if any.
    pub intent_id: Option<uuid::Uuid>,
    /// Audit row.
    pub audit: NewAudit,
    /// Email to the buyer.
    pub email: Option<NewEmail>,
    /// When.
    pub at: Timestamp,
}

/// A new download link for a paid digital line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDownloadLink {
    /// Link id (inside the signed token).
    pub id: uuid::Uuid,
    /// The line.
    pub order_item_id: OrderItemId,
    /// The buyer.
    pub user_id: UserId,
    /// Expiry.
    pub expires_at: Timestamp,
    /// Downloads allowed.
    pub downloads: i32,
    /// When.
    pub at: Timestamp,
}

/// What using a download link gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DownloadUse {
    /// Counted; serve this file.
    Granted {
        /// File-store key.
        key: String,
        /// Download name.
        filename: String,
        /// Size in bytes.
        size_bytes: i64,
        /// Downloads left after this one.
        downloads_left: i32,
    },
    /// Past its expiry.
    Expired,
    /// No downloads left.
    Exhausted,
    /// No such link (or the order is no longer paid).
    Unknown,
}
