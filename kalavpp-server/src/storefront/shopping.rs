//! The signed-in customer's pages: cart, checkout, orders (confirmation, downloads) and reviews.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect};
use kalavpp_core::domain::{FulfilmentStatus, OrderId, OrderStatus, PageRequest, ProductKind};
use kalavpp_core::services::ReviewDraft;
use kalavpp_core::{Error, FieldError};
use serde_json::{Map, Value};

use super::pages::{ShopPage, kind_label, shop_page};
use super::product::{ReviewOutcome, product_page};
use super::session::{ShopForm, Shopper, Visitor};
use super::{Chrome, ShopResult, error_for, render, render_with};
use crate::app::AppState;
use crate::web::{field, money, query_map, when};

struct CartLineView {
    product_id: String,
    slug: String,
    title: String,
    quantity: i64,
    unit_price: String,
    line_total: String,
    kind: &'static str,
    available: bool,
}

#[derive(Template)]
#[template(path = "storefront/cart.html")]
struct CartPage {
    chrome: Chrome,
    lines: Vec<CartLineView>,
    subtotal: String,
    any_unavailable: bool,
}

#[derive(Template)]
#[template(path = "storefront/checkout.html")]
struct CheckoutPage {
    chrome: Chrome,
    lines: Vec<CartLineView>,
    subtotal: String,
    needs_address: bool,
    address: Map<String, Value>,
    errors: Vec<FieldError>,
    message: Option<String>,
}

struct OrderSummary {
    id: String,
    number: String,
    status: &'static str,
    total: String,
    when: String,
    count: i64,
}

#[derive(Template)]
#[template(path = "storefront/orders.html")]
struct OrdersPage {
    chrome: Chrome,
    orders: Vec<OrderSummary>,
}

struct OrderLineView {
    title: String,
    product_id: String,
    quantity: i64,
    line_total: String,
    kind: &'static str,
    fulfilment: String,
    download: Option<DownloadView>,
}

struct DownloadView {
    url: String,
    filename: String,
    left: i32,
    expires: String,
}

#[derive(Template)]
#[template(path = "storefront/order.html")]
struct OrderPage {
    chrome: Chrome,
    id: String,
    number: String,
    status: &'static str,
    paid: bool,
    pending: bool,
    banner: Option<&'static str>,
    lines: Vec<OrderLineView>,
    total: String,
    placed: String,
    address: Vec<String>,
}

shop_page!(CartPage, CheckoutPage, OrdersPage, OrderPage);

fn dressed(state: &AppState, shopper: &Shopper, path: &str, title: &str) -> Chrome {
    let mut chrome = Chrome::new(state, path, title, "");
    shopper.dress(&mut chrome);
    chrome
}

fn status_label(status: OrderStatus) -> &'static str {
    match status {
        OrderStatus::PendingPayment => "Awaiting payment",
        OrderStatus::Paid => "Paid",
        OrderStatus::Completed => "Completed",
        OrderStatus::PaymentFailed => "Payment failed",
        OrderStatus::Cancelled => "Cancelled",
        OrderStatus::Expired => "Expired",
        OrderStatus::Refunded => "Refunded",
    }
}

async fn cart_lines(state: &AppState, shopper: &Shopper) -> Result<(Vec<CartLineView>, String, bool), Error> {
    let cart = state.market.cart().view(&shopper.actor).await?;
    let needs_address = cart.lines.iter().any(|l| l.kind == ProductKind::Physical);
    let lines = cart
        .lines
        .iter()
        .map(|l| CartLineView {
            product_id: l.product_id.to_string(),
            slug: l.slug.clone(),
            title: l.title.clone(),
            quantity: l.quantity,
            unit_price: money(l.unit_price.cents(), &cart.currency),
            line_total: money(l.unit_price.cents() * l.quantity, &cart.currency),
            kind: kind_label(l.kind),
            available: l.available,
        })
        .collect();
    Ok((lines, money(cart.subtotal.cents(), &cart.currency), needs_address))
}

/// `GET /cart`.
pub async fn cart(State(state): State<AppState>, shopper: Shopper) -> ShopResult {
    let (lines, subtotal, _) = cart_lines(&state, &shopper).await?;
    let mut chrome = dressed(&state, &shopper, "/cart", "Your cart");
    chrome.section = "cart";
    render(&CartPage {
        chrome,
        any_unavailable: lines.iter().any(|l| !l.available),
        lines,
        subtotal,
    })
}

fn quantity(form: &ShopForm, default: i64) -> Result<i64, Error> {
    match field(&form.fields, "quantity") {
        None => Ok(default),
        Some(text) => text.parse().map_err(|_| Error::invalid("quantity", "must be a whole number")),
    }
}

/// `POST /cart/add`: back to the product with a note that it is in the cart.
pub async fn add(State(state): State<AppState>, form: ShopForm) -> ShopResult {
    let product = field(&form.fields, "product_id").unwrap_or_default().to_owned();
    let quantity = quantity(&form, 1)?;
    state.market.cart().add(&form.shopper.actor, &product, quantity).await?;
    let slug = field(&form.fields, "slug").filter(|s| s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    Ok(match slug {
        Some(slug) => Redirect::to(&format!("/products/{slug}?added=1")).into_response(),
        None => Redirect::to("/cart").into_response(),
    })
}

/// `POST /cart/update`: a new quantity (0 removes the line).
pub async fn update(State(state): State<AppState>, form: ShopForm) -> ShopResult {
    let product = field(&form.fields, "product_id").unwrap_or_default().to_owned();
    let quantity = quantity(&form, 0)?;
    if quantity == 0 {
        state.market.cart().remove(&form.shopper.actor, &product).await?;
    } else {
        state.market.cart().set(&form.shopper.actor, &product, quantity).await?;
    }
    Ok(Redirect::to("/cart").into_response())
}

/// `GET /checkout`: the order summary and, for physical works, the shipping address form.
pub async fn checkout_page(State(state): State<AppState>, shopper: Shopper) -> ShopResult {
    let (lines, subtotal, needs_address) = cart_lines(&state, &shopper).await?;
    if lines.is_empty() {
        return Ok(Redirect::to("/cart").into_response());
    }
    render(&CheckoutPage {
        chrome: dressed(&state, &shopper, "/checkout", "Checkout"),
        lines,
        subtotal,
        needs_address,
        address: Map::new(),
        errors: vec![],
        message: None,
    })
}

/// The address form: field, label, required, autocomplete token.
const ADDRESS_FORM: [(&str, &str, bool, &str); 7] = [
    ("name", "Full name", true, "name"),
    ("line1", "Address", true, "address-line1"),
    ("line2", "Apartment, suite (optional)", false, "address-line2"),
    ("city", "City", true, "address-level2"),
    ("postal_code", "Postal code", true, "postal-code"),
    ("country", "Country", true, "country-name"),
    ("phone", "Phone (optional)", false, "tel"),
];

/// A shipping address as the lines of a label (the fields in the checkout form's order).
pub fn address_lines(address: Option<&Value>) -> Vec<String> {
    address
        .and_then(Value::as_object)
        .map(|a| {
            ADDRESS_FIELDS
                .iter()
                .filter_map(|k| a.get(*k).and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

const ADDRESS_FIELDS: [&str; 7] = ["name", "line1", "line2", "city", "postal_code", "country", "phone"];

/// `POST /checkout`: places the order and sends the buyer to the payment page; errors are shown
/// beside their fields.
pub async fn checkout(State(state): State<AppState>, form: ShopForm) -> ShopResult {
    let mut address = Map::new();
    for key in ADDRESS_FIELDS {
        if let Some(value) = field(&form.fields, key) {
            address.insert(key.to_owned(), Value::String(value.to_owned()));
        }
    }
    let shipping = (!address.is_empty()).then(|| Value::Object(address.clone()));
    let (errors, message) = match state.market.orders().checkout(&form.shopper.actor, shipping).await {
        Ok(outcome) => return Ok(Redirect::to(&outcome.checkout_url).into_response()),
        Err(Error::Validation(errors)) => (errors, None),
        Err(Error::Conflict { message, .. }) => (vec![], Some(message)),
        Err(other) => return Err(other.into()),
    };
    let (lines, subtotal, needs_address) = cart_lines(&state, &form.shopper).await?;
    if lines.is_empty() {
        return Ok(Redirect::to("/cart").into_response());
    }
    let status = if errors.is_empty() {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_with(
        status,
        &CheckoutPage {
            chrome: dressed(&state, &form.shopper, "/checkout", "Checkout"),
            lines,
            subtotal,
            needs_address,
            address,
            errors,
            message,
        },
    )
}

impl CheckoutPage {
    fn value(&self, key: &str) -> String {
        self.address.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
    }

    fn error(&self, key: &str) -> Option<String> {
        error_for(&self.errors, &format!("shipping_address.{key}"))
            .or_else(|| (key == "name").then(|| error_for(&self.errors, "shipping_address")).flatten())
    }
}

/// `GET /orders`: the customer's orders, newest first.
pub async fn orders(State(state): State<AppState>, shopper: Shopper) -> ShopResult {
    let page = state.market.orders().mine(&shopper.actor, PageRequest::new(1, 100)).await?;
    let mut chrome = dressed(&state, &shopper, "/orders", "Your orders");
    chrome.section = "orders";
    render(&OrdersPage {
        chrome,
        orders: page
            .items
            .iter()
            .map(|o| OrderSummary {
                id: o.id.to_string(),
                number: o.number.clone(),
                status: status_label(o.status),
                total: money(o.total.cents(), &o.currency),
                when: when(&o.created_at),
                count: o.items.iter().map(|i| i.quantity).sum(),
            })
            .collect(),
    })
}

/// `GET /orders/{id}`: the order, its download links and fulfilment; the payment provider's
/// success and cancel URLs land here (`?payment=success|cancelled`).
pub async fn order(State(state): State<AppState>, shopper: Shopper, Path(id): Path<String>, RawQuery(raw): RawQuery) -> ShopResult {
    let query = query_map(raw.as_deref())?;
    let id = OrderId::parse(&id).ok_or_else(|| Error::not_found("order_not_found", "order not found"))?;
    let order = state.market.orders().get(&shopper.actor, id).await?;
    let paid = matches!(order.status, OrderStatus::Paid | OrderStatus::Completed);
    let links = if paid {
        state.market.downloads().links(&shopper.actor, order.id).await?
    } else {
        vec![]
    };
    let banner = match (field(&query, "payment"), paid) {
        (Some("success"), true) => Some("Thank you! Your payment went through and your order is confirmed."),
        (Some("success"), false) => Some("Thank you! We are waiting for the payment provider to confirm your payment."),
        (Some("cancelled"), _) => Some("The payment was cancelled. Nothing was charged."),
        _ => None,
    };
    let lines = order
        .items
        .iter()
        .map(|item| OrderLineView {
            title: item.title.clone(),
            product_id: item.product_id.to_string(),
            quantity: item.quantity,
            line_total: money(item.line_total.cents(), &order.currency),
            kind: kind_label(item.kind),
            fulfilment: match (item.kind, item.fulfilment_status) {
                (ProductKind::Digital, _) if paid => "Ready to download".to_owned(),
                (ProductKind::Digital, _) => "Download after payment".to_owned(),
                (_, FulfilmentStatus::Unfulfilled) => "Being prepared".to_owned(),
                (_, FulfilmentStatus::Shipped) => match (&item.carrier, &item.tracking_number) {
                    (Some(carrier), Some(number)) => format!("Shipped with {carrier}, tracking {number}"),
                    (None, Some(number)) => format!("Shipped, tracking {number}"),
                    _ => "Shipped".to_owned(),
                },
                (_, FulfilmentStatus::Delivered) => "Delivered".to_owned(),
            },
            download: links.iter().find(|l| l.item_id == item.id).map(|l| DownloadView {
                url: format!("/api/v1/downloads/{}", l.token),
                filename: l.filename.clone(),
                left: l.downloads_left,
                expires: when(&l.expires_at),
            }),
        })
        .collect();
    let address = address_lines(order.shipping_address.as_ref());
    let title = format!("Order {}", order.number);
    let mut chrome = dressed(&state, &shopper, &format!("/orders/{}", order.id), &title);
    chrome.section = "orders";
    render(&OrderPage {
        chrome,
        id: order.id.to_string(),
        number: order.number.clone(),
        status: status_label(order.status),
        paid,
        pending: matches!(order.status, OrderStatus::PendingPayment | OrderStatus::PaymentFailed),
        banner,
        lines,
        total: money(order.total.cents(), &order.currency),
        placed: when(&order.created_at),
        address,
    })
}

/// `POST /orders/{id}/cancel`: an unpaid order is cancelled and its stock released.
pub async fn cancel(State(state): State<AppState>, Path(id): Path<String>, form: ShopForm) -> ShopResult {
    let id = OrderId::parse(&id).ok_or_else(|| Error::not_found("order_not_found", "order not found"))?;
    let order = state.market.orders().cancel(&form.shopper.actor, id).await?;
    Ok(Redirect::to(&format!("/orders/{}", order.id)).into_response())
}

/// `POST /products/{slug}/reviews`: a buyer's review; refusals are shown on the product page.
pub async fn review(State(state): State<AppState>, Path(slug): Path<String>, form: ShopForm) -> ShopResult {
    let rating = field(&form.fields, "rating").and_then(|r| r.parse::<i64>().ok()).unwrap_or(0);
    let draft = ReviewDraft {
        rating,
        title: field(&form.fields, "title").map(str::to_owned),
        body: field(&form.fields, "body").unwrap_or_default().to_owned(),
    };
    let errors = match state.market.reviews().create(&form.shopper.actor, &slug, draft).await {
        Ok(_) => return Ok(Redirect::to(&format!("/products/{slug}?reviewed=1#reviews")).into_response()),
        Err(Error::Validation(errors)) => errors,
        Err(Error::Conflict { .. }) => vec![FieldError::new("body", "You have already reviewed this work.")],
        Err(other) => return Err(other.into()),
    };
    let visitor = Visitor {
        shopper: Some(form.shopper),
    };
    let mut response = product_page(&state, &visitor, &slug, false, ReviewOutcome { reviewed: false, errors }).await?;
    *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(response)
}
