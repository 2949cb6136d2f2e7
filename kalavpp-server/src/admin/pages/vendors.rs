//! The panel's vendor list (`GET /admin/vendors`).

use askama::Template;
use axum::extract::{RawQuery, State};
use kalavpp_core::domain::{VendorFilter, VendorStatus};

use super::{Opt, chrome, filter, options};
use crate::admin::{Chrome, Pager, PanelAdmin, PanelResult, commission, page_request, query_map, render, when};
use crate::app::AppState;

struct VendorRow {
    id: String,
    shop_name: String,
    slug: String,
    status: &'static str,
    rejection_reason: String,
    products: i64,
    applied: String,
    /// The override as a form value (`12.50`), blank for the marketplace default.
    commission: String,
    /// What applies, e.g. `12.50 %` or `10.00 % (default)`.
    commission_shown: String,
}

#[derive(Template)]
#[template(path = "admin/vendors.html")]
struct VendorsPage {
    chrome: Chrome,
    statuses: Vec<Opt>,
    rows: Vec<VendorRow>,
    pager: Pager,
}

/// `GET /admin/vendors?status=&page=`.
pub async fn vendors(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let status = filter(&query, "status", VendorStatus::parse)?;
    let page = state
        .market
        .vendors()
        .list_all(&admin.actor, VendorFilter { status }, page_request(&query)?)
        .await?;
    let status = status
        .map(kalavpp_core::domain::VendorStatus::as_str)
        .unwrap_or_default()
        .to_owned();
    let pager = Pager::new("/admin/vendors", &[("status", &status)], &page);
    let default_bps = i64::from(state.market.config().commission_bps);
    let rows = page
        .items
        .into_iter()
        .map(|v| VendorRow {
            id: v.id.to_string(),
            shop_name: v.shop_name,
            slug: v.slug,
            status: v.status.as_str(),
            rejection_reason: v.rejection_reason.unwrap_or_default(),
            products: v.product_count,
            applied: when(&v.created_at),
            commission: v
                .commission_bps
                .map(|bps| commission::bps_to_percent(i64::from(bps)).trim_end_matches(" %").to_owned())
                .unwrap_or_default(),
            commission_shown: v.commission_bps.map_or_else(
                || format!("{} (default)", commission::bps_to_percent(default_bps)),
                |bps| commission::bps_to_percent(i64::from(bps)),
            ),
        })
        .collect();
    render(&VendorsPage {
        chrome: chrome(&admin, &query, "vendors"),
        statuses: options(&["pending", "approved", "rejected", "suspended"], &status),
        rows,
        pager,
    })
}
