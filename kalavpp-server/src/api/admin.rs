//! `/admin`: users, the outbox and the audit log.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, Utc};
use kalavpp_core::domain::{AuditFilter, EmailFilter, UserFilter};
use kalavpp_core::domain::{Role, UserId, UserStatus};
use kalavpp_core::services::UserChanges;
use kalavpp_core::{Error, Mode};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::{AuditBody, AuditPage, EmailBody, EmailPage, UserBody, UserPage};
use crate::app::AppState;
use crate::extract::{AdminUser, ApiJson, ApiQuery, Pagination};
use crate::http_error::{ApiResult, Problem};

/// The admin routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(update_user))
        .routes(routes!(list_emails))
        .routes(routes!(list_audit_log))
}

/// Filters of `GET /admin/users`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Substring of email or name.
    pub q: Option<String>,
    /// `customer`, `vendor` or `admin`.
    #[param(value_type = Option<super::enums::Role>)]
    pub role: Option<String>,
    /// `active` or `suspended`.
    #[param(value_type = Option<super::enums::UserStatus>)]
    pub status: Option<String>,
    /// 1-based page.
    #[param(value_type = Option<i64>)]
    pub page: Option<String>,
    /// Page size, at most 100.
    #[param(value_type = Option<i64>)]
    pub per_page: Option<String>,
}

/// An admin's change to an account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// `active` or `suspended` (suspending signs the user out everywhere).
    #[schema(value_type = Option<super::enums::UserStatus>)]
    pub status: Option<String>,
    /// `customer` or `admin`.
    #[schema(value_type = Option<super::enums::AssignableRole>)]
    pub role: Option<String>,
}

/// Filters of `GET /admin/emails`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EmailListQuery {
    /// Only messages to this address.
    pub recipient: Option<String>,
    /// Only this template.
    pub template: Option<String>,
    /// `queued`, `sending`, `sent` or `failed`.
    #[param(value_type = Option<super::enums::EmailStatus>)]
    pub status: Option<String>,
    /// 1-based page.
    #[param(value_type = Option<i64>)]
    pub page: Option<String>,
    /// Page size, at most 100.
    #[param(value_type = Option<i64>)]
    pub per_page: Option<String>,
}

/// Filters of `GET /admin/audit-log`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditListQuery {
    /// Actor user id.
    #[param(format = Uuid)]
    pub actor: Option<String>,
    /// Action, e.g. `user.update`.
    pub action: Option<String>,
    /// From this time or date (RFC 3339 or YYYY-MM-DD).
    pub from: Option<String>,
    /// Up to this time or date (inclusive).
    pub to: Option<String>,
    /// 1-based page.
    #[param(value_type = Option<i64>)]
    pub page: Option<String>,
    /// Page size, at most 100.
    #[param(value_type = Option<i64>)]
    pub per_page: Option<String>,
}

fn blank_to_none(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn parse_filter<T>(field: &str, value: Option<String>, parse: impl Fn(&str) -> Result<T, String>) -> Result<Option<T>, Error> {
    blank_to_none(value)
        .map(|v| parse(&v).map_err(|m| Error::invalid(field, m)))
        .transpose()
}

/// Parses an RFC 3339 time or a date (start of day; with `end_of_day`, the last instant of it).
pub fn parse_time(text: &str, end_of_day: bool) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| "must be an RFC 3339 time or a YYYY-MM-DD date".to_owned())?;
    let time = if end_of_day {
        date.and_hms_micro_opt(23, 59, 59, 999_999)
    } else {
        date.and_hms_opt(0, 0, 0)
    };
    time.map(|t| t.and_utc()).ok_or_else(|| "is out of range".to_owned())
}

fn user_id(text: &str) -> Result<UserId, Error> {
    UserId::parse(text).ok_or_else(|| Error::not_found("user_not_found", "user not found"))
}

#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin", security(("bearer" = [])), params(UserListQuery),
    responses((status = 200, body = UserPage), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn list_users(
    State(state): State<AppState>,
    AdminUser(actor): AdminUser,
    Pagination(page): Pagination,
    ApiQuery(query): ApiQuery<UserListQuery>,
) -> ApiResult<Json<UserPage>> {
    let filter = UserFilter {
        q: blank_to_none(query.q),
        role: parse_filter("role", query.role, Role::parse)?,
        status: parse_filter("status", query.status, UserStatus::parse)?,
    };
    let users = state.market.admin().list_users(&actor, filter, page).await?;
    Ok(Json(UserPage::from_page(users, UserBody::from)))
}

#[utoipa::path(patch, path = "/api/v1/admin/users/{id}", tag = "admin", security(("bearer" = [])), request_body = UpdateUserRequest,
    params(("id" = String, Path, description = "user id")),
    responses((status = 200, body = UserBody), (status = 401, body = Problem), (status = 403, body = Problem),
              (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn update_user(
    State(state): State<AppState>,
    AdminUser(actor): AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> ApiResult<Json<UserBody>> {
    let changes = UserChanges {
        status: body.status,
        role: body.role,
    };
    let user = state.market.admin().update_user(&actor, user_id(&id)?, changes).await?;
    Ok(Json(user.into()))
}

#[utoipa::path(get, path = "/api/v1/admin/emails", tag = "admin", security(("bearer" = [])), params(EmailListQuery),
    responses((status = 200, body = EmailPage), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_emails(
    State(state): State<AppState>,
    AdminUser(actor): AdminUser,
    Pagination(page): Pagination,
    ApiQuery(query): ApiQuery<EmailListQuery>,
) -> ApiResult<Json<EmailPage>> {
    let filter = EmailFilter {
        recipient: blank_to_none(query.recipient).map(|r| r.to_lowercase()),
        template: blank_to_none(query.template),
        status: parse_filter("status", query.status, |s| match s {
            "queued" | "sending" | "sent" | "failed" => Ok(s.to_owned()),
            _ => Err("must be queued, sending, sent or failed".to_owned()),
        })?,
    };
    let emails = state.market.admin().list_emails(&actor, filter, page).await?;
    let redact = state.market.config().mode == Mode::Production;
    Ok(Json(EmailPage::from_page(emails, |e| EmailBody::from_outbox(e, redact))))
}

#[utoipa::path(get, path = "/api/v1/admin/audit-log", tag = "admin", security(("bearer" = [])), params(AuditListQuery),
    responses((status = 200, body = AuditPage), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
async fn list_audit_log(
    State(state): State<AppState>,
    AdminUser(actor): AdminUser,
    Pagination(page): Pagination,
    ApiQuery(query): ApiQuery<AuditListQuery>,
) -> ApiResult<Json<AuditPage>> {
    let filter = AuditFilter {
        actor_id: parse_filter("actor", query.actor, |a| {
            UserId::parse(a).ok_or_else(|| "must be a user id".to_owned())
        })?,
        action: blank_to_none(query.action),
        from: parse_filter("from", query.from, |t| parse_time(t, false))?,
        to: parse_filter("to", query.to, |t| parse_time(t, true))?,
    };
    let entries = state.market.admin().list_audit(&actor, filter, page).await?;
    Ok(Json(AuditPage::from_page(entries, AuditBody::from)))
}
