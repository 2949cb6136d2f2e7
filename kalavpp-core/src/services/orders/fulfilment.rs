//! Fulfilment: a vendor marks its paid physical lines shipped.

use tracing::instrument;

use crate::auth::Actor;
use crate::domain::OrderItem;
use crate::domain::{OrderId, OrderItemId, now};
use crate::error::{Error, Result, Violations};
use crate::storage::{Conflict, HasStatus};
use crate::storage::{Fulfilment, StoreError};

use crate::services::Vendors;

use super::Orders;

impl Orders<'_> {
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
        let vendor = Vendors::new(self.inner).require_approved(actor).await?;
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
}
