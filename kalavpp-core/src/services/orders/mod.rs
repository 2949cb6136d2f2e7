//! Checkout, orders, payment events, fulfilment, refunds and vendor earnings.
//!
//! [`Orders`] is one service; its methods are grouped by area in the submodules.

mod cancellation;
mod checkout;
mod earnings;
mod fulfilment;
mod payment_actions;
mod payment_events;
mod queries;

pub use checkout::CheckoutOutcome;
pub use earnings::Earnings;

use chrono::TimeDelta;

use crate::domain::Money;
use crate::error::Error;
use crate::marketplace::Inner;

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

impl<'a> Orders<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }

    /// How long an attempt at a payment action holds its intent before the reconciler may
    /// retry it (longer than any provider call takes).
    pub(super) fn lease(&self) -> TimeDelta {
        TimeDelta::from_std(self.inner.config.payment_lease).unwrap_or(TimeDelta::minutes(2))
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
