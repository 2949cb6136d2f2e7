//! The panel's mutations: every one is a CSRF-checked `POST` that calls one core service (which
//! checks the admin and writes the audit row) and redirects (`303`) back to its list.

use axum::extract::{Path, State};
use kalavpp_core::Error;
use kalavpp_core::domain::{OrderId, PayoutId, ReviewId, UserId, VendorId};
use kalavpp_core::services::UserChanges;

use super::{PanelForm, PanelResult, done};
use crate::app::AppState;

fn not_found(what: &'static str) -> Error {
    Error::not_found("not_found", format!("no such {what}"))
}

/// A form field as sent (the services validate and trim it).
fn text<'a>(form: &'a PanelForm, key: &str) -> &'a str {
    form.fields.get(key).map_or("", String::as_str)
}

/// `POST /admin/vendors/{id}/{approve|reject|suspend|reinstate}` (`reason` for reject).
pub async fn vendor(State(state): State<AppState>, Path((id, action)): Path<(String, String)>, form: PanelForm) -> PanelResult {
    let id = VendorId::parse(&id).ok_or_else(|| not_found("vendor"))?;
    let vendors = state.market.vendors();
    let actor = &form.admin.actor;
    let outcome = match action.as_str() {
        "approve" => vendors.approve(actor, id).await.map(|_| "vendor approved"),
        "reject" => vendors.reject(actor, id, text(&form, "reason")).await.map(|_| "vendor rejected"),
        "suspend" => vendors.suspend(actor, id).await.map(|_| "vendor suspended"),
        "reinstate" => vendors.reinstate(actor, id).await.map(|_| "vendor reinstated"),
        _ => Err(not_found("action")),
    }?;
    Ok(done("/admin/vendors", outcome))
}

/// `POST /admin/payouts/{id}/{approve|reject|mark-paid}` (`reason` / `reference`).
pub async fn payout(State(state): State<AppState>, Path((id, action)): Path<(String, String)>, form: PanelForm) -> PanelResult {
    let id = PayoutId::parse(&id).ok_or_else(|| not_found("payout"))?;
    let payouts = state.market.payouts();
    let actor = &form.admin.actor;
    let outcome = match action.as_str() {
        "approve" => payouts.approve(actor, id).await.map(|_| "payout approved"),
        "reject" => payouts.reject(actor, id, text(&form, "reason")).await.map(|_| "payout rejected"),
        "mark-paid" => payouts
            .mark_paid(actor, id, text(&form, "reference"))
            .await
            .map(|_| "payout marked paid"),
        _ => Err(not_found("action")),
    }?;
    Ok(done("/admin/payouts", outcome))
}

/// `POST /admin/users/{id}/{suspend|reactivate}`.
pub async fn user(State(state): State<AppState>, Path((id, action)): Path<(String, String)>, form: PanelForm) -> PanelResult {
    let id = UserId::parse(&id).ok_or_else(|| not_found("user"))?;
    let (status, outcome) = match action.as_str() {
        "suspend" => ("suspended", "user suspended"),
        "reactivate" => ("active", "user reactivated"),
        _ => return Err(not_found("action").into()),
    };
    let changes = UserChanges {
        status: Some(status.to_owned()),
        role: None,
    };
    state.market.admin().update_user(&form.admin.actor, id, changes).await?;
    Ok(done("/admin/users", outcome))
}

/// `POST /admin/orders/{id}/refund` with `confirm=yes` (the form's confirmation box; `422`
/// without it, and nothing is refunded).
pub async fn refund(State(state): State<AppState>, Path(id): Path<String>, form: PanelForm) -> PanelResult {
    let id = OrderId::parse(&id).ok_or_else(|| not_found("order"))?;
    if text(&form, "confirm") != "yes" {
        return Err(Error::Validation(vec![kalavpp_core::FieldError::new(
            "confirm",
            "tick the box to confirm the refund; nothing was refunded",
        )])
        .into());
    }
    state.market.orders().refund(&form.admin.actor, id).await?;
    Ok(done(&format!("/admin/orders/{id}"), "order refunded"))
}

/// `POST /admin/reviews/{id}/{hide|unhide}`.
pub async fn review(State(state): State<AppState>, Path((id, action)): Path<(String, String)>, form: PanelForm) -> PanelResult {
    let id = ReviewId::parse(&id).ok_or_else(|| not_found("review"))?;
    let (hidden, outcome) = match action.as_str() {
        "hide" => (true, "review hidden"),
        "unhide" => (false, "review shown"),
        _ => return Err(not_found("action").into()),
    };
    state.market.reviews().set_hidden(&form.admin.actor, id, hidden).await?;
    Ok(done("/admin/reviews", outcome))
}
