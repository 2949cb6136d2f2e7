//! The order status machine: which event moves an order from which status to which, as pure
//! functions the services decide with and the backends guard their updates with.

use super::{FulfilmentStatus, OrderStatus, ProductKind};

/// Something that happens to an order and may change its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderEvent {
    /// The provider reports a successful payment.
    PaymentSucceeded,
    /// The provider reports a failed payment attempt (the buyer may retry).
    PaymentFailed,
    /// The provider's checkout session expired, or the reservation timed out.
    Expired,
    /// The buyer cancelled the unpaid order.
    Cancelled,
    /// Every line was delivered (digital on payment, physical once shipped).
    AllDelivered,
    /// The payment was given back (an admin refund or the provider's dashboard).
    Refunded,
}

impl OrderEvent {
    /// Every event, for exhaustive tests.
    pub const ALL: [OrderEvent; 6] = [
        Self::PaymentSucceeded,
        Self::PaymentFailed,
        Self::Expired,
        Self::Cancelled,
        Self::AllDelivered,
        Self::Refunded,
    ];

    /// The statuses this event applies in (the guard of the backends' conditional update), in a
    /// fixed order.
    pub fn allowed_from(self) -> &'static [OrderStatus] {
        match self {
            Self::PaymentSucceeded | Self::Expired => &[OrderStatus::PendingPayment, OrderStatus::PaymentFailed],
            Self::PaymentFailed | Self::Cancelled => &[OrderStatus::PendingPayment],
            Self::AllDelivered => &[OrderStatus::Paid],
            Self::Refunded => &[OrderStatus::Paid, OrderStatus::Completed],
        }
    }

    /// The status the event leads to from any status it is allowed from.
    pub fn target(self) -> OrderStatus {
        match self {
            Self::PaymentSucceeded => OrderStatus::Paid,
            Self::PaymentFailed => OrderStatus::PaymentFailed,
            Self::Expired => OrderStatus::Expired,
            Self::Cancelled => OrderStatus::Cancelled,
            Self::AllDelivered => OrderStatus::Completed,
            Self::Refunded => OrderStatus::Refunded,
        }
    }
}

impl OrderStatus {
    /// The status after `event`, or `None` when the event does not apply in this status.
    pub fn after(self, event: OrderEvent) -> Option<OrderStatus> {
        event.allowed_from().contains(&self).then(|| event.target())
    }

    /// Whether the order's payment stands (paid or completed): downloads open, the vendor sees
    /// the shipping address, and the sale may be refunded.
    pub fn is_sale(self) -> bool {
        self.after(OrderEvent::Refunded).is_some()
    }
}

/// Whether a line may be marked shipped: a physical line, not yet fulfilled, of a paid (not yet
/// completed, refunded or closed) order.
pub fn can_ship(order: OrderStatus, kind: ProductKind, fulfilment: FulfilmentStatus) -> bool {
    order == OrderStatus::Paid && kind == ProductKind::Physical && fulfilment == FulfilmentStatus::Unfulfilled
}

/// The fulfilment of a line once its order is paid: a digital line is delivered with the
/// payment (its download opens), a physical one waits to be shipped.
pub fn fulfilment_on_payment(kind: ProductKind) -> FulfilmentStatus {
    match kind {
        ProductKind::Digital => FulfilmentStatus::Delivered,
        ProductKind::Physical => FulfilmentStatus::Unfulfilled,
    }
}

/// Whether an order whose lines are in `fulfilments` has every line delivered or shipped, so
/// [`OrderEvent::AllDelivered`] applies to it.
pub fn all_delivered(fulfilments: impl IntoIterator<Item = FulfilmentStatus>) -> bool {
    fulfilments
        .into_iter()
        .all(|fulfilment| fulfilment != FulfilmentStatus::Unfulfilled)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUSES: [OrderStatus; 7] = [
        OrderStatus::PendingPayment,
        OrderStatus::PaymentFailed,
        OrderStatus::Paid,
        OrderStatus::Completed,
        OrderStatus::Refunded,
        OrderStatus::Cancelled,
        OrderStatus::Expired,
    ];

    #[test]
    fn every_transition_allowed_and_refused() {
        use OrderEvent as E;
        use OrderStatus as S;
        let allowed = [
            (S::PendingPayment, E::PaymentSucceeded, S::Paid),
            (S::PaymentFailed, E::PaymentSucceeded, S::Paid),
            (S::PendingPayment, E::PaymentFailed, S::PaymentFailed),
            (S::PendingPayment, E::Expired, S::Expired),
            (S::PaymentFailed, E::Expired, S::Expired),
            (S::PendingPayment, E::Cancelled, S::Cancelled),
            (S::Paid, E::AllDelivered, S::Completed),
            (S::Paid, E::Refunded, S::Refunded),
            (S::Completed, E::Refunded, S::Refunded),
        ];
        for status in STATUSES {
            for event in E::ALL {
                let expected = allowed
                    .iter()
                    .find(|(from, e, _)| *from == status && *e == event)
                    .map(|(_, _, to)| *to);
                assert_eq!(status.after(event), expected, "{status:?} after {event:?}");
            }
        }
    }

    #[test]
    fn closed_statuses_accept_nothing_and_the_shared_predicates_agree() {
        for closed in [OrderStatus::Refunded, OrderStatus::Cancelled, OrderStatus::Expired] {
            assert!(OrderEvent::ALL.iter().all(|e| closed.after(*e).is_none()));
        }
        for status in STATUSES {
            assert_eq!(status.is_refundable(), status.is_sale());
            assert_eq!(status.takes_payment(), status.after(OrderEvent::PaymentSucceeded).is_some());
        }
    }

    #[test]
    fn digital_lines_deliver_on_payment_and_an_order_completes_when_nothing_waits() {
        assert_eq!(fulfilment_on_payment(ProductKind::Digital), FulfilmentStatus::Delivered);
        assert_eq!(fulfilment_on_payment(ProductKind::Physical), FulfilmentStatus::Unfulfilled);
        assert!(all_delivered([FulfilmentStatus::Delivered, FulfilmentStatus::Shipped]));
        assert!(!all_delivered([FulfilmentStatus::Delivered, FulfilmentStatus::Unfulfilled]));
        // An all-digital order completes on payment; one with a physical line waits for shipping.
        let paid = |kinds: &[ProductKind]| all_delivered(kinds.iter().map(|kind| fulfilment_on_payment(*kind)));
        assert!(paid(&[ProductKind::Digital, ProductKind::Digital]));
        assert!(!paid(&[ProductKind::Digital, ProductKind::Physical]));
    }

    #[test]
    fn only_unfulfilled_physical_lines_of_paid_orders_ship() {
        assert!(can_ship(OrderStatus::Paid, ProductKind::Physical, FulfilmentStatus::Unfulfilled));
        assert!(!can_ship(
            OrderStatus::Completed,
            ProductKind::Physical,
            FulfilmentStatus::Unfulfilled
        ));
        assert!(!can_ship(OrderStatus::Paid, ProductKind::Digital, FulfilmentStatus::Unfulfilled));
        assert!(!can_ship(OrderStatus::Paid, ProductKind::Physical, FulfilmentStatus::Shipped));
    }
}
