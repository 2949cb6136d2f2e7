//! Vendor earnings: balances and ledger, and sales released once their refund window has passed.

use chrono::TimeDelta;
use tracing::instrument;

use crate::auth::Actor;
use crate::domain::{Balance, LedgerEntry};
use crate::domain::{Page, PageRequest, now};
use crate::error::{Error, Result};

use crate::services::Vendors;

use super::Orders;

/// A vendor's balances and ledger.
#[derive(Debug, Clone)]
pub struct Earnings {
    /// Sums per bucket.
    pub balance: Balance,
    /// Entries, newest first.
    pub entries: Page<LedgerEntry>,
}

impl Orders<'_> {
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
        let vendor = Vendors::new(self.inner).require_approved(actor).await?;
        let balance = self.inner.store.vendor_balance(vendor.id()).await?;
        let entries = self.inner.store.ledger_entries(vendor.id(), page).await?;
        Ok(Earnings { balance, entries })
    }
}
