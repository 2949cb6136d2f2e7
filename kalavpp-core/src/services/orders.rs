//! Checkout, orders, payment events, fulfilment, refunds and vendor earnings.

use std::collections::HashMap;

use chrono::TimeDelta;
use serde_json::{Value, json};
use tracing::instrument;

use crate::auth::Actor;
use crate::domain::{Money, OrderId, OrderItemId, OrderStatus, Page, PageRequest, ProductKind, Role, UserId, VendorId, now};
use crate::error::{Error, Result, Violations};
use crate::marketplace::Inner;
use crate::payments::{CheckoutLine, CheckoutRequest, PaymentEvent, PaymentEventKind, RefundRequest, WebhookError};
use crate::storage::{
    Balance, CartLine, EventOutcome, Fulfilment, LedgerEntry, NewOrder, NewOrderItem, Order, OrderFilter, OrderItem, PaymentEventRecord,
    Refund, StoreError,
};

use super::catalog::audit;
use super::emails;

/// What a successful checkout hands back.
#[derive(Debug, Clone)]
pub struct CheckoutOutcome {
    /// The new order (`pending_payment`).
    pub order: Order,
    /// Where to send the buyer to pay.
    pub checkout_url: String,
    /// The provider's session id.
    pub payment_session_id: String,
}

/// A vendor's balances and ledger.
#[derive(Debug, Clone)]
pub struct Earnings {
    /// Sums per bucket.
    pub balance: Balance,
    /// Entries, newest first.
    pub entries: Page<LedgerEntry>,
}

/// Order services; get one from [`crate::Marketplace::orders`].
pub struct Orders<'a> {
    inner: &'a Inner,
}

fn order_not_found() -> Error {
    Error::not_found("order_not_found", "order not found")
}

/// Splits a line total into commission and vendor net: `commission + net == line_total` always.
pub fn split_commission(line_total: Money, commission_bps: u32) -> (Money, Money) {
    let commission = line_total.share_bps(commission_bps);
    (commission, Money(line_total.cents() - commission.cents()))
}

/// Validates a shipping address: `{name, line1, line2?, city, postal_code, country, phone?}`.
fn parse_address(value: &Value, violations: &mut Violations) -> Option<Value> {
    let Some(map) = value.as_object() else {
        violations.add("shipping_address", "must be an object");
        return None;
    };
    let mut clean = serde_json::Map::new();
    for (key, required, max) in [
        ("name", true, 200),
        ("line1", true, 200),
        ("line2", false, 200),
        ("city", true, 100),
        ("postal_code", true, 20),
        ("country", true, 56),
        ("phone", false, 40),
    ] {
        match map.get(key) {
            Some(Value::String(text)) if !text.trim().is_empty() && text.chars().count() <= max && !text.chars().any(char::is_control) => {
                clean.insert(key.into(), Value::String(text.trim().to_owned()));
            }
            None | Some(Value::Null) if !required => {}
            None | Some(Value::Null) => violations.add(&format!("shipping_address.{key}"), "is required"),
            Some(_) => violations.add(&format!("shipping_address.{key}"), format!("must be text of 1 to {max} characters")),
        }
    }
    for key in map.keys() {
        if !["name", "line1", "line2", "city", "postal_code", "country", "phone"].contains(&key.as_str()) {
            violations.add(&format!("shipping_address.{key}"), "is not an accepted field");
        }
    }
    Some(Value::Object(clean))
}

fn order_number() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let random = uuid::Uuid::new_v4();
    let suffix: String = random
        .as_bytes()
        .iter()
        .take(6)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("KV-{}-{suffix}", now().format("%Y%m%d"))
}

impl<'a> Orders<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }

    /// Turns the actor's cart into a `pending_payment` order: prices re-read, commission
    /// snapshotted per line, stock reserved, cart emptied; then opens the provider's checkout.
    #[instrument(skip_all)]
    pub async fn checkout(&self, actor: &Actor, shipping_address: Option<Value>) -> Result<CheckoutOutcome> {
        let user_id = actor.require_user()?;
        let user = self
            .inner
            .store
            .user_by_id(user_id)
            .await?
            .ok_or_else(|| Error::unauthorized("invalid_token", "account not found"))?;
        let lines = self.inner.store.cart_lines(user_id).await?;
        if lines.is_empty() {
            return Err(Error::invalid("cart", "your cart is empty"));
        }
        let mut violations = Violations::new();
        let needs_address = lines.iter().any(|l| l.kind == ProductKind::Physical);
        let address = match (&shipping_address, needs_address) {
            (Some(value), _) if !value.is_null() => parse_address(value, &mut violations),
            (_, true) => {
                violations.add("shipping_address", "is required when the cart holds physical works");
                None
            }
            _ => None,
        };
        violations.finish()?;
        if let Some(line) = lines.iter().find(|l| !l.available) {
            return Err(Error::conflict(
                "item_unavailable",
                format!("\"{}\" is no longer available in that quantity", line.title),
            ));
        }
        let mut rates: HashMap<VendorId, u32> = HashMap::new();
        for line in &lines {
            if let std::collections::hash_map::Entry::Vacant(slot) = rates.entry(line.vendor_id) {
                let vendor = self.inner.store.vendor_by_id(line.vendor_id).await?;
                let bps = vendor
                    .and_then(|v| v.commission_bps)
                    .map_or(self.inner.config.commission_bps, |b| u32::try_from(b).unwrap_or(0));
                slot.insert(bps);
            }
        }
        let items: Vec<NewOrderItem> = lines
            .iter()
            .map(|line| {
                let line_total = Money(line.unit_price.cents() * line.quantity);
                let bps = rates.get(&line.vendor_id).copied().unwrap_or(self.inner.config.commission_bps);
                let (commission, vendor_net) = split_commission(line_total, bps);
                NewOrderItem {
                    id: OrderItemId::new(),
                    product_id: line.product_id,
                    vendor_id: line.vendor_id,
                    title: line.title.clone(),
                    kind: line.kind,
                    quantity: line.quantity,
                    unit_price: line.unit_price,
                    line_total,
                    commission_bps: i32::try_from(bps).unwrap_or(0),
                    commission,
                    vendor_net,
                }
            })
            .collect();
        let subtotal = Money(items.iter().map(|i| i.line_total.cents()).sum());
        let commission = Money(items.iter().map(|i| i.commission.cents()).sum());
        let mut new_order = NewOrder {
            id: OrderId::new(),
            number: order_number(),
            user_id,
            currency: self.inner.config.currency.clone(),
            items,
            subtotal,
            total: subtotal,
            commission,
            shipping_address: address,
            payment_provider: self.inner.payments.name().to_owned(),
            take_from_cart: true,
            at: now(),
        };
        let order = loop {
            match self.inner.store.place_order(new_order.clone()).await {
                Ok(order) => break order,
                Err(StoreError::Conflict(what)) if what == "orders.number" => new_order.number = order_number(),
                Err(StoreError::Conflict(what)) if what == "cart" => {
                    return Err(Error::conflict(
                        "cart_changed",
                        "your cart changed during checkout (is another checkout in progress?); review it and try again",
                    ));
                }
                Err(StoreError::Conflict(_)) => {
                    return Err(Error::conflict(
                        "out_of_stock",
                        "an item in your cart just sold out; your cart is unchanged",
                    ));
                }
                Err(other) => return Err(other.into()),
            }
        };
        // Only stock changes what the catalog shows; digital works have none.
        if order.items.iter().any(|i| i.kind == ProductKind::Physical) {
            self.inner.cache.invalidate();
        }
        let frontend = self.inner.config.frontend_url.trim_end_matches('/');
        let request = CheckoutRequest {
            order_id: order.id,
            order_number: order.number.clone(),
            currency: order.currency.clone(),
            lines: order
                .items
                .iter()
                .map(|i| CheckoutLine {
                    title: i.title.clone(),
                    unit_amount_cents: i.unit_price.cents(),
                    quantity: i.quantity,
                })
                .collect(),
            customer_email: user.email.clone(),
            success_url: format!("{frontend}/orders/{}?payment=success", order.id),
            cancel_url: format!("{frontend}/orders/{}?payment=cancelled", order.id),
            idempotency_key: format!("checkout-{}", order.id),
        };
        let session = match self.inner.payments.create_checkout(request).await {
            Ok(session) => session,
            Err(err) => {
                tracing::error!(error = %err, order = %order.id, "payment provider failed; releasing the order");
                let _ = self.inner.store.cancel_order(order.id, user_id, now()).await;
                self.restore_cart(user_id, &lines).await;
                self.inner.cache.invalidate();
                return Err(Error::Upstream {
                    code: "payment_provider_unavailable",
                    message: "the payment provider is unavailable; please try again".into(),
                });
            }
        };
        self.inner.store.attach_payment_session(order.id, &session.session_id).await?;
        let order = Order {
            payment_session_id: Some(session.session_id.clone()),
            ..order
        };
        Ok(CheckoutOutcome {
            order,
            checkout_url: session.url,
            payment_session_id: session.session_id,
        })
    }

    /// Puts the lines of an order the provider could not open a checkout for back into the cart
    /// (best effort: a cart is not worth failing the request over).
    async fn restore_cart(&self, user_id: UserId, lines: &[CartLine]) {
        for line in lines {
            if let Err(err) = self
                .inner
                .store
                .add_to_cart(user_id, line.product_id, line.quantity, line.added_at)
                .await
            {
                tracing::warn!(error = %err, product = %line.product_id, "could not put a cart line back");
            }
        }
    }

    /// The actor's orders, newest first.
    #[instrument(skip_all)]
    pub async fn mine(&self, actor: &Actor, page: PageRequest) -> Result<Page<Order>> {
        let user = actor.require_user()?;
        Ok(self
            .inner
            .store
            .list_orders(
                &OrderFilter {
                    user_id: Some(user),
                    ..OrderFilter::default()
                },
                page,
            )
            .await?)
    }

    /// One order for its buyer or an admin; anyone else gets `NotFound`.
    #[instrument(skip_all)]
    pub async fn get(&self, actor: &Actor, id: OrderId) -> Result<Order> {
        let user = actor
            .require_user()
            .or_else(|e| if *actor == Actor::System { Ok(UserId::default()) } else { Err(e) })?;
        let order = self.inner.store.order_by_id(id).await?.ok_or_else(order_not_found)?;
        let admin = matches!(actor, Actor::System | Actor::User { role: Role::Admin, .. });
        if order.user_id == user || admin {
            Ok(order)
        } else {
            Err(order_not_found())
        }
    }

    /// Cancels the actor's unpaid order and releases its stock (`409` once paid).
    #[instrument(skip_all)]
    pub async fn cancel(&self, actor: &Actor, id: OrderId) -> Result<Order> {
        let user = actor.require_user()?;
        let order = self.inner.store.cancel_order(id, user, now()).await.map_err(|e| match e {
            StoreError::NotFound => order_not_found(),
            StoreError::Conflict(_) => Error::conflict("order_not_cancellable", "only orders waiting for payment can be cancelled"),
            other => other.into(),
        })?;
        self.inner.cache.invalidate();
        Ok(order)
    }

    /// All orders for admins.
    #[instrument(skip_all)]
    pub async fn list_all(&self, actor: &Actor, filter: OrderFilter, page: PageRequest) -> Result<Page<Order>> {
        actor.require_admin()?;
        Ok(self.inner.store.list_orders(&filter, page).await?)
    }

    /// Orders holding the actor's (approved vendor) lines, each with only those lines.
    #[instrument(skip_all)]
    pub async fn for_vendor(&self, actor: &Actor, mut filter: OrderFilter, page: PageRequest) -> Result<Page<Order>> {
        let vendor = super::Vendors::new(self.inner).approved(actor).await?;
        filter.vendor_id = Some(vendor.id);
        filter.user_id = None;
        Ok(self.inner.store.list_orders(&filter, page).await?)
    }

    /// Marks one of the actor's paid physical lines shipped; its net becomes available.
    #[instrument(skip_all)]
    pub async fn fulfil(
        &self,
        actor: &Actor,
        order_id: OrderId,
        item_id: OrderItemId,
        tracking_number: Option<String>,
        carrier: Option<String>,
    ) -> Result<OrderItem> {
        let vendor = super::Vendors::new(self.inner).approved(actor).await?;
        let clean = |field: &str, value: Option<String>, violations: &mut Violations| {
            value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).and_then(|v| {
                if v.chars().count() > 100 || v.chars().any(char::is_control) {
                    violations.add(field, "must be at most 100 characters");
                    None
                } else {
                    Some(v)
                }
            })
        };
        let mut violations = Violations::new();
        let tracking_number = clean("tracking_number", tracking_number, &mut violations);
        let carrier = clean("carrier", carrier, &mut violations);
        violations.finish()?;
        let fulfilment = Fulfilment {
            vendor_id: vendor.id,
            order_id,
            item_id,
            tracking_number,
            carrier,
            at: now(),
        };
        self.inner.store.fulfil_item(fulfilment).await.map_err(|e| match e {
            StoreError::NotFound => Error::not_found("order_item_not_found", "order line not found"),
            StoreError::Conflict(_) => Error::conflict(
                "not_fulfillable",
                "only unshipped physical lines of paid orders can be marked shipped",
            ),
            other => other.into(),
        })
    }

    /// Refunds a paid order in full through the provider (admin): ledger reversed, stock
    /// restored, audit row and email. A second refund is `409`.
    #[instrument(skip_all)]
    pub async fn refund(&self, actor: &Actor, id: OrderId) -> Result<Order> {
        let admin = actor.require_admin()?;
        let order = self.inner.store.order_by_id(id).await?.ok_or_else(order_not_found)?;
        if !matches!(order.status, OrderStatus::Paid | OrderStatus::Completed) {
            return Err(Error::conflict(
                "not_refundable",
                format!("a {} order cannot be refunded", order.status),
            ));
        }
        let request = RefundRequest {
            order_id: id,
            payment_intent_id: order.payment_intent_id.clone(),
            session_id: order.payment_session_id.clone(),
            amount_cents: order.total.cents(),
            idempotency_key: format!("refund-{id}"),
        };
        let refund_id = self.inner.payments.refund(request).await.map_err(|e| {
            tracing::error!(error = %e, order = %id, "refund failed at the provider");
            Error::Upstream {
                code: "refund_failed",
                message: format!("the payment provider did not refund: {e}"),
            }
        })?;
        let buyer = self.inner.store.user_by_id(order.user_id).await?;
        let refund = Refund {
            order_id: id,
            refund_id: refund_id.clone(),
            audit: audit(
                admin,
                "order.refund",
                "order",
                id.to_string(),
                json!({ "refund_id": refund_id, "amount_cents": order.total.cents() }),
            ),
            email: buyer.map(|b| emails::refund_issued(&b.email, &order)),
            at: now(),
        };
        let refunded = self.inner.store.refund_order(refund).await.map_err(|e| match e {
            StoreError::Conflict(_) => Error::conflict("not_refundable", "the order was refunded meanwhile"),
            StoreError::NotFound => order_not_found(),
            other => other.into(),
        })?;
        self.inner.cache.invalidate();
        Ok(refunded)
    }

    /// Verifies and applies a provider webhook. Bad or stale signatures are `BadRequest`;
    /// events that do not concern an order are accepted and ignored.
    #[instrument(skip_all)]
    pub async fn handle_webhook(&self, payload: &[u8], signature: Option<&str>) -> Result<EventOutcome> {
        let event = self.inner.payments.parse_webhook(payload, signature).map_err(|e| match e {
            WebhookError::BadSignature(m) => Error::BadRequest {
                code: "invalid_signature",
                message: m,
            },
            WebhookError::Malformed(m) => Error::BadRequest {
                code: "malformed_event",
                message: m,
            },
        })?;
        match event {
            Some(event) => self.apply_event(event).await,
            None => Ok(EventOutcome::Ignored),
        }
    }

    /// Applies a provider event (also used by the development checkout page). Each event id
    /// takes effect at most once; late or out-of-order events change nothing.
    #[instrument(skip_all, fields(event = %event.event_id))]
    pub async fn apply_event(&self, event: PaymentEvent) -> Result<EventOutcome> {
        let order = match event.order_id {
            Some(id) => self.inner.store.order_by_id(id).await?,
            None => None,
        };
        let order = match order {
            Some(order) => Some(order),
            None => {
                self.inner
                    .store
                    .order_by_payment_ref(event.session_id.as_deref(), event.payment_intent_id.as_deref())
                    .await?
            }
        };
        let Some(order) = order else {
            tracing::warn!("payment event for an unknown order ignored");
            return Ok(EventOutcome::Ignored);
        };
        if event.kind == PaymentEventKind::Succeeded {
            let amount_wrong = event.amount_cents.is_some_and(|a| a != order.total.cents());
            let currency_wrong = event.currency.as_deref().is_some_and(|c| !c.eq_ignore_ascii_case(&order.currency));
            if amount_wrong || currency_wrong {
                tracing::error!(order = %order.id, amount = ?event.amount_cents, currency = ?event.currency, "paid amount does not match the order; not marking it paid");
                return Ok(EventOutcome::Ignored);
            }
        }
        let confirmation = match event.kind {
            PaymentEventKind::Succeeded => self
                .inner
                .store
                .user_by_id(order.user_id)
                .await?
                .map(|buyer| emails::order_confirmation(&buyer.email, &order, &self.inner.config.frontend_url)),
            _ => None,
        };
        let record = PaymentEventRecord {
            event_id: event.event_id,
            kind: event.kind,
            order_id: order.id,
            payment_intent_id: event.payment_intent_id,
            confirmation,
            at: now(),
        };
        let outcome = self.inner.store.apply_payment_event(record).await?;
        if outcome == EventOutcome::Applied {
            self.inner.cache.invalidate();
        }
        Ok(outcome)
    }

    /// The order of a checkout session (for the development checkout page).
    #[instrument(skip_all)]
    pub async fn by_payment_session(&self, session_id: &str) -> Result<Option<Order>> {
        Ok(self.inner.store.order_by_payment_ref(Some(session_id), None).await?)
    }

    /// Expires unpaid orders older than the checkout lifetime and releases their stock.
    #[instrument(skip_all)]
    pub async fn expire_stale(&self) -> Result<usize> {
        let ttl = TimeDelta::from_std(self.inner.config.checkout_ttl).unwrap_or(TimeDelta::hours(1));
        let at = now();
        let expired = self.inner.store.expire_orders(at - ttl, at).await?;
        if !expired.is_empty() {
            tracing::info!(count = expired.len(), "expired unpaid orders");
            self.inner.cache.invalidate();
        }
        Ok(expired.len())
    }

    /// The actor's (approved vendor) balances and ledger entries.
    #[instrument(skip_all)]
    pub async fn earnings(&self, actor: &Actor, page: PageRequest) -> Result<Earnings> {
        let vendor = super::Vendors::new(self.inner).approved(actor).await?;
        let balance = self.inner.store.vendor_balance(vendor.id).await?;
        let entries = self.inner.store.ledger_entries(vendor.id, page).await?;
        Ok(Earnings { balance, entries })
    }
}

#[cfg(test)]
mod tests {
    use super::split_commission;
    use crate::domain::Money;

    #[test]
    fn commission_never_loses_or_creates_a_cent() {
        let mut seed: u64 = 7;
        for _ in 0..100_000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let unit = i64::try_from((seed >> 33) % 100_000_000 + 1).unwrap();
            let quantity = i64::try_from((seed >> 20) % 50 + 1).unwrap();
            let bps = u32::try_from((seed >> 10) % 10_001).unwrap();
            let total = Money(unit * quantity);
            let (commission, net) = split_commission(total, bps);
            assert_eq!(commission.cents() + net.cents(), total.cents());
            assert!(commission.cents() >= 0 && net.cents() >= 0);
        }
        assert_eq!(split_commission(Money(1_999), 1_000), (Money(200), Money(1_799)));
    }
}
