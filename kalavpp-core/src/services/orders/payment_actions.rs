//! Payment actions recorded as intents and carried out with the provider (admin refunds,
//! automatic refunds, session expiries, reopened checkouts), retried with backoff by the
//! reconciler until the provider confirms.

use chrono::TimeDelta;
use serde_json::json;
use tracing::instrument;

use crate::auth::Actor;
use crate::domain::{IntentKind, Order, PaymentIntent};
use crate::domain::{OrderId, OrderStatus, now};
use crate::error::{Error, Result};
use crate::payments::PaymentError;
use crate::payments::RefundRequest;
use crate::storage::{Conflict, HasStatus};
use crate::storage::{NewPaymentIntent, Refund, StoreError};

use crate::services::catalog::event_audit;
use crate::services::emails;

use super::{Orders, order_not_found};

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

impl Orders<'_> {
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
    pub(super) async fn reconcile(&self, order: Option<OrderId>) -> Result<usize> {
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
}
