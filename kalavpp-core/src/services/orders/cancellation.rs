//! Closing unpaid orders: cancelled by their buyer or expired after the checkout lifetime, stock
//! released and the provider's sessions closed.

use chrono::TimeDelta;
use tracing::instrument;

use crate::auth::Actor;
use crate::domain::Order;
use crate::domain::{OrderId, now};
use crate::error::{Error, Result};
use crate::storage::StoreError;
use crate::storage::{Conflict, HasStatus};

use super::{Orders, order_not_found};

impl Orders<'_> {
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
    pub(super) async fn close_sessions_now(&self, order: Option<OrderId>) {
        if let Err(err) = self.reconcile(order).await {
            tracing::warn!(error = %err, "closing checkout sessions deferred to the reconciler");
        }
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
}
