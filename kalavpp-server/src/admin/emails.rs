//! `POST /admin/emails/{id}/retry`: puts a failed email back in the outbox queue through
//! [`Administration::retry_email`](kalavpp_core::services::Administration::retry_email) (admin
//! only, audited as `email.retry`); the outbox worker then delivers it.

use axum::extract::{Path, State};
use kalavpp_core::Error;
use kalavpp_core::domain::EmailId;

use super::{PanelForm, PanelResult, done};
use crate::app::AppState;

/// `POST /admin/emails/{id}/retry`; `404` for an unknown id, `409` when the email is not failed.
pub async fn retry(State(state): State<AppState>, Path(id): Path<String>, form: PanelForm) -> PanelResult {
    let id = EmailId::parse(&id).ok_or_else(|| Error::not_found("email_not_found", "email not found"))?;
    state.market.admin().retry_email(&form.admin.actor, id).await?;
    Ok(done("/admin/emails", "email queued again"))
}
