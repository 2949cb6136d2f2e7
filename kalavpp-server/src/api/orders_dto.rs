//! Response bodies of carts, orders, downloads and earnings.

use chrono::{DateTime, Utc};
use kalavpp_core::domain::{Balance, LedgerEntry, Order, OrderItem};
use kalavpp_core::services::{CartView, DownloadLink};
use serde::Serialize;
use utoipa::ToSchema;

/// A cart line.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartItemBody {
    /// The product.
    pub product_id: String,
    /// Its current title.
    pub title: String,
    /// Quantity.
    pub quantity: i64,
    /// Current unit price.
    pub unit_price_cents: i64,
    /// `unit_price_cents × quantity`.
    pub line_total_cents: i64,
    /// The vendor.
    pub vendor_id: String,
    /// `physical` or `digital`.
    #[schema(value_type = super::enums::ProductKind)]
    pub kind: &'static str,
    /// Whether it can be bought now (for sale and in stock).
    pub available: bool,
}

/// A cart.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartBody {
    /// Lines, oldest first.
    pub items: Vec<CartItemBody>,
    /// Sum of the lines.
    pub subtotal_cents: i64,
    /// Currency.
    pub currency: String,
}

impl From<CartView> for CartBody {
    fn from(cart: CartView) -> Self {
        Self {
            items: cart
                .lines
                .into_iter()
                .map(|l| CartItemBody {
                    product_id: l.product_id.to_string(),
                    title: l.title,
                    quantity: l.quantity,
                    unit_price_cents: l.unit_price.cents(),
                    line_total_cents: l.unit_price.cents() * l.quantity,
                    vendor_id: l.vendor_id.to_string(),
                    kind: l.kind.as_str(),
                    available: l.available,
                })
                .collect(),
            subtotal_cents: cart.subtotal.cents(),
            currency: cart.currency,
        }
    }
}

/// An order line.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderItemBody {
    /// Line id.
    pub id: String,
    /// The product.
    pub product_id: String,
    /// The vendor.
    pub vendor_id: String,
    /// Title at checkout.
    pub title: String,
    /// `physical` or `digital`.
    #[schema(value_type = super::enums::ProductKind)]
    pub kind: &'static str,
    /// Quantity.
    pub quantity: i64,
    /// Unit price at checkout.
    pub unit_price_cents: i64,
    /// Line total.
    pub line_total_cents: i64,
    /// Platform commission on the line.
    pub commission_cents: i64,
    /// Commission rate in basis points at checkout.
    pub commission_bps: i32,
    /// The vendor's share: `line_total_cents − commission_cents`.
    pub vendor_net_cents: i64,
    /// `unfulfilled`, `shipped` or `delivered`.
    #[schema(value_type = super::enums::FulfilmentStatus)]
    pub fulfilment_status: &'static str,
    /// Carrier tracking number.
    pub tracking_number: Option<String>,
    /// Carrier.
    pub carrier: Option<String>,
    /// When it shipped.
    pub shipped_at: Option<DateTime<Utc>>,
}

impl From<&OrderItem> for OrderItemBody {
    fn from(i: &OrderItem) -> Self {
        Self {
            id: i.id.to_string(),
            product_id: i.product_id.to_string(),
            vendor_id: i.vendor_id.to_string(),
            title: i.title.clone(),
            kind: i.kind.as_str(),
            quantity: i.quantity,
            unit_price_cents: i.unit_price.cents(),
            line_total_cents: i.line_total.cents(),
            commission_cents: i.commission.cents(),
            commission_bps: i.commission_bps,
            vendor_net_cents: i.vendor_net.cents(),
            fulfilment_status: i.fulfilment_status.as_str(),
            tracking_number: i.tracking_number.clone(),
            carrier: i.carrier.clone(),
            shipped_at: i.shipped_at,
        }
    }
}

/// An order.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderBody {
    /// Order id.
    pub id: String,
    /// Human order number.
    pub number: String,
    /// `pending_payment`, `paid`, `completed`, `payment_failed`, `cancelled`, `expired` or `refunded`.
    #[schema(value_type = super::enums::OrderStatus)]
    pub status: &'static str,
    /// The buyer.
    pub user_id: String,
    /// Lines (a vendor sees only its own).
    pub items: Vec<OrderItemBody>,
    /// Sum of the lines.
    pub subtotal_cents: i64,
    /// What the buyer pays.
    pub total_cents: i64,
    /// Currency.
    pub currency: String,
    /// Shipping address.
    #[schema(value_type = Option<Object>)]
    pub shipping_address: Option<serde_json::Value>,
    /// The provider's checkout session.
    pub payment_session_id: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Payment time.
    pub paid_at: Option<DateTime<Utc>>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&Order> for OrderBody {
    fn from(o: &Order) -> Self {
        Self {
            id: o.id.to_string(),
            number: o.number.clone(),
            status: o.status.as_str(),
            user_id: o.user_id.to_string(),
            items: o.items.iter().map(OrderItemBody::from).collect(),
            subtotal_cents: o.subtotal.cents(),
            total_cents: o.total.cents(),
            currency: o.currency.clone(),
            shipping_address: o.shipping_address.clone(),
            payment_session_id: o.payment_session_id.clone(),
            created_at: o.created_at,
            paid_at: o.paid_at,
            updated_at: o.updated_at,
        }
    }
}

/// An order as admins see it: the order and every payment action recorded for it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderBody {
    /// The order.
    #[serde(flatten)]
    pub order: OrderBody,
    /// Refunds, automatic refunds of payments the order could not take, and checkout-session
    /// expiries, oldest first.
    pub payment_actions: Vec<PaymentActionBody>,
}

/// One outbound payment action of an order.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentActionBody {
    /// Action id.
    pub id: String,
    /// `refund`, `auto_refund` (a payment the order could not take, given back) or `expire_session`.
    #[schema(value_type = super::enums::PaymentActionKind)]
    pub kind: &'static str,
    /// `pending` (being carried out or retried), `done` or `failed` (refused for good).
    #[schema(value_type = super::enums::PaymentActionStatus)]
    pub status: &'static str,
    /// Amount in cents (refunds).
    pub amount_cents: i64,
    /// The provider's payment this refunds.
    pub payment_intent_id: Option<String>,
    /// The provider's answer (a refund id).
    pub result_id: Option<String>,
    /// Provider calls made.
    pub attempts: i32,
    /// The last failure.
    pub last_error: Option<String>,
    /// Recorded at.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<&kalavpp_core::domain::PaymentIntent> for PaymentActionBody {
    fn from(i: &kalavpp_core::domain::PaymentIntent) -> Self {
        Self {
            id: i.id.to_string(),
            kind: i.kind.as_str(),
            status: i.status.as_str(),
            amount_cents: i.amount_cents,
            payment_intent_id: i.payment_intent_id.clone(),
            result_id: i.result_id.clone(),
            attempts: i.attempts,
            last_error: i.last_error.clone(),
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// The answer to `POST /checkout`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckoutBody {
    /// The new order (`pending_payment`).
    pub order: OrderBody,
    /// Where to send the buyer to pay.
    pub checkout_url: String,
    /// The payment provider's session id.
    pub payment_session_id: String,
}

/// A download link.
#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadBody {
    /// The order line.
    pub item_id: String,
    /// File name.
    pub filename: String,
    /// The signed link.
    pub url: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// Downloads left.
    pub downloads_left: i32,
}

impl DownloadBody {
    /// A body with the link under `base` (`.../api/v1`).
    pub fn new(link: DownloadLink, base: &str) -> Self {
        Self {
            item_id: link.item_id.to_string(),
            filename: link.filename,
            url: format!("{}/api/v1/downloads/{}", base.trim_end_matches('/'), link.token),
            expires_at: link.expires_at,
            downloads_left: link.downloads_left,
        }
    }
}

/// A vendor's balances in cents.
#[derive(Debug, Serialize, ToSchema)]
pub struct BalanceBody {
    /// Earned, waiting for shipping.
    pub pending_cents: i64,
    /// Withdrawable (negative after a refund of money already paid out).
    pub available_cents: i64,
    /// Held for payout requests.
    pub held_cents: i64,
    /// Paid out so far.
    pub paid_out_cents: i64,
    /// Platform commission on the vendor's sales.
    pub commission_cents: i64,
}

impl From<Balance> for BalanceBody {
    fn from(b: Balance) -> Self {
        Self {
            pending_cents: b.pending.cents(),
            available_cents: b.available.cents(),
            held_cents: b.held.cents(),
            paid_out_cents: b.paid_out.cents(),
            commission_cents: b.commission.cents(),
        }
    }
}

/// A ledger entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerEntryBody {
    /// Entry id.
    pub id: String,
    /// `sale_credit`, `commission`, `release`, `refund_reversal`, `commission_reversal`, `payout_hold`, `payout_debit`.
    pub kind: &'static str,
    /// `pending`, `available`, `held`, `paid_out` or `platform`.
    pub bucket: &'static str,
    /// Signed amount in cents.
    pub amount_cents: i64,
    /// The order.
    pub order_id: Option<String>,
    /// The order line.
    pub order_item_id: Option<String>,
    /// The payout request (payout holds and debits).
    pub payout_id: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl From<&LedgerEntry> for LedgerEntryBody {
    fn from(e: &LedgerEntry) -> Self {
        Self {
            id: e.id.to_string(),
            kind: e.kind.as_str(),
            bucket: e.bucket.as_str(),
            amount_cents: e.amount.cents(),
            order_id: e.order_id.map(|o| o.to_string()),
            order_item_id: e.order_item_id.map(|i| i.to_string()),
            payout_id: e.payout_id.map(|p| p.to_string()),
            created_at: e.created_at,
        }
    }
}
