//! Product moderation: `GET /admin/products` searches every product (any status, any vendor)
//! and `POST /admin/products/{id}/{archive|restore}` withdraws one from the catalog or puts it
//! back, through the catalog service (which audits admin edits and gives the refusals).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use kalavpp_core::domain::{ProductId, ProductStatus};
use kalavpp_core::services::{ProductEdit, ProductSearch};
use kalavpp_core::{Error, FieldError};

use axum::response::{IntoResponse, Redirect};

use super::{
    Chrome, OUTCOMES, Pager, PanelAdmin, PanelError, PanelForm, PanelResult, field, money, outcome, page_request, query_map, render, when,
};
use crate::app::AppState;

/// The layout's parts for `section`.
pub(super) fn chrome(admin: &PanelAdmin, query: &HashMap<String, String>, section: &'static str) -> Chrome {
    Chrome {
        name: admin.name.clone(),
        csrf: admin.csrf.clone(),
        done: outcome(query),
        section,
    }
}

/// One `<option>` of a filter.
struct Opt {
    value: &'static str,
    selected: bool,
}

struct ProductRow {
    id: String,
    title: String,
    slug: String,
    kind: &'static str,
    vendor: String,
    vendor_slug: String,
    vendor_status: &'static str,
    status: &'static str,
    price: String,
    stock: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "admin/products.html")]
struct ProductsPage {
    chrome: Chrome,
    q: String,
    vendor: String,
    statuses: Vec<Opt>,
    rows: Vec<ProductRow>,
    pager: Pager,
    /// The list's filters and page, so an action returns to the same view.
    back: String,
}

/// The list parameters an action returns to (only these keys, so the redirect stays on the list).
const KEPT: [&str; 4] = ["q", "status", "vendor", "page"];

/// `key=value&...` of the kept, non-empty list parameters of `query`.
fn kept_query(query: &HashMap<String, String>) -> String {
    let mut kept = form_urlencoded::Serializer::new(String::new());
    for key in KEPT {
        if let Some(value) = field(query, key) {
            kept.append_pair(key, value);
        }
    }
    kept.finish()
}

const STATUSES: [&str; 3] = ["draft", "published", "archived"];

/// `GET /admin/products?q=&status=&vendor=&page=`: every product, newest first.
pub async fn page(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let status = field(&query, "status")
        .map(|s| ProductStatus::parse(s).map_err(|message| PanelError(Error::Validation(vec![FieldError::new("status", message)]))))
        .transpose()?;
    let q = field(&query, "q").unwrap_or_default().to_owned();
    let vendor = field(&query, "vendor").unwrap_or_default().to_owned();
    let search = ProductSearch {
        q: Some(q.clone()),
        status,
        vendor: Some(vendor.clone()),
    };
    let page = state
        .market
        .admin()
        .list_products(&admin.actor, search, page_request(&query)?)
        .await?;
    let status = status.map(ProductStatus::as_str).unwrap_or_default();
    let pager = Pager::new("/admin/products", &[("q", &q), ("status", status), ("vendor", &vendor)], &page);
    let currency = state.market.config().currency.clone();
    let rows = page
        .items
        .into_iter()
        .map(|p| ProductRow {
            id: p.id.to_string(),
            title: p.title,
            slug: p.slug,
            kind: p.kind.as_str(),
            vendor: p.vendor.shop_name,
            vendor_slug: p.vendor.slug,
            vendor_status: p.vendor.status.as_str(),
            status: p.status.as_str(),
            price: money(p.price.cents(), &currency),
            stock: p.stock.map_or_else(|| "unlimited".to_owned(), |s| s.to_string()),
            updated: when(&p.updated_at),
        })
        .collect();
    render(&ProductsPage {
        chrome: chrome(&admin, &query, "products"),
        q,
        vendor,
        statuses: STATUSES
            .iter()
            .map(|value| Opt {
                value,
                selected: *value == status,
            })
            .collect(),
        rows,
        pager,
        back: kept_query(&query),
    })
}

/// `POST /admin/products/{id}/{archive|restore}`: archive withdraws the product from the catalog
/// (`product.archive` audit row); restore publishes it again (`product.update`).
pub async fn action(State(state): State<AppState>, Path((id, action)): Path<(String, String)>, form: PanelForm) -> PanelResult {
    let not_found = |what: &str| Error::not_found("not_found", format!("no such {what}"));
    let id = ProductId::parse(&id).ok_or_else(|| not_found("product"))?;
    let catalog = state.market.catalog();
    let actor = &form.admin.actor;
    let outcome = match action.as_str() {
        "archive" => catalog.archive_product(actor, id).await.map(|()| "product archived"),
        "restore" => {
            let edit = ProductEdit {
                status: Some(ProductStatus::Published.as_str().to_owned()),
                ..ProductEdit::default()
            };
            catalog.update_product(actor, id, edit).await.map(|_| "product restored")
        }
        _ => Err(not_found("action")),
    }?;
    // Back to the list as it was (its filters from the form's `back`), with the outcome.
    let back = query_map(form.fields.get("back").map(String::as_str))?;
    let mut target = kept_query(&back);
    debug_assert!(OUTCOMES.contains(&outcome), "unknown outcome {outcome}");
    if !target.is_empty() {
        target.push('&');
    }
    target.push_str(
        &form_urlencoded::Serializer::new(String::new())
            .append_pair("done", outcome)
            .finish(),
    );
    Ok(Redirect::to(&format!("/admin/products?{target}")).into_response())
}
