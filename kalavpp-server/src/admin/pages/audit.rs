//! The panel's audit log (`GET /admin/audit`).

use askama::Template;
use axum::extract::{RawQuery, State};
use kalavpp_core::domain::AuditFilter;

use super::{chrome, day, filter};
use crate::admin::{Chrome, Pager, PanelAdmin, PanelResult, field, page_request, query_map, render, when};
use crate::app::AppState;

struct AuditRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    details: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    chrome: Chrome,
    action: String,
    actor: String,
    from: String,
    to: String,
    rows: Vec<AuditRow>,
    pager: Pager,
}

/// `GET /admin/audit?action=&actor=&from=&to=&page=` (`actor`: a user id; `from` / `to`:
/// `YYYY-MM-DD` days, UTC, both included).
pub async fn audit(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let action = field(&query, "action").map(str::to_owned);
    let actor = filter(&query, "actor", |t| {
        kalavpp_core::domain::UserId::parse(t).ok_or_else(|| "must be a user id".to_owned())
    })?;
    let from = filter(&query, "from", |t| crate::api::admin::parse_time(t, false))?;
    let to = filter(&query, "to", |t| crate::api::admin::parse_time(t, true))?;
    let audit_filter = AuditFilter {
        action: action.clone(),
        actor_id: actor,
        from,
        to,
    };
    let page = state
        .market
        .admin()
        .list_audit(&admin.actor, audit_filter, page_request(&query)?)
        .await?;
    let action = action.unwrap_or_default();
    let actor = actor.map(|a| a.to_string()).unwrap_or_default();
    let (from, to) = (day(from), day(to));
    let pager = Pager::new(
        "/admin/audit",
        &[("action", &action), ("actor", &actor), ("from", &from), ("to", &to)],
        &page,
    );
    let rows = page
        .items
        .into_iter()
        .map(|e| AuditRow {
            at: when(&e.at),
            actor: e.actor_id.map_or_else(|| "system".to_owned(), |id| id.to_string()),
            action: e.action,
            target: format!("{} {}", e.target_type, e.target_id),
            details: e.details.to_string(),
        })
        .collect();
    render(&AuditPage {
        chrome: chrome(&admin, &query, "audit"),
        action,
        actor,
        from,
        to,
        rows,
        pager,
    })
}
