//! The artist's works: the list in every status, the form to add one, the edit page (details,
//! images in order, the download file of a digital work, publish / unpublish / archive).

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use kalavpp_core::auth::Actor;
use kalavpp_core::domain::{ImageId, PageRequest, ProductId, ProductKind, ProductStatus, Role};
use kalavpp_core::domain::{Product, Vendor};
use kalavpp_core::services::{CategoryView, ProductDraft, ProductEdit};
use kalavpp_core::{Error, FieldError};

use super::forms::{Frame, count_field, major, page_number, price_field, tags};
use super::{chrome, done, note};
use crate::admin::Pager;
use crate::app::AppState;
use crate::storefront::session::{ShopForm, Shopper};
use crate::storefront::{Chrome, ShopResult, error_for, render_with};
use crate::web::{field, money, query_map, when};

/// Whether the account's current role is `vendor` (a demoted artist, or one made an admin, keeps
/// the shop record but no longer sells through the studio).
pub fn sells(actor: &Actor) -> bool {
    matches!(actor, Actor::User { role: Role::Vendor, .. })
}

/// The actor's shop when it is approved and the account is still a vendor; a `403` naming what is
/// wrong otherwise. The core decides (`Vendors::require_approved`, the check behind every
/// vendor-only service); the studio only words the refusal for its pages.
pub async fn approved_shop(state: &AppState, actor: &Actor) -> Result<Vendor, Error> {
    let vendors = state.market.vendors();
    let code = match vendors.require_approved(actor).await {
        Ok(shop) => return Ok(shop.into_vendor()),
        Err(Error::Forbidden { code, .. }) => code,
        Err(other) => return Err(other),
    };
    let shop = match vendors.mine(actor).await {
        Ok(vendor) => Some(vendor),
        Err(Error::NotFound { .. }) => None,
        Err(other) => return Err(other),
    };
    Err(match (code, shop) {
        ("vendor_not_approved", Some(vendor)) => Error::forbidden(
            code,
            format!(
                "your shop is {}; this part of the studio opens once the marketplace has approved it",
                vendor.status
            ),
        ),
        (code, Some(_)) => Error::forbidden(code, "this account no longer sells on the marketplace; the studio is for artists"),
        (code, None) => Error::forbidden(
            code,
            "only approved artists can use this part of the studio; apply to sell on the studio's first page",
        ),
    })
}

fn no_such_work() -> Error {
    Error::not_found("product_not_found", "no such work in your shop")
}

/// One of the actor's own works (any status).
async fn own_work(state: &AppState, actor: &Actor, id: &str) -> Result<(Vendor, Arc<Product>), Error> {
    let vendor = approved_shop(state, actor).await?;
    let id = ProductId::parse(id).ok_or_else(no_such_work)?;
    let product = state.market.catalog().product(actor, &id.to_string()).await.map_err(|e| match e {
        Error::NotFound { .. } | Error::Forbidden { .. } => no_such_work(),
        other => other,
    })?;
    if product.vendor.id != vendor.id {
        return Err(no_such_work());
    }
    Ok((vendor, product))
}

fn status_label(status: ProductStatus) -> &'static str {
    match status {
        ProductStatus::Draft => "Draft",
        ProductStatus::Published => "Published",
        ProductStatus::Archived => "Archived",
    }
}

struct WorkRow {
    id: String,
    title: String,
    thumb: Option<String>,
    initial: String,
    status: &'static str,
    status_class: &'static str,
    kind: &'static str,
    price: String,
    stock: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "studio/works.html")]
struct WorksPage {
    chrome: Chrome,
    frame: Frame,
    rows: Vec<WorkRow>,
    pager: Pager,
}

/// `GET /studio/works?page=`: every work of the shop, newest first.
pub async fn list(State(state): State<AppState>, shopper: Shopper, RawQuery(raw): RawQuery) -> ShopResult {
    let query = query_map(raw.as_deref())?;
    let vendor = approved_shop(&state, &shopper.actor).await?;
    let page_number = page_number(&query)?;
    let page = state
        .market
        .catalog()
        .vendor_products(&shopper.actor, PageRequest::new(page_number, 20))
        .await?;
    let currency = state.market.config().currency.clone();
    let pager = Pager::new("/studio/works", &[], &page);
    let rows = page
        .items
        .iter()
        .map(|p| WorkRow {
            id: p.id.to_string(),
            title: p.title.clone(),
            thumb: p.images.first().map(|i| state.media_urls.url(&i.thumb_key)),
            initial: p.title.chars().next().map(|c| c.to_uppercase().to_string()).unwrap_or_default(),
            status: status_label(p.status),
            status_class: p.status.as_str(),
            kind: match p.kind {
                ProductKind::Physical => "Original / physical",
                ProductKind::Digital => "Digital download",
            },
            price: money(p.price.cents(), &currency),
            stock: match (p.kind, p.stock) {
                (ProductKind::Digital, _) => "—".to_owned(),
                (_, Some(n)) => n.to_string(),
                (_, None) => "unlimited".to_owned(),
            },
            updated: when(&p.updated_at),
        })
        .collect();
    render_with(
        StatusCode::OK,
        &WorksPage {
            chrome: chrome(&state, &shopper, "/studio/works", "Your works"),
            frame: Frame::approved("works", note(&query), &vendor.shop_name),
            rows,
            pager,
        },
    )
}

/// A category in the form's list, indented under its parent.
struct CategoryOption {
    id: String,
    label: String,
    selected: bool,
}

fn category_options(categories: &[CategoryView], selected: &str) -> Vec<CategoryOption> {
    fn walk(
        all: &[CategoryView],
        parent: Option<kalavpp_core::domain::CategoryId>,
        depth: usize,
        selected: &str,
        out: &mut Vec<CategoryOption>,
    ) {
        if depth > 16 {
            return;
        }
        for c in all.iter().filter(|c| c.parent_id == parent) {
            let id = c.id.to_string();
            out.push(CategoryOption {
                selected: id == selected || c.slug == selected,
                label: format!("{}{}", "\u{2014} ".repeat(depth), c.name),
                id,
            });
            walk(all, Some(c.id), depth + 1, selected, out);
        }
    }
    let mut out = Vec::with_capacity(categories.len());
    walk(categories, None, 0, selected, &mut out);
    out
}

/// What the work form shows (as typed, so a refused form comes back as it was sent).
#[derive(Default)]
struct WorkFields {
    title: String,
    description: String,
    kind: String,
    price: String,
    stock: String,
    category: String,
    tags: String,
}

impl WorkFields {
    fn from_form(fields: &HashMap<String, String>) -> Self {
        let get = |key: &str| fields.get(key).map(|v| v.trim().to_owned()).unwrap_or_default();
        Self {
            title: get("title"),
            description: get("description"),
            kind: get("kind"),
            price: get("price"),
            stock: get("stock"),
            category: get("category"),
            tags: get("tags"),
        }
    }

    fn from_product(p: &Product) -> Self {
        Self {
            title: p.title.clone(),
            description: p.description.clone(),
            kind: p.kind.as_str().to_owned(),
            price: major(p.price.cents()),
            stock: p.stock.map(|s| s.to_string()).unwrap_or_default(),
            category: p.category.id.to_string(),
            tags: p.tags.join(", "),
        }
    }
}

struct ImageView {
    id: String,
    thumb: String,
    number: usize,
    first: bool,
    last: bool,
}

#[derive(Template)]
#[template(path = "studio/work.html")]
struct WorkPage {
    chrome: Chrome,
    frame: Frame,
    /// `None` for a new work.
    id: Option<String>,
    /// The stored title (the form may hold a refused one).
    heading: String,
    slug: String,
    status: &'static str,
    status_class: &'static str,
    currency: String,
    form: WorkFields,
    categories: Vec<CategoryOption>,
    images: Vec<ImageView>,
    max_images: usize,
    digital: bool,
    has_file: bool,
    max_file: String,
    updated: String,
    errors: Vec<FieldError>,
    message: Option<String>,
}

impl WorkPage {
    fn error(&self, field: &str) -> Option<String> {
        error_for(&self.errors, field)
    }

    fn published(&self) -> bool {
        self.status_class == "published"
    }

    fn archived(&self) -> bool {
        self.status_class == "archived"
    }
}

fn size_label(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= 1024 * MIB {
        format!("{:.1} GiB", bytes as f64 / (1024 * MIB) as f64)
    } else {
        format!("{} MiB", bytes / MIB)
    }
}

async fn work_page(
    state: &AppState,
    shopper: &Shopper,
    vendor: &Vendor,
    product: Option<&Product>,
    form: WorkFields,
) -> Result<WorkPage, Error> {
    let categories = state.market.catalog().categories().await?;
    let path = product.map_or_else(|| "/studio/works/new".to_owned(), |p| format!("/studio/works/{}", p.id));
    let title = product.map_or("Add a work", |_| "Edit work");
    let images = product.map_or_else(Vec::new, |p| {
        let count = p.images.len();
        p.images
            .iter()
            .enumerate()
            .map(|(i, image)| ImageView {
                id: image.id.to_string(),
                thumb: state.media_urls.url(&image.thumb_key),
                number: i + 1,
                first: i == 0,
                last: i + 1 == count,
            })
            .collect()
    });
    Ok(WorkPage {
        chrome: chrome(state, shopper, &path, title),
        frame: Frame::approved("works", None, &vendor.shop_name),
        id: product.map(|p| p.id.to_string()),
        heading: product.map(|p| p.title.clone()).unwrap_or_default(),
        slug: product.map(|p| p.slug.clone()).unwrap_or_default(),
        status: product.map_or("New", |p| status_label(p.status)),
        status_class: product.map_or("draft", |p| p.status.as_str()),
        currency: state.market.config().currency.to_uppercase(),
        categories: category_options(&categories, &form.category),
        form,
        images,
        max_images: usize::try_from(kalavpp_core::services::MAX_IMAGES_PER_PRODUCT).unwrap_or(10),
        digital: product.is_some_and(|p| p.kind == ProductKind::Digital),
        has_file: product.is_some_and(|p| p.has_asset),
        max_file: size_label(state.market.config().max_asset_bytes),
        updated: product.map(|p| when(&p.updated_at)).unwrap_or_default(),
        errors: vec![],
        message: None,
    })
}

/// `GET /studio/works/new`.
pub async fn new_page(State(state): State<AppState>, shopper: Shopper) -> ShopResult {
    let vendor = approved_shop(&state, &shopper.actor).await?;
    let form = WorkFields {
        kind: "physical".to_owned(),
        stock: "1".to_owned(),
        ..WorkFields::default()
    };
    let page = work_page(&state, &shopper, &vendor, None, form).await?;
    render_with(StatusCode::OK, &page)
}

/// The form again with the services' complaints beside their fields (`422`) or above it (`409`).
async fn refused(state: &AppState, form: &ShopForm, vendor: &Vendor, product: Option<&Product>, err: Error) -> ShopResult {
    let (status, errors, message) = match err {
        Error::Validation(errors) => (StatusCode::UNPROCESSABLE_ENTITY, errors, None),
        Error::Conflict { message, .. } => (StatusCode::CONFLICT, vec![], Some(message)),
        other => return Err(other.into()),
    };
    let mut page = work_page(state, &form.shopper, vendor, product, WorkFields::from_form(&form.fields)).await?;
    page.errors = errors;
    page.message = message;
    render_with(status, &page)
}

/// `POST /studio/works`: a new work, saved as a draft or published at once (`status`).
pub async fn create(State(state): State<AppState>, form: ShopForm) -> ShopResult {
    let vendor = approved_shop(&state, &form.shopper.actor).await?;
    let draft = (|| -> Result<ProductDraft, Error> {
        let f = &form.fields;
        let kind = field(f, "kind").unwrap_or("physical").to_owned();
        Ok(ProductDraft {
            title: field(f, "title").unwrap_or_default().to_owned(),
            description: field(f, "description").unwrap_or_default().to_owned(),
            stock: if kind == "digital" {
                None
            } else {
                count_field("stock", field(f, "stock"))?
            },
            kind,
            price_cents: price_field("price", field(f, "price"))?.unwrap_or(0),
            category_id: field(f, "category").unwrap_or_default().to_owned(),
            tags: tags(field(f, "tags")),
            status: Some(
                if field(f, "status") == Some("published") {
                    "published"
                } else {
                    "draft"
                }
                .to_owned(),
            ),
        })
    })();
    let result = match draft {
        Ok(draft) => state.market.catalog().create_product(&form.shopper.actor, draft).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(product) => {
            let key = if product.status == ProductStatus::Published {
                "published"
            } else {
                "created"
            };
            Ok(done(&format!("/studio/works/{}", product.id), key))
        }
        Err(err) => refused(&state, &form, &vendor, None, err).await,
    }
}

/// `GET /studio/works/{id}`.
pub async fn edit_page(State(state): State<AppState>, shopper: Shopper, Path(id): Path<String>, RawQuery(raw): RawQuery) -> ShopResult {
    let query = query_map(raw.as_deref())?;
    let (vendor, product) = own_work(&state, &shopper.actor, &id).await?;
    let mut page = work_page(&state, &shopper, &vendor, Some(&product), WorkFields::from_product(&product)).await?;
    page.frame.note = note(&query);
    render_with(StatusCode::OK, &page)
}

/// `POST /studio/works/{id}`: saves the details (the status changes through its own buttons).
pub async fn update(State(state): State<AppState>, Path(id): Path<String>, form: ShopForm) -> ShopResult {
    let (vendor, product) = own_work(&state, &form.shopper.actor, &id).await?;
    let edit = (|| -> Result<ProductEdit, Error> {
        let f = &form.fields;
        // A field the form did not send keeps its value; a sent one is saved as typed.
        let sent = |key: &str| f.get(key).map(|v| v.trim().to_owned());
        let kind = field(f, "kind").map(str::to_owned);
        let digital = kind.as_deref().unwrap_or(product.kind.as_str()) == "digital";
        let price_cents = match sent("price") {
            None => None,
            Some(text) if text.is_empty() => return Err(Error::invalid("price", "is required")),
            Some(text) => price_field("price", Some(&text))?,
        };
        Ok(ProductEdit {
            title: sent("title"),
            description: sent("description"),
            price_cents,
            stock: if digital { None } else { count_field("stock", field(f, "stock"))? },
            kind,
            category_id: field(f, "category").map(str::to_owned),
            tags: sent("tags").map(|t| tags(Some(&t))),
            status: None,
        })
    })();
    let result = match edit {
        Ok(edit) => state.market.catalog().update_product(&form.shopper.actor, product.id, edit).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(_) => Ok(done(&format!("/studio/works/{}", product.id), "saved")),
        Err(err) => refused(&state, &form, &vendor, Some(&product), err).await,
    }
}

/// `POST /studio/works/{id}/status/{publish|unpublish|archive|restore}`.
pub async fn set_status(State(state): State<AppState>, Path((id, to)): Path<(String, String)>, form: ShopForm) -> ShopResult {
    let (_, product) = own_work(&state, &form.shopper.actor, &id).await?;
    let catalog = state.market.catalog();
    let actor = &form.shopper.actor;
    let status = |s: &str| ProductEdit {
        status: Some(s.to_owned()),
        ..ProductEdit::default()
    };
    let key = match to.as_str() {
        "publish" => catalog
            .update_product(actor, product.id, status("published"))
            .await
            .map(|_| "published"),
        "unpublish" | "restore" => catalog
            .update_product(actor, product.id, status("draft"))
            .await
            .map(|_| "unpublished"),
        "archive" => catalog.archive_product(actor, product.id).await.map(|()| "archived"),
        _ => Err(Error::not_found("not_found", "no such action")),
    }?;
    Ok(done(&format!("/studio/works/{}", product.id), key))
}

fn image_id(text: &str) -> Result<ImageId, Error> {
    ImageId::parse(text).ok_or_else(|| Error::not_found("image_not_found", "image not found"))
}

/// `POST /studio/works/{id}/images/{image}/delete`.
pub async fn delete_image(State(state): State<AppState>, Path((id, image)): Path<(String, String)>, form: ShopForm) -> ShopResult {
    let (_, product) = own_work(&state, &form.shopper.actor, &id).await?;
    state
        .market
        .media()
        .delete_image(&form.shopper.actor, product.id, image_id(&image)?)
        .await?;
    Ok(done(&format!("/studio/works/{}", product.id), "image-removed"))
}

/// `POST /studio/works/{id}/images/{image}/move` with `to` = `first`, `up` or `down`.
pub async fn move_image(State(state): State<AppState>, Path((id, image)): Path<(String, String)>, form: ShopForm) -> ShopResult {
    let (_, product) = own_work(&state, &form.shopper.actor, &id).await?;
    let image = image_id(&image)?;
    let current = product
        .images
        .iter()
        .position(|i| i.id == image)
        .ok_or_else(|| Error::not_found("image_not_found", "image not found"))?;
    let position = match field(&form.fields, "to") {
        Some("first") => 0,
        Some("up") => current.saturating_sub(1),
        Some("down") => current + 1,
        _ => return Err(Error::invalid("to", "must be one of first, up, down").into()),
    };
    state
        .market
        .media()
        .move_image(&form.shopper.actor, product.id, image, position)
        .await?;
    Ok(done(&format!("/studio/works/{}", product.id), "image-moved"))
}

/// Where an upload of work `id` goes back to.
pub fn work_path(id: ProductId) -> String {
    format!("/studio/works/{id}")
}

/// The actor's own work for an upload route (the same checks as the edit page), with its kind.
pub async fn own_work_for_upload(state: &AppState, actor: &Actor, id: &str) -> Result<(ProductId, ProductKind), Error> {
    let (_, product) = own_work(state, actor, id).await?;
    Ok((product.id, product.kind))
}
