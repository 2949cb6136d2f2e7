//! Capabilities: proof, as a value, that a permission check passed for this request.
//!
//! A service that needs admin rights or an approved shop does not repeat the check; it obtains a
//! capability once ([`Actor::require_admin`], [`VendorCap`] via
//! [`Vendors::require_approved`](crate::services::Vendors::require_approved)) and the code that
//! does the privileged work takes the capability as an argument, so it cannot run without the
//! check having passed. Neither capability can be built outside this module (private fields),
//! and neither is `Clone` or storable beyond the request: the actor's role is read fresh from
//! the database on every request, and a capability is derived from that actor each time.

use serde_json::Value;

use super::Actor;
use crate::domain::{AuditId, Role, Timestamp, UserId, Vendor, VendorId, VendorStatus};
use crate::error::{Error, Result};
use crate::storage::NewAudit;

/// Proof that the acting identity is an administrator (or the system operator).
///
/// Obtained only from [`Actor::require_admin`] (`Unauthorized` for anonymous callers,
/// `Forbidden(admin_only)` for every other user). It carries the admin's user id for audit rows
/// (`None` for [`Actor::System`]: CLI commands and embedding code).
///
/// # Shape
/// Public service methods keep taking `&Actor` — the server and embedders call every service the
/// same way — and the admin-only ones obtain an `AdminCap` in their first line. The internal
/// helpers that carry out admin decisions, and the construction of audit rows
/// ([`NewAudit::by_admin`]), take `&AdminCap`, so a write path cannot reach the store without the
/// check, and an admin audit row cannot be written without one. Taking `&AdminCap` in the public
/// methods instead would move the check to every caller and give embedders a second way to call
/// each service for no gain in safety.
#[derive(Debug, PartialEq, Eq)]
pub struct AdminCap {
    admin: Option<UserId>,
}

impl AdminCap {
    /// The admin's user id (the audit-log actor), `None` when the system acts.
    pub fn user_id(&self) -> Option<UserId> {
        self.admin
    }

    /// Whether `user` is the acting admin (never true for the system).
    pub fn is(&self, user: UserId) -> bool {
        self.admin == Some(user)
    }
}

impl Actor {
    /// An [`AdminCap`] for admins and the system; `Unauthorized` for anonymous callers,
    /// `Forbidden(admin_only)` for any other user.
    pub fn require_admin(&self) -> Result<AdminCap> {
        match self {
            Self::System => Ok(AdminCap { admin: None }),
            Self::User { id, role: Role::Admin, .. } => Ok(AdminCap { admin: Some(*id) }),
            Self::User { .. } => Err(Error::forbidden("admin_only", "only administrators may do this")),
            Self::Anonymous => Err(Error::unauthorized("authentication_required", "sign in to do this")),
        }
    }
}

impl NewAudit {
    /// The audit row of an admin mutation: a fresh id, the admin as actor (`None` for the
    /// system), `action` as `<target>.<verb>`, the target and a small JSON object of what changed.
    pub fn by_admin(
        admin: &AdminCap,
        at: Timestamp,
        action: impl Into<String>,
        target_type: &str,
        target_id: impl ToString,
        details: Value,
    ) -> Self {
        Self {
            id: AuditId::new(),
            at,
            actor_id: admin.admin,
            action: action.into(),
            target_type: target_type.into(),
            target_id: target_id.to_string(),
            details,
        }
    }
}

/// Proof that the acting user is a vendor with an approved shop, holding that shop.
///
/// Built in one place (`VendorCap::check`, reached through
/// [`Vendors::require_approved`](crate::services::Vendors::require_approved), which loads the
/// actor's shop), and taken by every vendor-only operation: vendor-scoped store calls use
/// [`VendorCap::id`], never an id from the input. The account's current role decides together
/// with the shop's status: a vendor demoted (or promoted to admin) keeps its shop record but no
/// longer sells or draws payouts.
#[derive(Debug)]
pub struct VendorCap {
    vendor: Vendor,
}

impl VendorCap {
    /// Decides whether `actor`, whose shop (looked up by its user id) is `shop`, may act as an
    /// approved vendor. `Unauthorized` without a user; `Forbidden(vendor_not_approved)` for a shop
    /// that is pending, rejected or suspended; `Forbidden(vendor_only)` without a shop or when
    /// the account's role is no longer `vendor`.
    pub(crate) fn check(actor: &Actor, shop: Option<Vendor>) -> Result<Self> {
        let user = actor.require_user()?;
        let is_vendor = matches!(actor, Actor::User { role: Role::Vendor, .. });
        match shop {
            Some(vendor) if vendor.user_id != user => Err(Self::refused()),
            Some(vendor) if vendor.status == VendorStatus::Approved && is_vendor => Ok(Self { vendor }),
            Some(vendor) if vendor.status == VendorStatus::Approved => Err(Self::refused()),
            Some(vendor) => Err(Error::forbidden(
                "vendor_not_approved",
                format!("your shop is {}; only approved vendors may do this", vendor.status),
            )),
            None => Err(Self::refused()),
        }
    }

    fn refused() -> Error {
        Error::forbidden("vendor_only", "only approved vendors may do this")
    }

    /// The approved shop's id: the scope of every vendor-only store call.
    pub fn id(&self) -> VendorId {
        self.vendor.id
    }

    /// The approved shop as loaded for this request.
    pub fn vendor(&self) -> &Vendor {
        &self.vendor
    }

    /// The approved shop, giving up the capability.
    pub fn into_vendor(self) -> Vendor {
        self.vendor
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{SessionFamilyId, now};

    fn user(role: Role) -> Actor {
        Actor::User {
            id: UserId::new(),
            role,
            session: None::<SessionFamilyId>,
        }
    }

    fn shop(owner: &Actor, status: VendorStatus) -> Vendor {
        let at = now();
        Vendor {
            id: VendorId::new(),
            user_id: owner.user_id().unwrap_or_default(),
            slug: "shop".into(),
            shop_name: "Shop".into(),
            bio: None,
            payout_details: None,
            status,
            rejection_reason: None,
            commission_bps: None,
            rating_avg: 0.0,
            rating_count: 0,
            product_count: 0,
            created_at: at,
            updated_at: at,
            approved_at: None,
        }
    }

    fn code(err: &Error) -> (&'static str, &'static str) {
        match err {
            Error::Forbidden { code, .. } => ("forbidden", code),
            Error::Unauthorized { code, .. } => ("unauthorized", code),
            _ => ("other", ""),
        }
    }

    #[test]
    fn only_admins_and_the_system_obtain_an_admin_cap() {
        assert_eq!(Actor::System.require_admin().unwrap().user_id(), None);
        let admin = user(Role::Admin);
        let cap = admin.require_admin().unwrap();
        assert_eq!(cap.user_id(), admin.user_id());
        assert!(cap.is(admin.user_id().unwrap()));
        for role in [Role::Customer, Role::Vendor] {
            let err = user(role).require_admin().unwrap_err();
            assert_eq!(code(&err), ("forbidden", "admin_only"));
        }
        let err = Actor::Anonymous.require_admin().unwrap_err();
        assert_eq!(code(&err), ("unauthorized", "authentication_required"));
    }

    #[test]
    fn audit_rows_name_the_admin_of_the_cap() {
        let admin = user(Role::Admin);
        let cap = admin.require_admin().unwrap();
        let row = NewAudit::by_admin(&cap, now(), "vendor.approve", "vendor", 7, serde_json::json!({}));
        assert_eq!(row.actor_id, admin.user_id());
        assert_eq!(
            (row.action.as_str(), row.target_type.as_str(), row.target_id.as_str()),
            ("vendor.approve", "vendor", "7")
        );
        let system = Actor::System.require_admin().unwrap();
        assert_eq!(NewAudit::by_admin(&system, now(), "x.y", "x", "1", Value::Null).actor_id, None);
    }

    #[test]
    fn an_approved_vendor_obtains_its_shop() {
        let vendor = user(Role::Vendor);
        let approved = shop(&vendor, VendorStatus::Approved);
        let id = approved.id;
        let cap = VendorCap::check(&vendor, Some(approved)).unwrap();
        assert_eq!(cap.id(), id);
        assert_eq!(cap.vendor().id, id);
    }

    #[test]
    fn shops_that_are_not_approved_are_refused() {
        let vendor = user(Role::Vendor);
        for status in [VendorStatus::Pending, VendorStatus::Rejected, VendorStatus::Suspended] {
            let err = VendorCap::check(&vendor, Some(shop(&vendor, status))).unwrap_err();
            assert_eq!(code(&err), ("forbidden", "vendor_not_approved"), "{status}");
        }
        // A pending applicant is still a customer: the shop's status is what it is told.
        let applicant = user(Role::Customer);
        let err = VendorCap::check(&applicant, Some(shop(&applicant, VendorStatus::Pending))).unwrap_err();
        assert_eq!(code(&err), ("forbidden", "vendor_not_approved"));
    }

    #[test]
    fn non_vendors_are_refused_even_with_an_approved_shop() {
        for role in [Role::Customer, Role::Admin] {
            let actor = user(role);
            let err = VendorCap::check(&actor, Some(shop(&actor, VendorStatus::Approved))).unwrap_err();
            assert_eq!(code(&err), ("forbidden", "vendor_only"), "{role}");
            let err = VendorCap::check(&actor, None).unwrap_err();
            assert_eq!(code(&err), ("forbidden", "vendor_only"), "{role}");
        }
        let vendor = user(Role::Vendor);
        let err = VendorCap::check(&vendor, None).unwrap_err();
        assert_eq!(code(&err), ("forbidden", "vendor_only"));
        // Someone else's shop is never the actor's.
        let other = user(Role::Vendor);
        let err = VendorCap::check(&vendor, Some(shop(&other, VendorStatus::Approved))).unwrap_err();
        assert_eq!(code(&err), ("forbidden", "vendor_only"));
        for nobody in [Actor::Anonymous, Actor::System] {
            let err = VendorCap::check(&nobody, None).unwrap_err();
            assert_eq!(code(&err), ("unauthorized", "authentication_required"));
        }
    }
}
