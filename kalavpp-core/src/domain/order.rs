//! Carts and orders: a cart line, an order with its lines, the order list's filters, and what a payment event did.

use serde::Serialize;

use super::{FulfilmentStatus, Money, OrderId, OrderItemId, OrderStatus, ProductId, ProductKind, Timestamp, UserId, VendorId};

/// A cart line joined with the product's current state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CartLine {
    /// The product.
    pub product_id: ProductId,
    /// Its current title.
    pub title: String,
    /// Its slug.
    pub slug: String,
    /// Wanted quantity.
    pub quantity: i64,
    /// Current unit price.
    pub unit_price: Money,
    /// The vendor.
    pub vendor_id: VendorId,
    /// Physical or digital.
    pub kind: ProductKind,
    /// Units left (physical).
    pub stock: Option<i64>,
    /// Whether it can be bought now (published, vendor approved, enough stock).
    pub available: bool,
    /// When it was first added.
    pub added_at: Timestamp,
}

/// A stored order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderItem {
    /// Line id.
    pub id: OrderItemId,
    /// The product.
    pub product_id: ProductId,
    /// The vendor.
    pub vendor_id: VendorId,
    /// Title at checkout.
    pub title: String,
    /// Kind.
    pub kind: ProductKind,
    /// Quantity.
    pub quantity: i64,
    /// Unit price at checkout.
    pub unit_price: Money,
    /// Line total.
    pub line_total: Money,
    /// Commission rate at checkout.
    pub commission_bps: i32,
    /// Commission.
    pub commission: Money,
    /// Vendor's net.
    pub vendor_net: Money,
    /// Delivery state.
    pub fulfilment_status: FulfilmentStatus,
    /// Carrier tracking number.
    pub tracking_number: Option<String>,
    /// Carrier name.
    pub carrier: Option<String>,
    /// When it shipped.
    pub shipped_at: Option<Timestamp>,
}

/// A stored order with its lines.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    /// Order id.
    pub id: OrderId,
    /// Human order number.
    pub number: String,
    /// The buyer.
    pub user_id: UserId,
    /// Status.
    pub status: OrderStatus,
    /// Currency.
    pub currency: String,
    /// Sum of the lines.
    pub subtotal: Money,
    /// What the buyer pays.
    pub total: Money,
    /// Sum of the commissions.
    pub commission: Money,
    /// Shipping address.
    pub shipping_address: Option<serde_json::Value>,
    /// Provider name.
    pub payment_provider: String,
    /// Provider checkout session id.
    pub payment_session_id: Option<String>,
    /// Provider payment intent id.
    pub payment_intent_id: Option<String>,
    /// Provider refund id.
    pub refund_id: Option<String>,
    /// Lines (for vendor views: only that vendor's lines).
    pub items: Vec<OrderItem>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Payment time.
    pub paid_at: Option<Timestamp>,
}

/// Filters of order lists.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    /// Only this buyer.
    pub user_id: Option<UserId>,
    /// Only orders with lines of this vendor (and, in vendor views, only those lines).
    pub vendor_id: Option<VendorId>,
    /// Only this status.
    pub status: Option<OrderStatus>,
    /// Created at or after.
    pub from: Option<Timestamp>,
    /// Created at or before.
    pub to: Option<Timestamp>,
}

/// What applying a provider event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventOutcome {
    /// The event changed the order.
    Applied,
    /// This event id was seen before; nothing changed.
    Duplicate,
    /// The order's status does not allow this event (late or out of order); recorded, nothing changed.
    Ignored,
    /// The order could not take this payment: an automatic refund was recorded (audit row
    /// `order.auto_refund`, an email to the buyer) for the reconciler to carry out.
    AutoRefund,
}
