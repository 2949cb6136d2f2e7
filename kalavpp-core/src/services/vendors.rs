//! Vendor applications, profiles and the admin decisions on them.

use serde_json::json;
use tracing::instrument;

use crate::auth::{Actor, AdminCap, VendorCap};
use crate::domain::{Page, PageRequest, Role, UserId, VendorId, VendorStatus, now, slugify};
use crate::domain::{Vendor, VendorFilter};
use crate::error::{Error, Result, Violations};
use crate::marketplace::Inner;
use crate::storage::{Conflict, HasStatus, Sluggable};
use crate::storage::{NewAudit, NewVendor, StoreError, VendorDecision, VendorProfileChange};

use super::emails;

/// What a customer sends to apply as a vendor.
#[derive(Debug, Clone, Default)]
pub struct VendorApplication {
    /// Shop name, 2 to 80 characters.
    pub shop_name: String,
    /// Public description, up to 5000 characters.
    pub bio: Option<String>,
    /// Private payout details (any JSON up to 4 KiB).
    pub payout_details: Option<serde_json::Value>,
}

/// Changes a vendor makes to its profile (`None` keeps a field; `Some(None)` clears it).
#[derive(Debug, Clone, Default)]
pub struct VendorProfileEdit {
    /// New shop name.
    pub shop_name: Option<String>,
    /// New description.
    pub bio: Option<Option<String>>,
    /// New payout details.
    pub payout_details: Option<Option<serde_json::Value>>,
}

/// Vendor services; get one from [`crate::Marketplace::vendors`].
pub struct Vendors<'a> {
    inner: &'a Inner,
}

fn vendor_not_found() -> Error {
    Error::not_found("vendor_not_found", "vendor not found")
}

fn parse_shop_name(text: &str) -> std::result::Result<String, String> {
    let name = text.trim();
    let chars = name.chars().count();
    if chars < 2 {
        Err("must be at least 2 characters".into())
    } else if chars > 80 {
        Err("must be at most 80 characters".into())
    } else if name.chars().any(char::is_control) {
        Err("must not contain control characters".into())
    } else {
        Ok(name.to_owned())
    }
}

fn parse_bio(text: &str) -> std::result::Result<Option<String>, String> {
    let bio = text.trim();
    if bio.chars().count() > 5000 {
        Err("must be at most 5000 characters".into())
    } else {
        Ok((!bio.is_empty()).then(|| bio.to_owned()))
    }
}

fn parse_payout(value: &serde_json::Value) -> std::result::Result<Option<serde_json::Value>, String> {
    if value.is_null() {
        return Ok(None);
    }
    if !(value.is_object() || value.is_string()) {
        return Err("must be an object or a string".into());
    }
    if value.to_string().len() > 4096 {
        return Err("must be at most 4 KiB".into());
    }
    Ok(Some(value.clone()))
}

impl<'a> Vendors<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }

    /// Applies as a vendor (`pending`). A second application is `Conflict(already_applied)`,
    /// except after a rejection, when it replaces the rejected one.
    #[instrument(skip_all)]
    pub async fn apply(&self, actor: &Actor, application: VendorApplication) -> Result<Vendor> {
        let user_id = actor.require_user()?;
        if matches!(actor, Actor::User { role: Role::Admin, .. }) {
            return Err(Error::forbidden("customers_only", "administrators cannot open a shop"));
        }
        let mut violations = Violations::new();
        let shop_name = violations.check("shop_name", parse_shop_name(&application.shop_name));
        let bio = application
            .bio
            .as_deref()
            .and_then(|b| violations.check("bio", parse_bio(b)))
            .flatten();
        let payout_details = application
            .payout_details
            .as_ref()
            .and_then(|p| violations.check("payout_details", parse_payout(p)))
            .flatten();
        violations.finish()?;
        let shop_name = shop_name.unwrap_or_default();
        let base = match slugify(&shop_name) {
            s if s.is_empty() => "shop".to_owned(),
            s => s,
        };
        let at = now();
        let mut new_vendor = NewVendor {
            id: VendorId::new(),
            user_id,
            slug: base.clone(),
            shop_name,
            bio,
            payout_details,
            at,
        };
        if let Some(vendor) = self.inner.store.reapply_vendor(new_vendor.clone()).await? {
            return Ok(vendor);
        }
        for attempt in 0..6 {
            match self.inner.store.insert_vendor(new_vendor.clone()).await {
                Ok(vendor) => return Ok(vendor),
                Err(StoreError::Conflict(Conflict::SlugTaken(Sluggable::Vendor))) if attempt < 5 => {
                    new_vendor.slug = format!("{base}-{}", &crate::auth::random_token(4).to_lowercase().replace(['-', '_'], "x"));
                }
                Err(StoreError::Conflict(Conflict::AlreadyApplied)) => {
                    return Err(Error::conflict("already_applied", "you already have a vendor application"));
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(Error::conflict(
            "slug_taken",
            "could not find a free shop slug; try another shop name",
        ))
    }

    /// The actor's own vendor profile (any status), or `NotFound` without an application.
    #[instrument(skip_all)]
    pub async fn mine(&self, actor: &Actor) -> Result<Vendor> {
        let user_id = actor.require_user()?;
        self.inner
            .store
            .vendor_by_user(user_id)
            .await?
            .ok_or_else(|| Error::not_found("vendor_not_found", "you have no vendor application; apply with POST /vendors/apply"))
    }

    /// The actor's approved shop as a [`VendorCap`], the one check behind every vendor-only
    /// operation: `Unauthorized` without a signed-in user, `Forbidden(vendor_not_approved)` while
    /// the shop is pending, rejected or suspended, `Forbidden(vendor_only)` without a shop or
    /// when the account's current role is no longer `vendor`.
    pub async fn require_approved(&self, actor: &Actor) -> Result<VendorCap> {
        let user_id = actor.require_user()?;
        let shop = self.inner.store.vendor_by_user(user_id).await?;
        VendorCap::check(actor, shop)
    }

    /// Edits the actor's own profile (pending, approved or rejected; not while suspended).
    #[instrument(skip_all)]
    pub async fn update_mine(&self, actor: &Actor, edit: VendorProfileEdit) -> Result<Vendor> {
        let vendor = self.mine(actor).await?;
        if vendor.status == VendorStatus::Suspended {
            return Err(Error::forbidden("vendor_suspended", "a suspended shop cannot be edited"));
        }
        let mut violations = Violations::new();
        let shop_name = edit
            .shop_name
            .as_deref()
            .and_then(|n| violations.check("shop_name", parse_shop_name(n)));
        let bio = match &edit.bio {
            Some(Some(b)) => violations.check("bio", parse_bio(b)).map(Some),
            Some(None) => Some(None),
            None => None,
        }
        .map(Option::flatten);
        let payout_details = match &edit.payout_details {
            Some(Some(p)) => violations.check("payout_details", parse_payout(p)).map(Some),
            Some(None) => Some(None),
            None => None,
        }
        .map(Option::flatten);
        violations.finish()?;
        let change = VendorProfileChange {
            shop_name,
            bio,
            payout_details,
        };
        let vendor = self.inner.store.update_vendor_profile(vendor.id, change, now()).await?;
        self.inner.cache.invalidate();
        Ok(vendor)
    }

    /// An approved vendor's public profile by id or slug.
    #[instrument(skip_all)]
    pub async fn public(&self, id_or_slug: &str) -> Result<Vendor> {
        let vendor = match VendorId::parse(id_or_slug) {
            Some(id) => self.inner.store.vendor_by_id(id).await?,
            None => self.inner.store.vendor_by_slug(&id_or_slug.to_lowercase()).await?,
        };
        vendor.filter(|v| v.status == VendorStatus::Approved).ok_or_else(vendor_not_found)
    }

    /// Approved vendors, newest first.
    #[instrument(skip_all)]
    pub async fn list_public(&self, page: PageRequest) -> Result<Page<Vendor>> {
        let filter = VendorFilter {
            status: Some(VendorStatus::Approved),
        };
        Ok(self.inner.store.list_vendors(&filter, page).await?)
    }

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HashCost;
    use crate::domain::AuditFilter;
    use crate::services::Registration;
    use crate::{Config, DatabaseUrl, Marketplace};

    fn code<T: std::fmt::Debug>(result: Result<T>) -> &'static str {
        match result.unwrap_err() {
            Error::Forbidden { code, .. } | Error::Unauthorized { code, .. } | Error::NotFound { code, .. } => code,
            other => panic!("unexpected {other:?}"),
        }
    }

    async fn market(dir: &tempfile::TempDir) -> Marketplace {
        let mut config = Config::for_development(DatabaseUrl::memory());
        config.data_dir = dir.path().to_owned();
        config.hash_cost = HashCost::TestsOnly;
        Marketplace::open(config).await.unwrap()
    }

    /// The actor as a request would see it now: the role read fresh from the database.
    async fn signed_in(market: &Marketplace, email: &str) -> Actor {
        let login = market.accounts().login(email, "a long enough password").await.unwrap();
        market.accounts().authenticate(&login.tokens.access_token).await.unwrap()
    }

    async fn register(market: &Marketplace, email: &str) -> Actor {
        let registration = Registration {
            email: email.into(),
            password: "a long enough password".into(),
            name: "Someone".into(),
        };
        market.accounts().register(registration).await.unwrap();
        signed_in(market, email).await
    }

    fn application(name: &str) -> VendorApplication {
        VendorApplication {
            shop_name: name.into(),
            ..VendorApplication::default()
        }
    }

    #[tokio::test]
    async fn the_vendor_cap_follows_the_shop_status_and_the_current_role() {
        let dir = tempfile::tempdir().unwrap();
        let market = market(&dir).await;
        let vendors = market.vendors();
        assert_eq!(code(vendors.require_approved(&Actor::Anonymous).await), "authentication_required");
        let ann = register(&market, "ann@example.com").await;
        assert_eq!(code(vendors.require_approved(&ann).await), "vendor_only", "no shop yet");
        let shop = vendors.apply(&ann, application("Ann Art")).await.unwrap();
        assert_eq!(code(vendors.require_approved(&ann).await), "vendor_not_approved", "pending");

        // Admin work needs an AdminCap: the applicant cannot approve itself, and nothing changes.
        assert_eq!(code(vendors.approve(&ann, shop.id).await), "admin_only");
        assert_eq!(code(vendors.approve(&Actor::Anonymous, shop.id).await), "authentication_required");
        assert_eq!(vendors.mine(&ann).await.unwrap().status, VendorStatus::Pending);
        vendors.approve(&Actor::System, shop.id).await.unwrap();

        // The actor of the earlier request still has the customer role; the next request's has
        // the vendor role. Nothing is cached beyond a request.
        assert_eq!(code(vendors.require_approved(&ann).await), "vendor_only");
        let ann = signed_in(&market, "ann@example.com").await;
        let cap = vendors.require_approved(&ann).await.unwrap();
        assert_eq!((cap.id(), cap.vendor().status), (shop.id, VendorStatus::Approved));

        vendors.suspend(&Actor::System, shop.id).await.unwrap();
        assert_eq!(code(vendors.require_approved(&ann).await), "vendor_not_approved", "suspended");
        vendors.reinstate(&Actor::System, shop.id).await.unwrap();
        assert!(vendors.require_approved(&ann).await.is_ok());

        let bo = register(&market, "bo@example.com").await;
        let rejected = vendors.apply(&bo, application("Bo Art")).await.unwrap();
        vendors.reject(&Actor::System, rejected.id, "not yet").await.unwrap();
        assert_eq!(code(vendors.require_approved(&bo).await), "vendor_not_approved", "rejected");

        // Demoted to customer by an admin: the shop stays approved, the account no longer sells.
        market
            .admin()
            .update_user(
                &Actor::System,
                ann.user_id().unwrap(),
                crate::services::UserChanges {
                    role: Some("customer".into()),
                    ..crate::services::UserChanges::default()
                },
            )
            .await
            .unwrap();
        let ann = signed_in(&market, "ann@example.com").await;
        assert_eq!(code(vendors.require_approved(&ann).await), "vendor_only");
    }

    #[tokio::test]
    async fn system_decisions_are_audited_without_an_actor() {
        let dir = tempfile::tempdir().unwrap();
        let market = market(&dir).await;
        let cy = register(&market, "cy@example.com").await;
        let shop = market.vendors().apply(&cy, application("Cy Art")).await.unwrap();
        market.vendors().approve(&Actor::System, shop.id).await.unwrap();
        assert_eq!(
            code(
                market
                    .admin()
                    .list_audit(&cy, AuditFilter::default(), PageRequest::new(1, 20))
                    .await
            ),
            "admin_only"
        );
        let log = market
            .admin()
            .list_audit(&Actor::System, AuditFilter::default(), PageRequest::new(1, 20))
            .await
            .unwrap();
        let row = log.items.iter().find(|r| r.action == "vendor.approve").unwrap();
        assert_eq!((row.actor_id, row.target_id.as_str()), (None, shop.id.to_string().as_str()));
    }
}
