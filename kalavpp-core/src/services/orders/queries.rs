//! Reading orders: the buyer's own, one order, all of them (admins), a vendor's view of its
//! lines, and the order of a checkout session.

use tracing::instrument;

use crate::auth::Actor;
use crate::domain::{Money, OrderId, Page, PageRequest, UserId};
use crate::domain::{Order, OrderFilter};
use crate::error::Result;

use crate::services::Vendors;

use super::{Orders, order_not_found};

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

impl Orders<'_> {
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

    /// All orders for admins.
    #[instrument(skip_all)]
    pub async fn list_all(&self, actor: &Actor, filter: OrderFilter, page: PageRequest) -> Result<Page<Order>> {
        actor.require_admin()?;
        Ok(self.inner.store.list_orders(&filter, page).await?)
    }

    /// Orders holding the actor's (approved vendor) lines, each with only those lines.
    #[instrument(skip_all)]
    pub async fn for_vendor(&self, actor: &Actor, mut filter: OrderFilter, page: PageRequest) -> Result<Page<Order>> {
        let vendor = Vendors::new(self.inner).require_approved(actor).await?;
        filter.vendor_id = Some(vendor.id());
        filter.user_id = None;
        let mut orders = self.inner.store.list_orders(&filter, page).await?;
        for order in &mut orders.items {
            vendor_view(order);
        }
        Ok(orders)
    }

    /// The order of a checkout session (for the development checkout page).
    #[instrument(skip_all)]
    pub async fn by_payment_session(&self, session_id: &str) -> Result<Option<Order>> {
        Ok(self.inner.store.order_by_payment_ref(Some(session_id), None).await?)
    }
}
