//! Admin work on shops: listing them, and approving, rejecting, suspending, reinstating and
//! setting a commission, each decision audited and mailed to the vendor.

use serde_json::json;
use tracing::instrument;

use crate::auth::{Actor, AdminCap};
use crate::domain::{Page, PageRequest, UserId, VendorId, VendorStatus, now};
use crate::domain::{Vendor, VendorFilter};
use crate::error::{Error, Result};
use crate::storage::{Conflict, HasStatus};
use crate::storage::{NewAudit, StoreError, VendorDecision};

use crate::services::emails;

use super::{Vendors, vendor_not_found};

impl Vendors<'_> {
    /// Vendors of any status for admins.
    #[instrument(skip_all)]
    pub async fn list_all(&self, actor: &Actor, filter: VendorFilter, page: PageRequest) -> Result<Page<Vendor>> {
        actor.require_admin()?;
        Ok(self.inner.store.list_vendors(&filter, page).await?)
    }

    /// Any vendor with its private payout details, for admins (who pay it out).
    #[instrument(skip_all)]
    pub async fn for_admin(&self, actor: &Actor, id: VendorId) -> Result<Vendor> {
        actor.require_admin()?;
        self.existing(id).await
    }

    /// Approves a pending (or previously rejected) application; the user becomes a vendor.
    #[instrument(skip_all)]
    pub async fn approve(&self, actor: &Actor, id: VendorId) -> Result<Vendor> {
        let admin = actor.require_admin()?;
        let vendor = self.existing(id).await?;
        let email = self
            .email_of(vendor.user_id)
            .await?
            .map(|to| emails::vendor_approved(&to, &vendor.shop_name, &self.inner.config.frontend_url));
        self.decide(
            &admin,
            id,
            "approve",
            &[VendorStatus::Pending, VendorStatus::Rejected],
            Some(VendorStatus::Approved),
            None,
            None,
            true,
            email,
            json!({}),
        )
        .await
    }

    /// Rejects a pending application with a reason (1 to 1000 characters).
    #[instrument(skip_all)]
    pub async fn reject(&self, actor: &Actor, id: VendorId, reason: &str) -> Result<Vendor> {
        let admin = actor.require_admin()?;
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 1000 {
            return Err(Error::invalid("reason", "must be 1 to 1000 characters"));
        }
        let vendor = self.existing(id).await?;
        let email = self
            .email_of(vendor.user_id)
            .await?
            .map(|to| emails::vendor_rejected(&to, &vendor.shop_name, reason));
        let details = json!({ "reason": reason });
        self.decide(
            &admin,
            id,
            "reject",
            &[VendorStatus::Pending],
            Some(VendorStatus::Rejected),
            Some(reason.to_owned()),
            None,
            false,
            email,
            details,
        )
        .await
    }

    /// Suspends an approved vendor: its products vanish from the catalog at once.
    #[instrument(skip_all)]
    pub async fn suspend(&self, actor: &Actor, id: VendorId) -> Result<Vendor> {
        let admin = actor.require_admin()?;
        self.suspend_as(&admin, id).await
    }

    /// [`Vendors::suspend`] for an admin already checked (closing a suspended account's shop).
    pub(crate) async fn suspend_as(&self, admin: &AdminCap, id: VendorId) -> Result<Vendor> {
        let vendor = self.existing(id).await?;
        let email = self
            .email_of(vendor.user_id)
            .await?
            .map(|to| emails::vendor_suspended(&to, &vendor.shop_name));
        self.decide(
            admin,
            id,
            "suspend",
            &[VendorStatus::Approved],
            Some(VendorStatus::Suspended),
            None,
            None,
            false,
            email,
            json!({}),
        )
        .await
    }

    /// Reinstates a suspended vendor.
    #[instrument(skip_all)]
    pub async fn reinstate(&self, actor: &Actor, id: VendorId) -> Result<Vendor> {
        let admin = actor.require_admin()?;
        self.decide(
            &admin,
            id,
            "reinstate",
            &[VendorStatus::Suspended],
            Some(VendorStatus::Approved),
            None,
            None,
            false,
            None,
            json!({}),
        )
        .await
    }

    /// Sets (or with `None` clears) a vendor's commission override in basis points (0..=10000).
    #[instrument(skip_all)]
    pub async fn set_commission(&self, actor: &Actor, id: VendorId, commission_bps: Option<i64>) -> Result<Vendor> {
        let admin = actor.require_admin()?;
        let bps = match commission_bps {
            Some(bps) if !(0..=10_000).contains(&bps) => return Err(Error::invalid("commission_bps", "must be between 0 and 10000")),
            Some(bps) => Some(i32::try_from(bps).unwrap_or_default()),
            None => None,
        };
        let details = json!({ "commission_bps": bps });
        let all = [
            VendorStatus::Pending,
            VendorStatus::Approved,
            VendorStatus::Rejected,
            VendorStatus::Suspended,
        ];
        self.decide(&admin, id, "set_commission", &all, None, None, Some(bps), false, None, details)
            .await
    }

    async fn existing(&self, id: VendorId) -> Result<Vendor> {
        self.inner.store.vendor_by_id(id).await?.ok_or_else(vendor_not_found)
    }

    async fn email_of(&self, user_id: UserId) -> Result<Option<String>> {
        Ok(self.inner.store.user_by_id(user_id).await?.map(|u| u.email))
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one admin decision: the status change and everything written with it"
    )]
    #[expect(clippy::option_option, reason = "commission: None keeps it, Some(None) resets it to the default")]
    async fn decide(
        &self,
        admin: &AdminCap,
        id: VendorId,
        verb: &str,
        from: &[VendorStatus],
        to: Option<VendorStatus>,
        rejection_reason: Option<String>,
        commission_bps: Option<Option<i32>>,
        grant_vendor_role: bool,
        email: Option<crate::storage::NewEmail>,
        mut details: serde_json::Value,
    ) -> Result<Vendor> {
        if let (Some(to), Some(map)) = (to, details.as_object_mut()) {
            map.insert("status".into(), json!(to));
        }
        let decision = VendorDecision {
            vendor_id: id,
            from: from.to_vec(),
            to,
            rejection_reason,
            commission_bps,
            grant_vendor_role,
            audit: NewAudit::by_admin(admin, now(), format!("vendor.{verb}"), "vendor", id, details),
            email,
        };
        let vendor = self.inner.store.decide_vendor(decision).await.map_err(|e| match e {
            StoreError::NotFound => vendor_not_found(),
            StoreError::Conflict(Conflict::StaleStatus(HasStatus::Vendor)) => Error::conflict(
                "invalid_vendor_transition",
                format!("the vendor's current status does not allow `{verb}`"),
            ),
            other => other.into(),
        })?;
        self.inner.cache.invalidate();
        Ok(vendor)
    }
}
