//! Payment events from the provider (webhooks, the development checkout page): payments,
//! failures, expiries, refunds and disputes applied to their order at most once each.

use serde_json::json;
use tracing::instrument;

use crate::domain::{EventOutcome, IntentKind, Order};
use crate::domain::{Money, OrderStatus, now};
use crate::error::{Error, Result};
use crate::payments::{PaymentEvent, PaymentEventKind, WebhookError};
use crate::storage::{Conflict, HasStatus};
use crate::storage::{LatePayment, NewPaymentIntent, PaymentEventRecord, Refund, StoreError};

use crate::services::catalog::event_audit;
use crate::services::emails;

use super::Orders;

impl Orders<'_> {
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
}
