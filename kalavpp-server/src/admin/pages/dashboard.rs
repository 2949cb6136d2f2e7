//! The panel's dashboard (`GET /admin`): marketplace figures and charts of the last 30 days.

use askama::Template;
use axum::extract::{RawQuery, State};

use super::chrome;
use crate::admin::{Chrome, PanelAdmin, PanelResult, analytics, money, query_map, render};
use crate::app::AppState;

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    cards: Vec<(&'static str, Vec<(&'static str, String)>)>,
    figures: analytics::Figures,
    pending_vendors: i64,
}

/// `GET /admin`: the marketplace figures, and charts of the last 30 days.
pub async fn dashboard(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let t = state.market.stats().marketplace(&admin.actor).await?;
    let currency = state.market.config().currency.clone();
    let m = |cents: i64| money(cents, &currency);
    let cards = vec![
        (
            "Users",
            vec![
                ("Total", t.users_total.to_string()),
                ("Customers", t.customers.to_string()),
                ("Vendors", t.vendors.to_string()),
                ("Admins", t.admins.to_string()),
                ("New in the last 30 days", t.new_users.to_string()),
            ],
        ),
        (
            "Vendors",
            vec![
                ("Pending", t.vendors_pending.to_string()),
                ("Approved", t.vendors_approved.to_string()),
                ("Rejected", t.vendors_rejected.to_string()),
                ("Suspended", t.vendors_suspended.to_string()),
            ],
        ),
        (
            "Products",
            vec![
                ("Published", t.products_published.to_string()),
                ("Total", t.products_total.to_string()),
            ],
        ),
        (
            "Orders",
            vec![
                ("Total", t.orders_total.to_string()),
                ("Paid", t.orders_paid.to_string()),
                ("Completed", t.orders_completed.to_string()),
                ("Pending payment", t.orders_pending_payment.to_string()),
                ("Refunded", t.orders_refunded.to_string()),
            ],
        ),
        (
            "Money",
            vec![
                ("Gross merchandise value", m(t.gmv.cents())),
                ("Commission", m(t.commission.cents())),
                ("Payouts requested", m(t.payouts_requested.cents())),
                ("Payouts approved", m(t.payouts_approved.cents())),
                ("Payouts paid", m(t.payouts_paid.cents())),
            ],
        ),
    ];
    render(&DashboardPage {
        chrome: chrome(&admin, &query, "dashboard"),
        cards,
        figures: analytics::dashboard_figures(&state, &admin.actor).await?,
        pending_vendors: t.vendors_pending,
    })
}
