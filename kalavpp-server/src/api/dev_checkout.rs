//! The development provider's checkout page: Pay / Fail buttons that feed the same event path
//! as Stripe webhooks. Mounted only when the development provider is in use.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use kalavpp_core::domain::Order;
use kalavpp_core::domain::OrderStatus;
use kalavpp_core::payments::{PaymentEvent, PaymentEventKind};

use crate::app::AppState;
use crate::http_error::{ApiError, ApiResult};

/// The page's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/dev/checkout/{session_id}", get(page))
        .route("/dev/checkout/{session_id}/pay", post(pay))
        .route("/dev/checkout/{session_id}/fail", post(fail))
}

struct Line {
    quantity: i64,
    title: String,
    amount: String,
}

#[derive(Template)]
#[template(path = "dev_checkout.html")]
struct CheckoutPage {
    number: String,
    status: String,
    lines: Vec<Line>,
    total: String,
    payable: bool,
    session_id: String,
    message: Option<String>,
    /// Where the shop takes the buyer back to (the provider's success or cancel URL).
    return_url: Option<String>,
}

fn money(cents: i64, currency: &str) -> String {
    format!("{}.{:02} {}", cents / 100, cents % 100, currency.to_uppercase())
}

fn render(state: &AppState, order: &Order, message: Option<String>) -> ApiResult<Response> {
    let outcome = match order.status {
        OrderStatus::Paid | OrderStatus::Completed => Some("success"),
        OrderStatus::PaymentFailed | OrderStatus::Cancelled | OrderStatus::Expired => Some("cancelled"),
        _ => None,
    };
    // The same return addresses the core gives a real provider.
    let frontend = state.market.config().frontend_url.trim_end_matches('/');
    let return_url = outcome
        .filter(|_| message.is_some())
        .map(|o| format!("{frontend}/orders/{}?payment={o}", order.id));
    let page = CheckoutPage {
        number: order.number.clone(),
        status: order.status.as_str().to_owned(),
        lines: order
            .items
            .iter()
            .map(|i| Line {
                quantity: i.quantity,
                title: i.title.clone(),
                amount: money(i.line_total.cents(), &order.currency),
            })
            .collect(),
        total: money(order.total.cents(), &order.currency),
        payable: matches!(order.status, OrderStatus::PendingPayment | OrderStatus::PaymentFailed),
        session_id: order.payment_session_id.clone().unwrap_or_default(),
        message,
        return_url,
    };
    let html = page.render().map_err(|e| kalavpp_core::Error::Internal(e.to_string()))?;
    Ok(Html(html).into_response())
}

async fn order(state: &AppState, session_id: &str) -> ApiResult<Order> {
    if state.market.payments().name() != "dev" {
        return Err(kalavpp_core::Error::not_found("not_found", "no such route").into());
    }
    state.market.orders().by_payment_session(session_id).await?.ok_or_else(|| {
        ApiError::from(kalavpp_core::Error::not_found(
            "order_not_found",
            "no order for this checkout session",
        ))
    })
}

async fn page(State(state): State<AppState>, Path(session_id): Path<String>) -> ApiResult<Response> {
    render(&state, &order(&state, &session_id).await?, None)
}

async fn settle(state: AppState, session_id: String, kind: PaymentEventKind) -> ApiResult<Response> {
    let current = order(&state, &session_id).await?;
    let event = PaymentEvent {
        event_id: format!("dev_evt_{}", uuid::Uuid::new_v4().simple()),
        kind,
        session_id: Some(session_id.clone()),
        // One payment per development session: paying again is the same payment, paying a
        // cancelled or expired order is a late one (given back automatically).
        payment_intent_id: Some(format!("dev_pi_{session_id}")),
        order_id: Some(current.id),
        amount_cents: Some(current.total.cents()),
        currency: Some(current.currency.clone()),
    };
    state.market.orders().apply_event(event).await?;
    let updated = order(&state, &session_id).await?;
    let message = match kind {
        PaymentEventKind::Succeeded => "Payment recorded. You can close this page.",
        _ => "The payment failed; you can try again.",
    };
    render(&state, &updated, Some(message.into()))
}

async fn pay(State(state): State<AppState>, Path(session_id): Path<String>) -> ApiResult<Response> {
    settle(state, session_id, PaymentEventKind::Succeeded).await
}

async fn fail(State(state): State<AppState>, Path(session_id): Path<String>) -> ApiResult<Response> {
    settle(state, session_id, PaymentEventKind::Failed).await
}
