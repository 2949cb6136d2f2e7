//! The panel's user list (`GET /admin/users`).

use askama::Template;
use axum::extract::{RawQuery, State};
use kalavpp_core::domain::{Role, UserFilter, UserStatus};

use super::{Opt, chrome, filter, options};
use crate::admin::{Chrome, Pager, PanelAdmin, PanelResult, field, page_request, query_map, render, when};
use crate::app::AppState;

struct UserRow {
    id: String,
    name: String,
    email: String,
    role: &'static str,
    status: &'static str,
    created: String,
    is_me: bool,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    chrome: Chrome,
    q: String,
    roles: Vec<Opt>,
    statuses: Vec<Opt>,
    rows: Vec<UserRow>,
    pager: Pager,
}

/// `GET /admin/users?q=&role=&status=&page=`.
pub async fn users(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let role = filter(&query, "role", Role::parse)?;
    let status = filter(&query, "status", UserStatus::parse)?;
    let q = field(&query, "q").map(str::to_owned);
    let user_filter = UserFilter {
        q: q.clone(),
        role,
        status,
    };
    let page = state
        .market
        .admin()
        .list_users(&admin.actor, user_filter, page_request(&query)?)
        .await?;
    let (q, role, status) = (
        q.unwrap_or_default(),
        role.map(kalavpp_core::domain::Role::as_str).unwrap_or_default().to_owned(),
        status.map(kalavpp_core::domain::UserStatus::as_str).unwrap_or_default().to_owned(),
    );
    let pager = Pager::new("/admin/users", &[("q", &q), ("role", &role), ("status", &status)], &page);
    let me = admin.actor.user_id();
    let rows = page
        .items
        .into_iter()
        .map(|u| UserRow {
            is_me: Some(u.id) == me,
            id: u.id.to_string(),
            name: u.name,
            email: u.email,
            role: u.role.as_str(),
            status: u.status.as_str(),
            created: when(&u.created_at),
        })
        .collect();
    render(&UsersPage {
        chrome: chrome(&admin, &query, "users"),
        roles: options(&["customer", "vendor", "admin"], &role),
        statuses: options(&["active", "suspended"], &status),
        q,
        rows,
        pager,
    })
}
