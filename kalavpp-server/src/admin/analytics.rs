//! The panel's charts: the dashboard's last 30 days (GMV, orders, new users, top vendors) and the
//! analytics page (`/admin/analytics?from=&to=&interval=`), both from
//! [`Stats::analytics`](kalavpp_core::services::Stats::analytics) and drawn on the server with
//! the shared [`BarChart`].

use askama::Template;
use axum::extract::{RawQuery, State};
use kalavpp_core::auth::Actor;
use kalavpp_core::services::{Analytics, Interval};
use kalavpp_core::{Error, FieldError};

use super::{Chrome, PanelAdmin, PanelError, PanelResult, field, outcome, query_map, render};
use crate::app::AppState;
use crate::web::chart::{BarChart, Unit};

/// A chart ready for a template: the SVG (escaped inside) and its figures as text rows.
pub struct ChartView {
    /// Chart title, also the caption of its table.
    pub title: String,
    /// What the first column of the table holds (`Day`, `Week of`, `Month`).
    pub period: &'static str,
    /// The inline `<svg>`.
    pub svg: String,
    /// Label and value of each bar.
    pub rows: Vec<(String, String)>,
}

impl ChartView {
    fn new(chart: &BarChart, period: &'static str) -> Self {
        Self {
            title: chart.title.clone(),
            period,
            svg: chart.svg(),
            rows: chart.rows(),
        }
    }
}

/// One row of a "top vendors" table.
pub struct VendorLine {
    /// Shop name (user text: escaped by the template).
    pub shop_name: String,
    /// Vendor id.
    pub vendor_id: String,
    /// Paid orders with its lines.
    pub orders: i64,
    /// Units sold.
    pub units: i64,
    /// Gross sales.
    pub gross: String,
    /// Commission on them.
    pub commission: String,
}

/// One row of a "top products" or "top categories" table.
pub struct SalesLine {
    /// Product title or category name.
    pub name: String,
    /// Units sold.
    pub units: i64,
    /// Gross sales.
    pub gross: String,
}

/// The charts and tables of one analytics window.
pub struct Figures {
    /// Headline sums of the window: label and value written in full.
    pub kpis: Vec<(&'static str, String)>,
    /// Bar charts, in page order.
    pub charts: Vec<ChartView>,
    /// Best vendors by gross.
    pub top_vendors: Vec<VendorLine>,
    /// Best products by gross.
    pub top_products: Vec<SalesLine>,
    /// Best categories by gross.
    pub top_categories: Vec<SalesLine>,
}

fn period_name(interval: Interval) -> &'static str {
    match interval {
        Interval::Day => "Day",
        Interval::Week => "Week of",
        Interval::Month => "Month",
    }
}

fn figures(a: &Analytics, currency: &str, with_commission: bool, span: &str) -> Figures {
    let series = |f: &dyn Fn(&kalavpp_core::services::Period) -> i64| -> Vec<(String, i64)> {
        a.series.iter().map(|p| (p.period.clone(), f(p))).collect()
    };
    let period = period_name(a.interval);
    let mut charts = vec![
        BarChart {
            id: "chart-gmv",
            title: format!("Gross merchandise value{span}"),
            unit: Unit::Money(currency.to_owned()),
            points: series(&|p| p.gmv.cents()),
        },
        BarChart {
            id: "chart-orders",
            title: format!("Paid orders{span}"),
            unit: Unit::Count,
            points: series(&|p| p.orders),
        },
        BarChart {
            id: "chart-users",
            title: format!("New users{span}"),
            unit: Unit::Count,
            points: series(&|p| p.new_users),
        },
    ];
    if with_commission {
        charts.insert(
            1,
            BarChart {
                id: "chart-commission",
                title: format!("Commission{span}"),
                unit: Unit::Money(currency.to_owned()),
                points: series(&|p| p.commission.cents()),
            },
        );
    }
    let in_money = Unit::Money(currency.to_owned());
    let gmv: i64 = a.series.iter().map(|p| p.gmv.cents()).sum();
    let orders: i64 = a.series.iter().map(|p| p.orders).sum();
    let commission: i64 = a.series.iter().map(|p| p.commission.cents()).sum();
    let users: i64 = a.series.iter().map(|p| p.new_users).sum();
    Figures {
        kpis: vec![
            ("Gross merchandise value", in_money.full(gmv)),
            ("Paid orders", Unit::Count.full(orders)),
            (
                "Average order",
                if orders > 0 {
                    in_money.full(gmv / orders)
                } else {
                    "–".to_owned()
                },
            ),
            ("Commission earned", in_money.full(commission)),
            ("New users", Unit::Count.full(users)),
        ],
        charts: charts.iter().map(|c| ChartView::new(c, period)).collect(),
        top_vendors: a
            .top_vendors
            .iter()
            .map(|v| VendorLine {
                shop_name: v.shop_name.clone(),
                vendor_id: v.vendor_id.to_string(),
                orders: v.orders,
                units: v.units_sold,
                gross: in_money.full(v.gross.cents()),
                commission: in_money.full(v.commission.cents()),
            })
            .collect(),
        top_products: a
            .top_products
            .iter()
            .map(|p| SalesLine {
                name: p.title.clone(),
                units: p.units_sold,
                gross: in_money.full(p.gross.cents()),
            })
            .collect(),
        top_categories: a
            .top_categories
            .iter()
            .map(|c| SalesLine {
                name: c.name.clone(),
                units: c.units_sold,
                gross: in_money.full(c.gross.cents()),
            })
            .collect(),
    }
}

/// The dashboard's charts: GMV, paid orders and new users per day of the last 30 days, and the
/// top vendors of that window.
pub async fn dashboard_figures(state: &AppState, actor: &Actor) -> Result<Figures, PanelError> {
    let analytics = state.market.stats().analytics(actor, None, None, Interval::Day).await?;
    let currency = state.market.config().currency.to_uppercase();
    let mut figures = figures(&analytics, &currency, false, ", last 30 days");
    figures.top_vendors.truncate(5);
    Ok(figures)
}

#[derive(Template)]
#[template(path = "admin/analytics.html")]
struct AnalyticsPage {
    chrome: Chrome,
    from: String,
    to: String,
    interval: &'static str,
    intervals: Vec<(&'static str, bool)>,
    figures: Figures,
}

/// `GET /admin/analytics?from=&to=&interval=day|week|month`: the series as charts and the top
/// vendors, products and categories. Dates are `YYYY-MM-DD` (UTC, both days included); a bad
/// value is a `422` page naming the field.
pub async fn page(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let mut errors = Vec::new();
    let mut time = |key: &str, end_of_day: bool| {
        field(&query, key).and_then(|text| match crate::api::admin::parse_time(text, end_of_day) {
            Ok(t) => Some(t),
            Err(message) => {
                errors.push(FieldError::new(key, message));
                None
            }
        })
    };
    let (from, to) = (time("from", false), time("to", true));
    let interval = match field(&query, "interval").map(Interval::parse) {
        None => Interval::Day,
        Some(Ok(interval)) => interval,
        Some(Err(message)) => {
            errors.push(FieldError::new("interval", message));
            Interval::Day
        }
    };
    if !errors.is_empty() {
        return Err(Error::Validation(errors).into());
    }
    let analytics = state.market.stats().analytics(&admin.actor, from, to, interval).await?;
    let currency = state.market.config().currency.to_uppercase();
    let (first, last) = (analytics.from.date_naive(), analytics.to.date_naive());
    let span = format!(" per {}", period_name(interval).trim_end_matches(" of").to_lowercase());
    let current = match interval {
        Interval::Day => "day",
        Interval::Week => "week",
        Interval::Month => "month",
    };
    render(&AnalyticsPage {
        chrome: Chrome {
            name: admin.name.clone(),
            csrf: admin.csrf.clone(),
            done: outcome(&query),
            section: "analytics",
        },
        from: first.to_string(),
        to: last.to_string(),
        interval: current,
        intervals: ["day", "week", "month"].into_iter().map(|i| (i, i == current)).collect(),
        figures: figures(&analytics, &currency, true, &span),
    })
}
