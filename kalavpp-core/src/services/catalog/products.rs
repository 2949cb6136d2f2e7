//! Products: created, edited and archived by their vendor (or an admin), their fields checked.

use std::collections::HashSet;

use serde_json::json;
use tracing::instrument;

use crate::auth::{Actor, AdminCap, VendorCap};
use crate::domain::Product;
use crate::domain::{Money, Page, PageRequest, ProductId, ProductKind, ProductStatus, VendorStatus, now, slugify};
use crate::error::{Error, Result, Violations};
use crate::storage::{Conflict, Sluggable};
use crate::storage::{NewProduct, ProductUpdate, StoreError};

use crate::services::Vendors;

use super::{Catalog, MAX_PRICE_CENTS, MAX_STOCK, audit, is_public, product_not_found};

/// The fields of a new product, as sent by a vendor.
#[derive(Debug, Clone, Default)]
pub struct ProductDraft {
    /// 1 to 200 characters.
    pub title: String,
    /// 1 to 20000 characters.
    pub description: String,
    /// `physical` or `digital`.
    pub kind: String,
    /// 1 to [`MAX_PRICE_CENTS`].
    pub price_cents: i64,
    /// Required for physical products, absent for digital ones.
    pub stock: Option<i64>,
    /// Category id or slug.
    pub category_id: String,
    /// Up to 20 tags of 1 to 40 characters.
    pub tags: Vec<String>,
    /// `draft` (default) or `published`.
    pub status: Option<String>,
}

/// A partial product update (`None` keeps a field).
#[derive(Debug, Clone, Default)]
pub struct ProductEdit {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New kind.
    pub kind: Option<String>,
    /// New price.
    pub price_cents: Option<i64>,
    /// New stock (physical products).
    pub stock: Option<i64>,
    /// New category id or slug.
    pub category_id: Option<String>,
    /// New tags.
    pub tags: Option<Vec<String>>,
    /// New status: `draft`, `published` or `archived`.
    pub status: Option<String>,
}

fn parse_title(text: &str) -> std::result::Result<String, String> {
    let title = text.trim();
    match title.chars().count() {
        0 => Err("is required".into()),
        n if n > 200 => Err("must be at most 200 characters".into()),
        _ if title.chars().any(char::is_control) => Err("must not contain control characters".into()),
        _ => Ok(title.to_owned()),
    }
}

fn parse_description(text: &str) -> std::result::Result<String, String> {
    let description = text.trim();
    match description.chars().count() {
        0 => Err("is required".into()),
        n if n > 20_000 => Err("must be at most 20000 characters".into()),
        _ => Ok(description.to_owned()),
    }
}

fn parse_price(cents: i64) -> std::result::Result<Money, String> {
    if cents <= 0 {
        Err("must be > 0".into())
    } else if cents > MAX_PRICE_CENTS {
        Err(format!("must be at most {MAX_PRICE_CENTS}"))
    } else {
        Ok(Money(cents))
    }
}

fn parse_stock(stock: i64) -> std::result::Result<i64, String> {
    if (0..=MAX_STOCK).contains(&stock) {
        Ok(stock)
    } else {
        Err(format!("must be between 0 and {MAX_STOCK}"))
    }
}

fn parse_tags(tags: &[String]) -> std::result::Result<Vec<String>, String> {
    if tags.len() > 20 {
        return Err("at most 20 tags".into());
    }
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_lowercase();
        if tag.is_empty() || tag.chars().count() > 40 || tag.chars().any(char::is_control) {
            return Err("each tag must be 1 to 40 characters".into());
        }
        if seen.insert(tag.clone()) {
            out.push(tag);
        }
    }
    Ok(out)
}

impl Catalog<'_> {
    /// Creates a product for the actor's approved shop.
    #[instrument(skip_all)]
    pub async fn create_product(&self, actor: &Actor, draft: ProductDraft) -> Result<Product> {
        let vendor = Vendors::new(self.inner).require_approved(actor).await?;
        let mut violations = Violations::new();
        let title = violations.check("title", parse_title(&draft.title));
        let description = violations.check("description", parse_description(&draft.description));
        let kind = violations.check("kind", ProductKind::parse(&draft.kind));
        let price = violations.check("price_cents", parse_price(draft.price_cents));
        let tags = violations.check("tags", parse_tags(&draft.tags));
        let status = match draft.status.as_deref() {
            None | Some("draft") => Some(ProductStatus::Draft),
            Some("published") => Some(ProductStatus::Published),
            Some(_) => {
                violations.add("status", "must be draft or published");
                None
            }
        };
        let stock = match (kind, draft.stock) {
            (Some(ProductKind::Physical), Some(stock)) => violations.check("stock", parse_stock(stock)),
            (Some(ProductKind::Physical), None) => {
                violations.add("stock", "is required for physical products");
                None
            }
            (Some(ProductKind::Digital), Some(_)) => {
                violations.add("stock", "must be absent for digital products (they are unlimited)");
                None
            }
            _ => None,
        };
        let category = match self.find_category(&draft.category_id).await? {
            Some(c) => Some(c.id),
            None => {
                violations.add("category_id", "no such category");
                None
            }
        };
        violations.finish()?;
        let (Some(title), Some(description), Some(kind), Some(price), Some(tags), Some(status), Some(category_id)) =
            (title, description, kind, price, tags, status, category)
        else {
            return Err(Error::Internal("validation inconsistency".into()));
        };
        let base = match slugify(&title) {
            s if s.is_empty() => "work".to_owned(),
            s => s,
        };
        let mut product = NewProduct {
            id: ProductId::new(),
            vendor_id: vendor.id(),
            category_id,
            slug: base.clone(),
            title,
            description,
            kind,
            price,
            stock,
            status,
            tags,
            at: now(),
        };
        for attempt in 0..6 {
            match self.inner.store.insert_product(product.clone()).await {
                Ok(created) => {
                    self.inner.cache.invalidate();
                    return Ok(created);
                }
                Err(StoreError::Conflict(Conflict::SlugTaken(Sluggable::Product))) if attempt < 5 => {
                    product.slug = format!("{base}-{}", hex_suffix());
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(Error::conflict("slug_taken", "could not find a free product slug"))
    }

    /// Loads a product the actor may change: its owning approved vendor, or an admin.
    /// Returns the product and, when an admin user acts (on any product), the [`AdminCap`] its
    /// audit row is written with; the owning vendor and the system change products unaudited.
    async fn editable(&self, actor: &Actor, id: ProductId) -> Result<(Product, Option<AdminCap>)> {
        let product = self.inner.store.product_by_id(id).await?.ok_or_else(product_not_found)?;
        if let Ok(admin) = actor.require_admin() {
            let audited = admin.user_id().is_some().then_some(admin);
            return Ok((product, audited));
        }
        let user = actor.require_user()?;
        let own_vendor = self.inner.store.vendor_by_user(user).await?;
        match own_vendor {
            Some(vendor) if vendor.id == product.vendor.id => {
                // The account's current role and the shop's status decide, as for every
                // vendor-only operation: a vendor demoted to customer (or whose shop was
                // suspended) no longer changes its works.
                VendorCap::check(actor, Some(vendor))?;
                Ok((product, None))
            }
            _ if is_public(&product) => Err(Error::forbidden("not_product_owner", "this product belongs to another vendor")),
            _ => Err(product_not_found()),
        }
    }

    /// Partially updates a product (owning vendor or admin; admin edits are audited).
    #[instrument(skip_all)]
    pub async fn update_product(&self, actor: &Actor, id: ProductId, edit: ProductEdit) -> Result<Product> {
        let (current, admin) = self.editable(actor, id).await?;
        let mut violations = Violations::new();
        let title = edit.title.as_deref().map(|t| violations.check("title", parse_title(t)));
        let description = edit
            .description
            .as_deref()
            .map(|d| violations.check("description", parse_description(d)));
        let kind = match edit.kind.as_deref() {
            Some(k) => violations.check("kind", ProductKind::parse(k)),
            None => Some(current.kind),
        };
        let price = edit.price_cents.map(|p| violations.check("price_cents", parse_price(p)));
        let tags = edit.tags.as_deref().map(|t| violations.check("tags", parse_tags(t)));
        let status = edit.status.as_deref().map(|s| violations.check("status", ProductStatus::parse(s)));
        let stock = match (kind, edit.stock, current.stock) {
            (Some(ProductKind::Physical), Some(stock), _) => violations.check("stock", parse_stock(stock)),
            (Some(ProductKind::Physical), None, Some(existing)) => Some(existing),
            (Some(ProductKind::Physical), None, None) => {
                violations.add("stock", "is required for physical products");
                None
            }
            (Some(ProductKind::Digital), Some(_), _) => {
                violations.add("stock", "must be absent for digital products (they are unlimited)");
                None
            }
            _ => None,
        };
        let category = match edit.category_id.as_deref() {
            Some(c) => match self.find_category(c).await? {
                Some(c) => Some(c.id),
                None => {
                    violations.add("category_id", "no such category");
                    None
                }
            },
            None => Some(current.category.id),
        };
        violations.finish()?;
        let update = ProductUpdate {
            id,
            title: title.flatten().unwrap_or(current.title.clone()),
            description: description.flatten().unwrap_or(current.description.clone()),
            kind: kind.unwrap_or(current.kind),
            price: price.flatten().unwrap_or(current.price),
            stock,
            category_id: category.unwrap_or(current.category.id),
            status: status.flatten().unwrap_or(current.status),
            tags: tags.flatten().unwrap_or(current.tags.clone()),
            at: now(),
            audit: admin.map(|admin| {
                let fields: Vec<&str> = [
                    edit.title.as_ref().map(|_| "title"),
                    edit.description.as_ref().map(|_| "description"),
                    edit.kind.as_ref().map(|_| "kind"),
                    edit.price_cents.as_ref().map(|_| "price_cents"),
                    edit.stock.as_ref().map(|_| "stock"),
                    edit.category_id.as_ref().map(|_| "category_id"),
                    edit.tags.as_ref().map(|_| "tags"),
                    edit.status.as_ref().map(|_| "status"),
                ]
                .into_iter()
                .flatten()
                .collect();
                audit(&admin, "product.update", "product", id.to_string(), json!({ "fields": fields }))
            }),
        };
        let updated = self.inner.store.update_product(update).await?;
        self.inner.cache.invalidate();
        Ok(updated)
    }

    /// Archives a product (owning vendor or admin); orders keep their snapshot.
    #[instrument(skip_all)]
    pub async fn archive_product(&self, actor: &Actor, id: ProductId) -> Result<()> {
        let (current, admin) = self.editable(actor, id).await?;
        let update = ProductUpdate {
            id,
            title: current.title,
            description: current.description,
            kind: current.kind,
            price: current.price,
            stock: current.stock,
            category_id: current.category.id,
            status: ProductStatus::Archived,
            tags: current.tags,
            at: now(),
            audit: admin.map(|a| audit(&a, "product.archive", "product", id.to_string(), json!({}))),
        };
        self.inner.store.update_product(update).await?;
        self.inner.cache.invalidate();
        Ok(())
    }

    /// Every product of the actor's shop in every status (approved vendors; a suspended vendor
    /// still sees, but cannot change, its own works).
    #[instrument(skip_all)]
    pub async fn vendor_products(&self, actor: &Actor, page: PageRequest) -> Result<Page<Product>> {
        let vendors = Vendors::new(self.inner);
        let vendor = match vendors.require_approved(actor).await {
            Ok(cap) => cap.into_vendor(),
            Err(refused) => match vendors.mine(actor).await {
                Ok(vendor) if vendor.status == VendorStatus::Suspended => vendor,
                _ => return Err(refused),
            },
        };
        Ok(self.inner.store.list_vendor_products(vendor.id, page).await?)
    }

    pub(crate) async fn editable_product(&self, actor: &Actor, id: ProductId) -> Result<(Product, Option<AdminCap>)> {
        self.editable(actor, id).await
    }
}

fn hex_suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..6].to_owned()
}
