//! Checkout: the cart turned into an unpaid order (prices re-read, commission snapshotted,
//! stock reserved) and the provider's checkout opened, or reopened after a cut-short attempt.

use std::collections::HashMap;

use chrono::TimeDelta;
use serde_json::Value;
use tracing::instrument;

use crate::auth::Actor;
use crate::domain::{CartLine, IntentKind, Order, PaymentIntent};
use crate::domain::{Money, OrderId, OrderItemId, OrderStatus, ProductKind, UserId, VendorId, now};
use crate::error::{Error, Result, Violations};
use crate::payments::PaymentError;
use crate::payments::{CheckoutLine, CheckoutRequest};
use crate::storage::Conflict;
use crate::storage::{NewOrder, NewOrderItem, NewPaymentIntent, StoreError};

use super::{Orders, split_commission};

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

impl Orders<'_> {
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
            max_unpaid: (self.inner.config.max_unpaid_orders > 0).then(|| i64::from(self.inner.config.max_unpaid_orders)),
            checkout_intent: None,
            at: now(),
        };
        // The provider call is recorded with the order (held by this attempt for a while), so a
        // crash before its session id is stored is repaired with the same idempotency key.
        let at = now();
        new_order.checkout_intent = Some(NewPaymentIntent {
            id: uuid::Uuid::now_v7(),
            order_id: new_order.id,
            kind: IntentKind::CreateSession,
            idempotency_key: format!("checkout-{}", new_order.id),
            session_id: None,
            payment_intent_id: None,
            amount_cents: new_order.total.cents(),
            actor_id: Some(user_id),
            next_attempt_at: at + self.lease(),
            at,
        });
        let intent_id = new_order.checkout_intent.as_ref().map(|i| i.id);
        let order = loop {
            match self.inner.store.place_order(new_order.clone()).await {
                Ok(order) => break order,
                Err(StoreError::Conflict(Conflict::OrderNumberTaken)) => new_order.number = order_number(),
                Err(StoreError::Conflict(Conflict::TooManyUnpaidOrders)) => {
                    return Err(Error::conflict(
                        "too_many_unpaid_orders",
                        format!(
                            "you already have {} orders waiting for payment; pay or cancel one first",
                            self.inner.config.max_unpaid_orders
                        ),
                    ));
                }
                Err(StoreError::Conflict(Conflict::CartChanged)) => {
                    return Err(Error::conflict(
                        "cart_changed",
                        "your cart changed during checkout (is another checkout in progress?); review it and try again",
                    ));
                }
                Err(StoreError::Conflict(Conflict::OutOfStock)) => {
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
        let session = match self
            .inner
            .payments
            .create_checkout(self.checkout_request(&order, &user.email))
            .await
        {
            Ok(session) => session,
            Err(err) => {
                tracing::error!(error = %err, order = %order.id, "payment provider failed; releasing the order");
                if let Some(intent) = intent_id {
                    let _ = self.inner.store.fail_payment_intent(intent, &err.to_string(), None, now()).await;
                }
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
        if let Some(intent) = intent_id {
            self.inner
                .store
                .finish_payment_intent(intent, Some(&session.session_id), now())
                .await?;
        }
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

    /// What the provider needs to open the checkout of `order` (the same on every retry).
    fn checkout_request(&self, order: &Order, customer_email: &str) -> CheckoutRequest {
        let frontend = self.inner.config.frontend_url.trim_end_matches('/');
        let ttl = TimeDelta::from_std(self.inner.config.checkout_ttl).unwrap_or(TimeDelta::hours(1));
        CheckoutRequest {
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
            customer_email: customer_email.to_owned(),
            success_url: format!("{frontend}/orders/{}?payment=success", order.id),
            cancel_url: format!("{frontend}/orders/{}?payment=cancelled", order.id),
            idempotency_key: format!("checkout-{}", order.id),
            expires_at: Some((order.created_at + ttl).timestamp()),
        }
    }

    /// Opens (again, with the same idempotency key) the checkout of an order whose first
    /// attempt was cut short; nothing for an order no longer waiting for payment.
    pub(super) async fn reopen_checkout(&self, intent: &PaymentIntent) -> Result<std::result::Result<Option<String>, PaymentError>> {
        let Some(order) = self.inner.store.order_by_id(intent.order_id).await? else {
            return Ok(Ok(None));
        };
        if order.status != OrderStatus::PendingPayment || order.payment_session_id.is_some() {
            return Ok(Ok(order.payment_session_id));
        }
        let Some(buyer) = self.inner.store.user_by_id(order.user_id).await? else {
            return Ok(Ok(None));
        };
        Ok(
            match self
                .inner
                .payments
                .create_checkout(self.checkout_request(&order, &buyer.email))
                .await
            {
                Ok(session) => {
                    self.inner.store.attach_payment_session(order.id, &session.session_id).await?;
                    Ok(Some(session.session_id))
                }
                Err(err) => Err(err),
            },
        )
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
}
