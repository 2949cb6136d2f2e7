//! The artist's orders: every order holding their works (only their own lines, with their own
//! totals and commission), the buyer's address only once the order is paid, and the form that
//! marks a physical line shipped with its carrier and tracking number.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use kalavpp_core::domain::OrderFilter;
use kalavpp_core::domain::{FulfilmentStatus, OrderId, OrderItemId, OrderStatus, PageRequest, ProductKind};
use kalavpp_core::{Error, FieldError};

use super::forms::{Frame, page_number};
use super::works::approved_shop;
use super::{chrome, done, note};
use crate::admin::Pager;
use crate::app::AppState;
use crate::storefront::session::{ShopForm, Shopper};
use crate::storefront::{Chrome, ShopResult, address_lines, render_with};
use crate::web::{field, money, query_map, when};

struct LineView {
    id: String,
    title: String,
    quantity: i64,
    total: String,
    net: String,
    physical: bool,
    shipped: bool,
    can_ship: bool,
    shipping: String,
}

struct OrderView {
    id: String,
    number: String,
    status: &'static str,
    status_class: &'static str,
    placed: String,
    total: String,
    commission: String,
    lines: Vec<LineView>,
    address: Vec<String>,
    to_ship: bool,
}

struct StatusOption {
    value: &'static str,
    label: &'static str,
    selected: bool,
}

#[derive(Template)]
#[template(path = "studio/orders.html")]
struct OrdersPage {
    chrome: Chrome,
    frame: Frame,
    statuses: Vec<StatusOption>,
    orders: Vec<OrderView>,
    pager: Pager,
    filtered: bool,
}

fn status_label(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::PendingPayment => "Awaiting payment",
        OrderStatus::Paid => "Paid — to prepare",
        OrderStatus::Completed => "Completed",
        OrderStatus::PaymentFailed => "Payment failed",
        OrderStatus::Cancelled => "Cancelled",
        OrderStatus::Expired => "Expired",
        OrderStatus::Refunded => "Refunded",
    }
}

const STATUSES: [(&str, &str); 4] = [
    ("paid", "Paid — to prepare"),
    ("completed", "Completed"),
    ("pending_payment", "Awaiting payment"),
    ("refunded", "Refunded"),
];

/// `GET /studio/orders?status=&page=`: newest first.
pub async fn list(State(state): State<AppState>, shopper: Shopper, RawQuery(raw): RawQuery) -> ShopResult {
    let query = query_map(raw.as_deref())?;
    let vendor = approved_shop(&state, &shopper.actor).await?;
    let status = field(&query, "status")
        .map(|s| OrderStatus::parse(s).map_err(|m| Error::Validation(vec![FieldError::new("status", m)])))
        .transpose()?;
    let page_number = page_number(&query)?;
    let filter = OrderFilter {
        status,
        ..OrderFilter::default()
    };
    let page = state
        .market
        .orders()
        .for_vendor(&shopper.actor, filter, PageRequest::new(page_number, 20))
        .await?;
    let current = status.map(kalavpp_core::domain::OrderStatus::as_str).unwrap_or_default();
    let pager = Pager::new("/studio/orders", &[("status", current)], &page);
    let orders = page
        .items
        .iter()
        .map(|o| {
            let paid = matches!(o.status, OrderStatus::Paid | OrderStatus::Completed);
            let lines: Vec<LineView> = o
                .items
                .iter()
                .map(|i| {
                    let physical = i.kind == ProductKind::Physical;
                    let shipped = i.fulfilment_status != FulfilmentStatus::Unfulfilled;
                    let shipping = [i.carrier.as_deref(), i.tracking_number.as_deref()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" · ");
                    LineView {
                        id: i.id.to_string(),
                        title: i.title.clone(),
                        quantity: i.quantity,
                        total: money(i.line_total.cents(), &o.currency),
                        net: money(i.vendor_net.cents(), &o.currency),
                        physical,
                        shipped,
                        can_ship: physical && !shipped && o.status == OrderStatus::Paid,
                        shipping,
                    }
                })
                .collect();
            OrderView {
                id: o.id.to_string(),
                number: o.number.clone(),
                status: status_label(o.status),
                status_class: o.status.as_str(),
                placed: when(&o.created_at),
                total: money(o.subtotal.cents(), &o.currency),
                commission: money(o.commission.cents(), &o.currency),
                to_ship: lines.iter().any(|l| l.can_ship),
                lines,
                address: if paid { address_lines(o.shipping_address.as_ref()) } else { vec![] },
            }
        })
        .collect();
    render_with(
        StatusCode::OK,
        &OrdersPage {
            chrome: chrome(&state, &shopper, "/studio/orders", "Your orders"),
            frame: Frame::approved("orders", note(&query), &vendor.shop_name),
            statuses: STATUSES
                .iter()
                .map(|(value, label)| StatusOption {
                    value,
                    label,
                    selected: *value == current,
                })
                .collect(),
            orders,
            pager,
            filtered: status.is_some(),
        },
    )
}

/// `POST /studio/orders/{id}/items/{item}/ship` with `carrier` and `tracking_number`.
pub async fn ship(State(state): State<AppState>, Path((order, item)): Path<(String, String)>, form: ShopForm) -> ShopResult {
    let not_found = || Error::not_found("order_item_not_found", "order line not found");
    let order = OrderId::parse(&order).ok_or_else(not_found)?;
    let item = OrderItemId::parse(&item).ok_or_else(not_found)?;
    let text = |key: &str| field(&form.fields, key).map(str::to_owned);
    state
        .market
        .orders()
        .fulfil(&form.shopper.actor, order, item, text("tracking_number"), text("carrier"))
        .await?;
    Ok(done("/studio/orders", "shipped"))
}
