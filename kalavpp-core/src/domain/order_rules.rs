//! Pure rules of an order's life that the services and both backends share.

use super::OrderStatus;
use super::order_flow::OrderEvent;

impl OrderStatus {
    /// Whether a payment for the order may still be taken in this status (stock is reserved).
    pub fn takes_payment(self) -> bool {
        self.after(OrderEvent::PaymentSucceeded).is_some()
    }

    /// Whether an admin (or the provider's dashboard) may refund the order.
    pub fn is_refundable(self) -> bool {
        self.after(OrderEvent::Refunded).is_some()
    }
}

/// Whether a successful payment `incoming` (the provider's payment id, when known) must be given
/// back because the order cannot take it: the order was cancelled or expired, or it was paid (and
/// maybe refunded since) with another payment (`paid_with`). The same payment seen again (a second
/// event of one payment, or a late event of a payment already refunded) is not refunded twice.
pub fn refuses_payment(status: OrderStatus, paid_with: Option<&str>, incoming: Option<&str>) -> bool {
    match status {
        OrderStatus::PendingPayment | OrderStatus::PaymentFailed => false,
        OrderStatus::Cancelled | OrderStatus::Expired => true,
        // The payment that was refunded, seen again, is not new money.
        OrderStatus::Paid | OrderStatus::Completed | OrderStatus::Refunded => match (paid_with, incoming) {
            (Some(paid), Some(incoming)) => paid != incoming,
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn late_and_second_payments_are_refused_the_same_payment_is_not() {
        for closed in [OrderStatus::Cancelled, OrderStatus::Expired] {
            assert!(refuses_payment(closed, None, Some("pi_1")));
            assert!(refuses_payment(closed, Some("pi_1"), Some("pi_1")));
        }
        assert!(
            !refuses_payment(OrderStatus::Refunded, Some("pi_1"), Some("pi_1")),
            "already given back"
        );
        assert!(refuses_payment(OrderStatus::Refunded, Some("pi_1"), Some("pi_2")));
        for open in [OrderStatus::PendingPayment, OrderStatus::PaymentFailed] {
            assert!(!refuses_payment(open, None, Some("pi_1")));
        }
        assert!(refuses_payment(OrderStatus::Paid, Some("pi_1"), Some("pi_2")));
        assert!(refuses_payment(OrderStatus::Completed, Some("pi_1"), Some("pi_2")));
        assert!(!refuses_payment(OrderStatus::Paid, Some("pi_1"), Some("pi_1")));
        assert!(!refuses_payment(OrderStatus::Paid, None, Some("pi_1")));
        assert!(OrderStatus::Paid.is_refundable() && OrderStatus::Completed.is_refundable());
        assert!(!OrderStatus::Refunded.is_refundable() && !OrderStatus::PendingPayment.is_refundable());
    }
}
