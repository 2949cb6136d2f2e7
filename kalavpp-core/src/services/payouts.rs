//! Vendor payout requests and the admin decisions on them.
//!
//! A request holds its amount out of the available balance at once (in the store's transaction),
//! an approval only changes the status, a rejection returns the held amount to available, and
//! marking it paid moves the held amount to paid out. Every step queues an email to the vendor;
//! every admin step writes an audit row.

use serde_json::json;
use tracing::instrument;

use crate::auth::{Actor, AdminCap};
use crate::domain::{Money, Page, PageRequest, PayoutId, PayoutStatus, VendorId, now};
use crate::domain::{Payout, PayoutAction, PayoutFilter, Vendor};
use crate::error::{Error, Result};
use crate::marketplace::Inner;
use crate::storage::{Conflict, HasStatus};
use crate::storage::{NewAudit, NewEmail, NewPayout, PayoutDecision, StoreError};

use super::emails;

/// The largest payout one request may ask for (in cents): far above any real balance, small enough
/// that sums never overflow.
pub const MAX_PAYOUT_CENTS: i64 = 100_000_000_000;

/// Payout services; get one from [`crate::Marketplace::payouts`].
pub struct Payouts<'a> {
    inner: &'a Inner,
}

fn payout_not_found() -> Error {
    Error::not_found("payout_not_found", "payout not found")
}

fn required_text(field: &str, text: &str, max: usize) -> Result<String> {
    let text = text.trim();
    if text.is_empty() {
        Err(Error::invalid(field, "is required"))
    } else if text.chars().count() > max {
        Err(Error::invalid(field, format!("must be at most {max} characters")))
    } else {
        Ok(text.to_owned())
    }
}

impl<'a> Payouts<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }

    /// The actor (an approved vendor) asks to be paid `amount_cents` out of its available balance.
    /// `422` for an amount ≤ 0 or absurdly large, `409` when it exceeds the available balance.
    #[instrument(skip_all, fields(amount_cents))]
    pub async fn request(&self, actor: &Actor, amount_cents: i64) -> Result<Payout> {
        let cap = super::Vendors::new(self.inner).require_approved(actor).await?;
        let vendor = cap.vendor();
        if amount_cents <= 0 {
            return Err(Error::invalid("amount_cents", "must be > 0"));
        }
        if amount_cents > MAX_PAYOUT_CENTS {
            return Err(Error::invalid("amount_cents", format!("must be at most {MAX_PAYOUT_CENTS}")));
        }
        let amount = Money(amount_cents);
        let currency = self.inner.config.currency.clone();
        let email = self
            .vendor_email(vendor)
            .await?
            .map(|to| emails::payout_requested(&to, &vendor.shop_name, amount, &currency));
        let payout = NewPayout {
            id: PayoutId::new(),
            vendor_id: cap.id(),
            amount,
            currency,
            email,
            at: now(),
        };
        self.inner.store.request_payout(payout).await.map_err(|e| match e {
            StoreError::Conflict(Conflict::InsufficientBalance) => {
                Error::conflict("insufficient_balance", "the amount exceeds your available balance")
            }
            other => other.into(),
        })
    }

    /// The actor's (approved vendor) payout requests, newest first.
    #[instrument(skip_all)]
    pub async fn mine(&self, actor: &Actor, status: Option<PayoutStatus>, page: PageRequest) -> Result<Page<Payout>> {
        let vendor = super::Vendors::new(self.inner).require_approved(actor).await?;
        let filter = PayoutFilter {
            vendor_id: Some(vendor.id()),
            status,
        };
        Ok(self.inner.store.list_payouts(&filter, page).await?)
    }

    /// Every payout request (admin), newest first.
    #[instrument(skip_all)]
    pub async fn list(
        &self,
        actor: &Actor,
        status: Option<PayoutStatus>,
        vendor_id: Option<VendorId>,
        page: PageRequest,
    ) -> Result<Page<Payout>> {
        actor.require_admin()?;
        let filter = PayoutFilter { vendor_id, status };
        Ok(self.inner.store.list_payouts(&filter, page).await?)
    }

    /// One payout request (admin).
    #[instrument(skip_all)]
    pub async fn get(&self, actor: &Actor, id: PayoutId) -> Result<Payout> {
        actor.require_admin()?;
        self.inner.store.payout_by_id(id).await?.ok_or_else(payout_not_found)
    }

    /// Approves a `requested` payout (admin).
    #[instrument(skip_all)]
    pub async fn approve(&self, actor: &Actor, id: PayoutId) -> Result<Payout> {
        let admin = actor.require_admin()?;
        self.decide(&admin, id, PayoutAction::Approve).await
    }

    /// Rejects a `requested` or `approved` payout (admin) with a reason shown to the vendor; the
    /// held amount is available again.
    #[instrument(skip_all)]
    pub async fn reject(&self, actor: &Actor, id: PayoutId, reason: &str) -> Result<Payout> {
        let admin = actor.require_admin()?;
        let reason = required_text("reason", reason, 1000)?;
        self.decide(&admin, id, PayoutAction::Reject { reason }).await
    }

    /// Marks an `approved` payout paid (admin) with the transfer reference; a second time is `409`.
    #[instrument(skip_all)]
    pub async fn mark_paid(&self, actor: &Actor, id: PayoutId, reference: &str) -> Result<Payout> {
        let admin = actor.require_admin()?;
        let reference = required_text("reference", reference, 200)?;
        self.decide(&admin, id, PayoutAction::MarkPaid { reference }).await
    }

    async fn decide(&self, admin: &AdminCap, id: PayoutId, action: PayoutAction) -> Result<Payout> {
        let current = self.inner.store.payout_by_id(id).await?.ok_or_else(payout_not_found)?;
        let verb = match action {
            PayoutAction::Approve => "approve",
            PayoutAction::Reject { .. } => "reject",
            PayoutAction::MarkPaid { .. } => "mark_paid",
        };
        if !action.allowed_from().contains(&current.status) {
            return Err(transition_conflict(verb, current.status));
        }
        let vendor = self.inner.store.vendor_by_id(current.vendor_id).await?;
        if let Some(vendor) = &vendor
            && admin.is(vendor.user_id)
        {
            return Err(Error::forbidden(
                "own_payout",
                "an administrator cannot decide on a payout of their own shop",
            ));
        }
        if matches!(action, PayoutAction::Approve | PayoutAction::MarkPaid { .. }) {
            let balance = self.inner.store.vendor_balance(current.vendor_id).await?;
            if balance.available.cents() < 0 {
                return Err(Error::conflict(
                    "negative_balance",
                    "the vendor owes money back after a refund (available balance below zero); reject the payout instead",
                ));
            }
        }
        let email = match &vendor {
            Some(vendor) => self
                .vendor_email(vendor)
                .await?
                .map(|to| self.decision_email(&to, vendor, &current, &action)),
            None => None,
        };
        let mut details = json!({
            "vendor_id": current.vendor_id,
            "amount_cents": current.amount.cents(),
            "from": current.status,
            "to": action.target(),
        });
        match &action {
            PayoutAction::Reject { reason } => details["reason"] = json!(reason),
            PayoutAction::MarkPaid { reference } => details["reference"] = json!(reference),
            PayoutAction::Approve => {}
        }
        let at = now();
        let decision = PayoutDecision {
            payout_id: id,
            action,
            audit: NewAudit::by_admin(admin, at, format!("payout.{verb}"), "payout", id, details),
            email,
            at,
        };
        self.inner.store.decide_payout(decision).await.map_err(|e| match e {
            StoreError::NotFound => payout_not_found(),
            StoreError::Conflict(Conflict::StaleStatus(HasStatus::Payout)) => transition_conflict(verb, current.status),
            other => other.into(),
        })
    }

    fn decision_email(&self, to: &str, vendor: &Vendor, payout: &Payout, action: &PayoutAction) -> NewEmail {
        let (shop, amount, currency) = (vendor.shop_name.as_str(), payout.amount, payout.currency.as_str());
        match action {
            PayoutAction::Approve => emails::payout_approved(to, shop, amount, currency),
            PayoutAction::Reject { reason } => emails::payout_rejected(to, shop, amount, currency, reason),
            PayoutAction::MarkPaid { reference } => emails::payout_paid(to, shop, amount, currency, reference),
        }
    }

    async fn vendor_email(&self, vendor: &Vendor) -> Result<Option<String>> {
        Ok(self.inner.store.user_by_id(vendor.user_id).await?.map(|user| user.email))
    }
}

fn transition_conflict(verb: &str, status: PayoutStatus) -> Error {
    Error::conflict(
        "invalid_payout_transition",
        format!("cannot {} a payout that is `{status}`", verb.replace('_', " ")),
    )
}
