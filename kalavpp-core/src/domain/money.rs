use serde::{Deserialize, Serialize};

/// An amount of money in integer minor units (cents) of the installation currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Money(pub i64);

impl Money {
    /// Zero cents.
    pub const ZERO: Money = Money(0);

    /// The amount in cents.
    pub fn cents(self) -> i64 {
        self.0
    }

    /// Checked addition; `None` on overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// `basis_points` of this amount (1 bp = 0.01 %), rounded half up to the cent, so that the
    /// share and the remainder always add back up to the whole.
    #[must_use]
    pub fn share_bps(self, basis_points: u32) -> Money {
        let product = i128::from(self.0) * i128::from(basis_points);
        let rounded = (product + 5_000).div_euclid(10_000);
        Money(i64::try_from(rounded).unwrap_or(i64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::Money;

    #[test]
    fn share_and_remainder_add_up() {
        for cents in [0, 1, 5, 99, 12_345, 999_999_999] {
            for bps in [0, 1, 999, 1_000, 1_250, 10_000] {
                let share = Money(cents).share_bps(bps);
                assert!(share.0 >= 0 && share.0 <= cents);
                assert_eq!(share.0 + (cents - share.0), cents);
            }
        }
        assert_eq!(Money(1_005).share_bps(1_000), Money(101));
        assert_eq!(Money(1_004).share_bps(1_000), Money(100));
    }
}
