//! The approved artist's dashboard at `/studio`: the figures of `GET /vendor/stats`, the last 30
//! days' sales as a chart, and the best-selling works.

use askama::Template;
use axum::http::StatusCode;
use kalavpp_core::domain::Vendor;

use super::chrome;
use super::forms::Frame;
use crate::app::AppState;
use crate::storefront::session::Shopper;
use crate::storefront::{Chrome, ShopResult, render_with};
use crate::web::chart::{BarChart, Unit};
use crate::web::money;

struct Figure {
    label: &'static str,
    value: String,
    hint: &'static str,
}

struct TopWork {
    title: String,
    slug: String,
    units: i64,
    gross: String,
}

#[derive(Template)]
#[template(path = "studio/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    frame: Frame,
    slug: String,
    figures: Vec<Figure>,
    balances: Vec<Figure>,
    sales_chart: String,
    orders_chart: String,
    sales_rows: Vec<(String, String)>,
    top: Vec<TopWork>,
}

/// Renders the dashboard of `vendor` (approved) for `shopper`.
pub async fn page(state: &AppState, shopper: &Shopper, vendor: &Vendor, note: Option<&'static str>) -> ShopResult {
    let dashboard = state.market.stats().vendor_dashboard(&shopper.actor).await?;
    let currency = state.market.config().currency.to_uppercase();
    let m = |cents: i64| money(cents, &currency);
    let sales = &dashboard.sales;
    let balance = &dashboard.balance;
    let figures = vec![
        Figure {
            label: "Sales, last 30 days",
            value: m(sales.gross_sales.cents()),
            hint: "what buyers paid for your works",
        },
        Figure {
            label: "Your net, last 30 days",
            value: m(sales.net_earnings.cents()),
            hint: "after the marketplace's commission",
        },
        Figure {
            label: "Orders",
            value: sales.order_count.to_string(),
            hint: "paid orders with your works",
        },
        Figure {
            label: "Works sold",
            value: sales.units_sold.to_string(),
            hint: "units",
        },
        Figure {
            label: "Works listed",
            value: sales.product_count.to_string(),
            hint: "drafts and published",
        },
    ];
    let balances = vec![
        Figure {
            label: "Available",
            value: m(balance.available.cents()),
            hint: "you can request this now",
        },
        Figure {
            label: "Pending",
            value: m(balance.pending.cents()),
            hint: "released once shipped and past the refund window",
        },
        Figure {
            label: "Held for payouts",
            value: m(balance.held.cents()),
            hint: "requested, not paid yet",
        },
        Figure {
            label: "Paid out",
            value: m(balance.paid_out.cents()),
            hint: "so far",
        },
    ];
    let days = |value: fn(&kalavpp_core::domain::DaySales) -> i64| -> Vec<(String, i64)> {
        sales
            .by_day
            .iter()
            .map(|d| (d.date.format("%b %-d").to_string(), value(d)))
            .collect()
    };
    let sales_chart = BarChart {
        id: "sales-by-day",
        title: "Sales per day, last 30 days".to_owned(),
        unit: Unit::Money(currency.clone()),
        points: days(|d| d.gross.cents()),
    };
    let orders_chart = BarChart {
        id: "orders-by-day",
        title: "Orders per day, last 30 days".to_owned(),
        unit: Unit::Count,
        points: days(|d| d.orders),
    };
    let top = sales
        .top_products
        .iter()
        .map(|p| TopWork {
            title: p.title.clone(),
            slug: p.slug.clone(),
            units: p.units_sold,
            gross: m(p.gross.cents()),
        })
        .collect();
    let page = DashboardPage {
        chrome: chrome(state, shopper, "/studio", "Studio dashboard"),
        frame: Frame::approved("dashboard", note, &vendor.shop_name),
        slug: vendor.slug.clone(),
        figures,
        balances,
        sales_rows: sales_chart.rows(),
        sales_chart: sales_chart.svg(),
        orders_chart: orders_chart.svg(),
        top,
    };
    render_with(StatusCode::OK, &page)
}
