//! The panel's email outbox (`GET /admin/emails`).

use askama::Template;
use axum::extract::{RawQuery, State};
use kalavpp_core::domain::EmailFilter;

use super::{Opt, chrome, filter, options};
use crate::admin::{Chrome, Pager, PanelAdmin, PanelResult, page_request, query_map, render, when};
use crate::app::AppState;

struct EmailRow {
    id: String,
    created: String,
    recipient: String,
    template: String,
    subject: String,
    status: String,
    attempts: i32,
    last_error: String,
    sent: String,
}

#[derive(Template)]
#[template(path = "admin/emails.html")]
struct EmailsPage {
    chrome: Chrome,
    statuses: Vec<Opt>,
    rows: Vec<EmailRow>,
    pager: Pager,
}

/// `GET /admin/emails?status=&page=`: the outbox. Bodies are not shown (they may carry one-time
/// tokens such as password-reset links).
pub async fn emails(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let statuses = ["queued", "sending", "sent", "failed"];
    let status = filter(&query, "status", |s| {
        statuses
            .contains(&s)
            .then(|| s.to_owned())
            .ok_or_else(|| format!("must be one of {}", statuses.join(", ")))
    })?;
    let email_filter = EmailFilter {
        status: status.clone(),
        ..EmailFilter::default()
    };
    let page = state
        .market
        .admin()
        .list_emails(&admin.actor, email_filter, page_request(&query)?)
        .await?;
    let status = status.unwrap_or_default();
    let pager = Pager::new("/admin/emails", &[("status", &status)], &page);
    let rows = page
        .items
        .into_iter()
        .map(|e| EmailRow {
            id: e.id.to_string(),
            created: when(&e.created_at),
            recipient: e.recipient,
            template: e.template,
            subject: e.subject,
            status: e.status,
            attempts: e.attempts,
            last_error: e.last_error.unwrap_or_default(),
            sent: e.sent_at.as_ref().map(when).unwrap_or_default(),
        })
        .collect();
    render(&EmailsPage {
        chrome: chrome(&admin, &query, "emails"),
        statuses: options(&statuses, &status),
        rows,
        pager,
    })
}
