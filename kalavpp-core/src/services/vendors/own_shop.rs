//! A vendor's own shop: applying to sell, reading and editing its profile, and the check that
//! the actor is an approved vendor.

use tracing::instrument;

use crate::auth::{Actor, VendorCap};
use crate::domain::Vendor;
use crate::domain::{Role, VendorId, VendorStatus, now, slugify};
use crate::error::{Error, Result, Violations};
use crate::storage::{Conflict, Sluggable};
use crate::storage::{NewVendor, StoreError, VendorProfileChange};

use super::Vendors;

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

impl Vendors<'_> {
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
}
