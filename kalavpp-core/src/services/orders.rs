//! Checkout, orders, payment events, fulfilment, refunds and vendor earnings.

use std::collections::HashMap;

use chrono::TimeDelta;
use serde_json::{Value, json};
use tracing::instrument;

use crate::auth::Actor;
use crate::domain::{Balance, CartLine, EventOutcome, IntentKind, LedgerEntry, Order, OrderFilter, OrderItem, PaymentIntent};
use crate::domain::{Money, OrderId, OrderItemId, OrderStatus, Page, PageRequest, ProductKind, UserId, VendorId, now};
use crate::error::{Error, Result, Violations};
use crate::marketplace::Inner;
use crate::payments::PaymentError;
use crate::payments::{CheckoutLine, CheckoutRequest, PaymentEvent, PaymentEventKind, RefundRequest, WebhookError};
use crate::storage::{Conflict, HasStatus};
use crate::storage::{Fulfilment, LatePayment, NewOrder, NewOrderItem, NewPaymentIntent, PaymentEventRecord, Refund, StoreError};

use super::catalog::event_audit;
use super::emails;

/// What one attempt at a payment intent came to.
enum Carried {
    /// The provider confirmed and the result is applied.
    Done,
    /// The provider refused for good; nothing was applied.
    Refused(String),
    /// The provider failed or did not answer; the intent is due again later.
    Retrying(String),
}

/// Backoff of a failed payment action: `base` doubled per attempt, at most one hour.
fn retry_delay(base: std::time::Duration, attempts: i32) -> TimeDelta {
    let factor = 2u32.saturating_pow(u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0));
    let delay = base.saturating_mul(factor).min(std::time::Duration::from_hours(1));
    TimeDelta::from_std(delay).unwrap_or(TimeDelta::hours(1))
}

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

/// What a vendor may see of an order holding its lines (the store already kept only those
/// lines): totals of its own lines only, no payment references, and the buyer's shipping address
/// only once the order is paid (an unpaid reservation is nobody's sale yet).
fn vendor_view(order: &mut Order) {
    order.subtotal = Money(order.items.iter().map(|i| i.line_total.cents()).sum());
    order.total = order.subtotal;
    order.commission = Money(order.items.iter().map(|i| i.commission.cents()).sum());
    order.payment_session_id = None;
    order.payment_intent_id = None;
    order.refund_id = None;
    if !order.status.is_sale() {
        order.shipping_address = None;
    }
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

    /// How long an attempt at a payment action holds its intent before the reconciler may
    /// retry it (longer than any provider call takes).
    fn lease(&self) -> TimeDelta {
        TimeDelta::from_std(self.inner.config.payment_lease).unwrap_or(TimeDelta::minutes(2))
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
    async fn reopen_checkout(&self, intent: &PaymentIntent) -> Result<std::result::Result<Option<String>, PaymentError>> {
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
        let admin = actor.require_admin().is_ok();
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
            StoreError::Conflict(Conflict::StaleStatus(HasStatus::Order)) => {
                Error::conflict("order_not_cancellable", "only orders waiting for payment can be cancelled")
            }
            other => other.into(),
        })?;
        self.inner.cache.invalidate();
        self.close_sessions_now(Some(id)).await;
        Ok(order)
    }

    /// Expires the provider sessions of orders just closed, at once (best effort: the
    /// reconciler repeats whatever fails here).
    async fn close_sessions_now(&self, order: Option<OrderId>) {
        if let Err(err) = self.reconcile(order).await {
            tracing::warn!(error = %err, "closing checkout sessions deferred to the reconciler");
        }
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
        let vendor = super::Vendors::new(self.inner).require_approved(actor).await?;
        filter.vendor_id = Some(vendor.id());
        filter.user_id = None;
        let mut orders = self.inner.store.list_orders(&filter, page).await?;
        for order in &mut orders.items {
            vendor_view(order);
        }
        Ok(orders)
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
        let vendor = super::Vendors::new(self.inner).require_approved(actor).await?;
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
            vendor_id: vendor.id(),
            order_id,
            item_id,
            tracking_number,
            carrier,
            release_now: self.inner.config.refund_window.is_zero(),
            at: now(),
        };
        self.inner.store.fulfil_item(fulfilment).await.map_err(|e| match e {
            StoreError::NotFound => Error::not_found("order_item_not_found", "order line not found"),
            StoreError::Conflict(Conflict::StaleStatus(HasStatus::OrderItem)) => Error::conflict(
                "not_fulfillable",
                "only unshipped physical lines of paid orders can be marked shipped",
            ),
            other => other.into(),
        })
    }

    /// Refunds a paid order in full through the provider (admin): ledger reversed, stock
    /// restored, audit row and email. A second refund is `409`.
    ///
    /// The refund is first recorded as a payment intent (so a crash or a timeout between the
    /// provider and the database is repaired by the reconciler, never left split), then carried
    /// out at once; the ledger moves only when the provider has confirmed.
    #[instrument(skip_all)]
    pub async fn refund(&self, actor: &Actor, id: OrderId) -> Result<Order> {
        let admin = actor.require_admin()?;
        let order = self.inner.store.order_by_id(id).await?.ok_or_else(order_not_found)?;
        let not_refundable = |status: OrderStatus| Error::conflict("not_refundable", format!("a {status} order cannot be refunded"));
        if !order.status.is_refundable() {
            return Err(not_refundable(order.status));
        }
        let at = now();
        let intent = NewPaymentIntent {
            id: uuid::Uuid::now_v7(),
            order_id: id,
            kind: IntentKind::Refund,
            idempotency_key: format!("refund-{id}"),
            session_id: order.payment_session_id.clone(),
            payment_intent_id: order.payment_intent_id.clone(),
            amount_cents: order.total.cents(),
            actor_id: admin.user_id(),
            next_attempt_at: at + self.lease(),
            at,
        };
        let intent = self.inner.store.request_refund(intent).await.map_err(|e| match e {
            StoreError::Conflict(Conflict::RefundPending) => {
                Error::conflict("not_refundable", "a refund of this order is already under way")
            }
            StoreError::Conflict(Conflict::StaleStatus(HasStatus::Order)) => {
                Error::conflict("not_refundable", "the order was refunded meanwhile")
            }
            StoreError::NotFound => order_not_found(),
            other => other.into(),
        })?;
        match self.carry_out(intent).await? {
            Carried::Done => {
                let refunded = self.inner.store.order_by_id(id).await?.ok_or_else(order_not_found)?;
                if refunded.status == OrderStatus::Refunded {
                    Ok(refunded)
                } else {
                    Err(not_refundable(refunded.status))
                }
            }
            Carried::Refused(reason) => Err(Error::Upstream {
                code: "refund_failed",
                message: format!("the payment provider did not refund: {reason}"),
            }),
            Carried::Retrying(reason) => Err(Error::Upstream {
                code: "refund_pending",
                message: format!("the payment provider did not answer ({reason}); the refund is retried automatically"),
            }),
        }
    }

    /// Carries out due payment intents (refunds, automatic refunds, session expiries) whose
    /// earlier attempt failed or was cut short, retrying each with its idempotency key until the
    /// provider confirms. Returns how many completed. Run it periodically (the server does).
    #[instrument(skip_all)]
    pub async fn reconcile_payments(&self) -> Result<usize> {
        self.reconcile(None).await
    }

    /// One round over due intents (only `order`'s when given: requests carry out their own
    /// order's actions at once and leave the rest to the background reconciler).
    async fn reconcile(&self, order: Option<OrderId>) -> Result<usize> {
        let at = now();
        let claimed = self.inner.store.claim_payment_intents(at, at + self.lease(), 20, order).await?;
        let mut done = 0;
        for intent in claimed {
            let id = intent.id;
            match self.carry_out(intent).await {
                Ok(Carried::Done) => done += 1,
                Ok(Carried::Refused(reason)) => tracing::error!(intent = %id, %reason, "payment action refused for good; see the order"),
                Ok(Carried::Retrying(reason)) => tracing::warn!(intent = %id, %reason, "payment action failed; will retry"),
                Err(err) => tracing::error!(intent = %id, error = %err, "payment action could not be recorded; will retry"),
            }
        }
        Ok(done)
    }

    /// Every recorded payment action of an order (admins): refunds, automatic refunds of
    /// payments the order could not take, and checkout-session expiries, oldest first.
    #[instrument(skip_all)]
    pub async fn payment_actions(&self, actor: &Actor, id: OrderId) -> Result<Vec<PaymentIntent>> {
        actor.require_admin()?;
        Ok(self.inner.store.payment_intents_for_order(id).await?)
    }

    /// One provider call for a claimed (or just recorded) intent, and its result applied.
    async fn carry_out(&self, intent: PaymentIntent) -> Result<Carried> {
        let payments = &self.inner.payments;
        let outcome = match intent.kind {
            IntentKind::CreateSession => self.reopen_checkout(&intent).await?,
            IntentKind::ExpireSession => {
                let session = intent.session_id.as_deref().unwrap_or_default();
                match payments.expire_checkout(session, &intent.idempotency_key).await {
                    Ok(()) => Ok(None),
                    // Already expired or completed: nothing left to close (a payment that did
                    // complete arrives as an event and is given back).
                    Err(PaymentError::Refused(reason)) => Ok(Some(format!("not open: {reason}"))),
                    Err(err) => Err(err),
                }
            }
            IntentKind::Refund | IntentKind::AutoRefund => payments
                .refund(RefundRequest {
                    order_id: intent.order_id,
                    payment_intent_id: intent.payment_intent_id.clone(),
                    session_id: intent.session_id.clone(),
                    amount_cents: intent.amount_cents,
                    idempotency_key: intent.idempotency_key.clone(),
                })
                .await
                .map(Some),
        };
        let at = now();
        match outcome {
            Ok(result) if intent.kind == IntentKind::Refund => {
                let refund_id = result.unwrap_or_default();
                self.apply_refund(&intent, &refund_id).await?;
                Ok(Carried::Done)
            }
            Ok(result) => {
                self.inner.store.finish_payment_intent(intent.id, result.as_deref(), at).await?;
                Ok(Carried::Done)
            }
            Err(PaymentError::Refused(reason)) => {
                tracing::error!(order = %intent.order_id, kind = intent.kind.as_str(), %reason, "the payment provider refused");
                self.inner.store.fail_payment_intent(intent.id, &reason, None, at).await?;
                Ok(Carried::Refused(reason))
            }
            Err(PaymentError::Provider(reason)) => {
                let retry_at = at + retry_delay(self.inner.config.payment_retry_base, intent.attempts);
                self.inner.store.fail_payment_intent(intent.id, &reason, Some(retry_at), at).await?;
                Ok(Carried::Retrying(reason))
            }
        }
    }

    /// Applies a refund the provider confirmed: ledger reversed, stock restored, audit row and
    /// email, intent done — one transaction. An order refunded meanwhile (e.g. from the
    /// provider's dashboard) only closes the intent.
    async fn apply_refund(&self, intent: &PaymentIntent, refund_id: &str) -> Result<()> {
        let order = self.inner.store.order_by_id(intent.order_id).await?.ok_or_else(order_not_found)?;
        let buyer = self.inner.store.user_by_id(order.user_id).await?;
        let refund = Refund {
            order_id: order.id,
            refund_id: refund_id.to_owned(),
            intent_id: Some(intent.id),
            audit: event_audit(
                intent.actor_id,
                "order.refund",
                "order",
                order.id.to_string(),
                json!({ "refund_id": refund_id, "amount_cents": intent.amount_cents }),
            ),
            email: buyer.map(|b| emails::refund_issued(&b.email, &order)),
            at: now(),
        };
        match self.inner.store.refund_order(refund).await {
            Ok(_) => {
                self.inner.cache.invalidate();
                Ok(())
            }
            Err(StoreError::Conflict(Conflict::StaleStatus(HasStatus::Order))) => {
                self.inner.store.finish_payment_intent(intent.id, Some(refund_id), now()).await?;
                Ok(())
            }
            Err(other) => Err(other.into()),
        }
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
        match event.kind {
            PaymentEventKind::Refunded | PaymentEventKind::DisputeLost => return self.external_refund(&order, &event).await,
            PaymentEventKind::DisputeOpened | PaymentEventKind::DisputeWon => {
                if !self.concerns_the_sale(&order, &event) {
                    return Ok(EventOutcome::Ignored);
                }
                let hold = event.kind == PaymentEventKind::DisputeOpened;
                let moved = self.inner.store.hold_for_dispute(order.id, hold, now()).await?;
                tracing::warn!(order = %order.id, hold, lines = moved, "payment dispute");
                if !hold {
                    // Back in pending: what has matured meanwhile is available again at once.
                    self.release_matured_sales().await?;
                }
                return Ok(if moved > 0 { EventOutcome::Applied } else { EventOutcome::Ignored });
            }
            PaymentEventKind::Succeeded | PaymentEventKind::Failed | PaymentEventKind::Expired => {}
        }
        let buyer = match event.kind {
            PaymentEventKind::Succeeded => self.inner.store.user_by_id(order.user_id).await?,
            _ => None,
        };
        let mut late_payment = None;
        if event.kind == PaymentEventKind::Succeeded {
            let amount_wrong = event.amount_cents.is_some_and(|a| a != order.total.cents());
            let currency_wrong = event.currency.as_deref().is_some_and(|c| !c.eq_ignore_ascii_case(&order.currency));
            if amount_wrong || currency_wrong {
                tracing::error!(order = %order.id, amount = ?event.amount_cents, currency = ?event.currency, "paid amount does not match the order; giving it back");
            }
            late_payment = Some(self.late_payment(
                &event,
                &order,
                buyer.as_ref().map(|b| b.email.as_str()),
                amount_wrong || currency_wrong,
            ));
        }
        let confirmation = buyer.map(|buyer| emails::order_confirmation(&buyer.email, &order, &self.inner.config.frontend_url));
        let record = PaymentEventRecord {
            event_id: event.event_id,
            kind: event.kind,
            order_id: order.id,
            payment_intent_id: event.payment_intent_id,
            confirmation,
            late_payment,
            digital_credit_pending: !self.inner.config.refund_window.is_zero(),
            at: now(),
        };
        let outcome = self.inner.store.apply_payment_event(record).await?;
        match outcome {
            EventOutcome::Applied => self.inner.cache.invalidate(),
            EventOutcome::AutoRefund => {
                tracing::warn!(order = %order.id, "a payment the order could not take is being refunded");
                // Best effort now; the reconciler repeats it until the provider confirms.
                if let Err(err) = self.reconcile(Some(order.id)).await {
                    tracing::warn!(error = %err, "automatic refund deferred to the reconciler");
                }
            }
            EventOutcome::Duplicate | EventOutcome::Ignored => {}
        }
        Ok(outcome)
    }

    /// A refund that happened at the provider without us (from its dashboard, or a lost
    /// dispute): the ledger is reversed as for an admin refund (audit actor: system). An order
    /// already refunded (e.g. by our own refund, whose event this is) changes nothing.
    async fn external_refund(&self, order: &Order, event: &PaymentEvent) -> Result<EventOutcome> {
        if order.status.takes_payment() {
            // Seen before the payment's own event: remembered, so that event pays nothing.
            let record = PaymentEventRecord {
                event_id: event.event_id.clone(),
                kind: event.kind,
                order_id: order.id,
                payment_intent_id: event.payment_intent_id.clone(),
                confirmation: None,
                late_payment: None,
                digital_credit_pending: false,
                at: now(),
            };
            return Ok(self.inner.store.apply_payment_event(record).await?);
        }
        if !order.status.is_refundable() || !self.concerns_the_sale(order, event) {
            return Ok(EventOutcome::Ignored);
        }
        let reason = if event.kind == PaymentEventKind::DisputeLost {
            "dispute lost"
        } else {
            "refunded at the payment provider"
        };
        let buyer = self.inner.store.user_by_id(order.user_id).await?;
        let refund = Refund {
            order_id: order.id,
            refund_id: format!("external-{}", event.event_id),
            intent_id: None,
            audit: event_audit(
                None,
                "order.refund",
                "order",
                order.id.to_string(),
                json!({ "source": "provider", "reason": reason, "event_id": event.event_id, "amount_cents": event.amount_cents }),
            ),
            email: buyer.map(|b| emails::refund_issued(&b.email, order)),
            at: now(),
        };
        match self.inner.store.refund_order(refund).await {
            Ok(_) => {
                self.inner.cache.invalidate();
                Ok(EventOutcome::Applied)
            }
            Err(StoreError::Conflict(Conflict::StaleStatus(HasStatus::Order))) => Ok(EventOutcome::Ignored),
            Err(other) => Err(other.into()),
        }
    }

    /// Whether a refund or dispute event is about the payment that paid `order` (not, say, a
    /// second payment that was given back automatically).
    fn concerns_the_sale(&self, order: &Order, event: &PaymentEvent) -> bool {
        let same = match (&order.payment_intent_id, &event.payment_intent_id) {
            (Some(paid), Some(named)) => paid == named,
            _ => true,
        };
        if !same {
            tracing::warn!(order = %order.id, payment = ?event.payment_intent_id, "refund or dispute of another payment than the order's; the sale stands");
        }
        same
    }

    /// The automatic refund to record if the order, read inside the event's transaction, cannot
    /// take this payment (`always` when the amount or currency was wrong).
    fn late_payment(&self, event: &PaymentEvent, order: &Order, buyer_email: Option<&str>, always: bool) -> LatePayment {
        let at = now();
        let amount = event.amount_cents.unwrap_or(order.total.cents()).max(0);
        let payment = event.payment_intent_id.clone();
        let key = match &payment {
            Some(payment) => format!("auto-refund-{payment}"),
            None => format!("auto-refund-{}", event.event_id),
        };
        let reason = if always {
            "the amount paid did not match the order".to_owned()
        } else {
            match order.status {
                OrderStatus::Cancelled => "the order had been cancelled".to_owned(),
                OrderStatus::Expired => "the order's reservation had expired".to_owned(),
                OrderStatus::Refunded => "the order had been refunded".to_owned(),
                _ => "the order was already paid".to_owned(),
            }
        };
        LatePayment {
            intent: NewPaymentIntent {
                id: uuid::Uuid::now_v7(),
                order_id: order.id,
                kind: IntentKind::AutoRefund,
                idempotency_key: key,
                session_id: event.session_id.clone(),
                payment_intent_id: payment.clone(),
                amount_cents: amount,
                actor_id: None,
                next_attempt_at: at,
                at,
            },
            audit: event_audit(
                None,
                "order.auto_refund",
                "order",
                order.id.to_string(),
                json!({ "payment_intent_id": payment, "amount_cents": amount, "event_id": event.event_id, "reason": reason }),
            ),
            email: buyer_email.map(|to| emails::payment_returned(to, order, Money(amount), &reason)),
            always,
        }
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
            // The background sweeper calls this: closing every due session here is fine.
            self.close_sessions_now(None).await;
        }
        Ok(expired.len())
    }

    /// Makes sales whose refund window has passed available to their vendors (digital lines
    /// `REFUND_WINDOW_DAYS` after payment, physical lines that long after shipping). Idempotent;
    /// run it periodically (the server does, every minute). Returns the lines released.
    #[instrument(skip_all)]
    pub async fn release_matured_sales(&self) -> Result<u64> {
        let at = now();
        let window = TimeDelta::from_std(self.inner.config.refund_window).unwrap_or(TimeDelta::days(14));
        let released = self.inner.store.release_matured_credits(at - window, at - window, at).await?;
        if released > 0 {
            tracing::info!(lines = released, "sales past their refund window are now available");
        }
        Ok(released)
    }

    /// Makes every pending sale available at once, ignoring the refund window: for demo shops
    /// and operator tools, so only [`Actor::System`] may call it. Returns the lines released.
    #[instrument(skip_all)]
    pub async fn release_all_sales_now(&self, actor: &Actor) -> Result<u64> {
        if !matches!(actor, Actor::System) {
            return Err(Error::forbidden("operator_only", "only the operator may release sales early"));
        }
        let at = now();
        let released = self.inner.store.release_matured_credits(at, at, at).await?;
        Ok(released)
    }

    /// The actor's (approved vendor) balances and ledger entries.
    #[instrument(skip_all)]
    pub async fn earnings(&self, actor: &Actor, page: PageRequest) -> Result<Earnings> {
        let vendor = super::Vendors::new(self.inner).require_approved(actor).await?;
        let balance = self.inner.store.vendor_balance(vendor.id()).await?;
        let entries = self.inner.store.ledger_entries(vendor.id(), page).await?;
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
