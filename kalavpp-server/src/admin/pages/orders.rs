//! The panel's order pages: the order list (`GET /admin/orders`) and one order with its lines
//! and payment actions (`GET /admin/orders/{id}`).

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use kalavpp_core::Error;
use kalavpp_core::domain::{OrderFilter, OrderId, OrderStatus};

use super::{Opt, chrome, day, filter, options, vendor_id};
use crate::admin::{Chrome, Pager, PanelAdmin, PanelResult, money, page_request, query_map, render, when};
use crate::app::AppState;

struct OrderRow {
    id: String,
    number: String,
    status: &'static str,
    total: String,
    items: usize,
    created: String,
}

#[derive(Template)]
#[template(path = "admin/orders.html")]
struct OrdersPage {
    chrome: Chrome,
    vendor: String,
    from: String,
    to: String,
    statuses: Vec<Opt>,
    rows: Vec<OrderRow>,
    pager: Pager,
}

/// `GET /admin/orders?status=&vendor=&from=&to=&page=` (`vendor`: orders with lines of that
/// shop; `from` / `to`: placed on or between those `YYYY-MM-DD` days, UTC).
pub async fn orders(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let status = filter(&query, "status", OrderStatus::parse)?;
    let vendor = filter(&query, "vendor", vendor_id)?;
    let from = filter(&query, "from", |t| crate::api::admin::parse_time(t, false))?;
    let to = filter(&query, "to", |t| crate::api::admin::parse_time(t, true))?;
    let order_filter = OrderFilter {
        status,
        vendor_id: vendor,
        from,
        to,
        ..OrderFilter::default()
    };
    let page = state
        .market
        .orders()
        .list_all(&admin.actor, order_filter, page_request(&query)?)
        .await?;
    let status = status.map(kalavpp_core::domain::OrderStatus::as_str).unwrap_or_default().to_owned();
    let vendor = vendor.map(|v| v.to_string()).unwrap_or_default();
    let (from, to) = (day(from), day(to));
    let pager = Pager::new(
        "/admin/orders",
        &[("status", &status), ("vendor", &vendor), ("from", &from), ("to", &to)],
        &page,
    );
    let rows = page
        .items
        .into_iter()
        .map(|o| OrderRow {
            id: o.id.to_string(),
            number: o.number,
            status: o.status.as_str(),
            total: money(o.total.cents(), &o.currency),
            items: o.items.len(),
            created: when(&o.created_at),
        })
        .collect();
    render(&OrdersPage {
        chrome: chrome(&admin, &query, "orders"),
        vendor,
        from,
        to,
        statuses: options(
            &[
                "pending_payment",
                "paid",
                "completed",
                "payment_failed",
                "cancelled",
                "expired",
                "refunded",
            ],
            &status,
        ),
        rows,
        pager,
    })
}

struct ItemRow {
    title: String,
    kind: &'static str,
    vendor_id: String,
    quantity: i64,
    unit_price: String,
    line_total: String,
    commission: String,
    fulfilment: &'static str,
}

struct ActionRow {
    kind: &'static str,
    status: &'static str,
    amount: String,
    result: String,
    attempts: i32,
    error: String,
    at: String,
}

#[derive(Template)]
#[template(path = "admin/order.html")]
struct OrderPage {
    chrome: Chrome,
    actions: Vec<ActionRow>,
    id: String,
    number: String,
    status: &'static str,
    buyer: String,
    items: Vec<ItemRow>,
    subtotal: String,
    total: String,
    commission: String,
    shipping: String,
    created: String,
    paid: String,
    refundable: bool,
}

/// `GET /admin/orders/{id}`.
pub async fn order(State(state): State<AppState>, admin: PanelAdmin, Path(id): Path<String>, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let id = OrderId::parse(&id).ok_or_else(|| Error::not_found("order_not_found", "order not found"))?;
    let o = state.market.orders().get(&admin.actor, id).await?;
    let currency = o.currency.clone();
    let actions = state
        .market
        .orders()
        .payment_actions(&admin.actor, id)
        .await?
        .iter()
        .map(|a| ActionRow {
            kind: match a.kind {
                kalavpp_core::domain::IntentKind::CreateSession => "open checkout session",
                kalavpp_core::domain::IntentKind::ExpireSession => "expire checkout session",
                kalavpp_core::domain::IntentKind::Refund => "refund",
                kalavpp_core::domain::IntentKind::AutoRefund => "automatic refund (payment the order could not take)",
            },
            status: a.status.as_str(),
            amount: if a.amount_cents > 0 {
                money(a.amount_cents, &currency)
            } else {
                String::new()
            },
            result: a.result_id.clone().unwrap_or_default(),
            attempts: a.attempts,
            error: a.last_error.clone().unwrap_or_default(),
            at: when(&a.updated_at),
        })
        .collect();
    let items = o
        .items
        .iter()
        .map(|i| ItemRow {
            title: i.title.clone(),
            kind: i.kind.as_str(),
            vendor_id: i.vendor_id.to_string(),
            quantity: i.quantity,
            unit_price: money(i.unit_price.cents(), &currency),
            line_total: money(i.line_total.cents(), &currency),
            commission: money(i.commission.cents(), &currency),
            fulfilment: i.fulfilment_status.as_str(),
        })
        .collect();
    render(&OrderPage {
        chrome: chrome(&admin, &query, "orders"),
        actions,
        id: o.id.to_string(),
        number: o.number.clone(),
        status: o.status.as_str(),
        buyer: o.user_id.to_string(),
        items,
        subtotal: money(o.subtotal.cents(), &currency),
        total: money(o.total.cents(), &currency),
        commission: money(o.commission.cents(), &currency),
        shipping: o
            .shipping_address
            .as_ref()
            .map(|a| serde_json::to_string_pretty(a).unwrap_or_default())
            .unwrap_or_default(),
        created: when(&o.created_at),
        paid: o.paid_at.as_ref().map(when).unwrap_or_default(),
        refundable: matches!(o.status, OrderStatus::Paid | OrderStatus::Completed),
    })
}
