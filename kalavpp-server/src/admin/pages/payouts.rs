//! The panel's payout list (`GET /admin/payouts`).

use std::collections::HashMap;

use askama::Template;
use axum::extract::{RawQuery, State};
use kalavpp_core::domain::PayoutStatus;

use super::{Opt, chrome, filter, options, vendor_id};
use crate::admin::{Chrome, Pager, PanelAdmin, PanelResult, money, page_request, query_map, render, when};
use crate::app::AppState;

struct PayoutRow {
    id: String,
    vendor_id: String,
    /// The shop's name and where to send the money (its private payout details).
    shop: String,
    pay_to: String,
    amount: String,
    status: &'static str,
    requested: String,
    note: String,
}

#[derive(Template)]
#[template(path = "admin/payouts.html")]
struct PayoutsPage {
    chrome: Chrome,
    vendor: String,
    statuses: Vec<Opt>,
    rows: Vec<PayoutRow>,
    pager: Pager,
}

/// `GET /admin/payouts?status=&vendor=&page=`.
pub async fn payouts(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let status = filter(&query, "status", PayoutStatus::parse)?;
    let vendor = filter(&query, "vendor", vendor_id)?;
    let page = state
        .market
        .payouts()
        .list(&admin.actor, status, vendor, page_request(&query)?)
        .await?;
    let status = status
        .map(kalavpp_core::domain::PayoutStatus::as_str)
        .unwrap_or_default()
        .to_owned();
    let vendor = vendor.map(|v| v.to_string()).unwrap_or_default();
    let pager = Pager::new("/admin/payouts", &[("status", &status), ("vendor", &vendor)], &page);
    // The shops on this page (at most one page of them), with their payout details.
    let mut shops: HashMap<kalavpp_core::domain::VendorId, (String, String)> = HashMap::new();
    for payout in &page.items {
        if let std::collections::hash_map::Entry::Vacant(slot) = shops.entry(payout.vendor_id) {
            let vendor = state.market.vendors().for_admin(&admin.actor, payout.vendor_id).await?;
            let pay_to = match &vendor.payout_details {
                Some(serde_json::Value::String(text)) => text.clone(),
                Some(details) => serde_json::to_string_pretty(details).unwrap_or_default(),
                None => String::new(),
            };
            slot.insert((vendor.shop_name, pay_to));
        }
    }
    let rows = page
        .items
        .into_iter()
        .map(|p| PayoutRow {
            id: p.id.to_string(),
            vendor_id: p.vendor_id.to_string(),
            shop: shops.get(&p.vendor_id).map(|s| s.0.clone()).unwrap_or_default(),
            pay_to: shops.get(&p.vendor_id).map(|s| s.1.clone()).unwrap_or_default(),
            amount: money(p.amount.cents(), &p.currency),
            status: p.status.as_str(),
            requested: when(&p.requested_at),
            note: p
                .reference
                .map(|r| format!("reference: {r}"))
                .or(p.rejection_reason.map(|r| format!("rejected: {r}")))
                .unwrap_or_default(),
        })
        .collect();
    render(&PayoutsPage {
        chrome: chrome(&admin, &query, "payouts"),
        vendor,
        statuses: options(&["requested", "approved", "paid", "rejected"], &status),
        rows,
        pager,
    })
}
