//! `/auth`: register, login, refresh, logout, me, password reset.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use kalavpp_core::services::{ProfileChanges, Registration};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::{MessageBody, TokenBody, UserBody};
use crate::app::AppState;
use crate::extract::{ApiJson, AuthUser};
use crate::http_error::{ApiResult, Problem};

/// Routes that hand out or check credentials; they get the stricter rate limit.
pub fn credential_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(forgot_password))
}

/// `GET`/`PATCH /auth/me`: the caller puts the credential limit on `PATCH` (it may verify a
/// password).
pub fn me_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me, update_me))
}

/// The other auth routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(logout)).routes(routes!(reset_password))
}

/// Sign-up body. New accounts are always customers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Email address (case-insensitive, unique; at most 254 characters).
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// 8 to 128 characters.
    pub password: String,
    /// Display name.
    pub name: String,
}

/// Sign-in body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A refresh token to rotate or revoke.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

/// Changes to the own account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    /// New display name.
    pub name: Option<String>,
    /// Required with `new_password`.
    pub current_password: Option<String>,
    /// New password (8 to 128 characters); signs out other sessions.
    pub new_password: Option<String>,
}

/// Asks for a reset email.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    /// The account's email address.
    pub email: String,
}

/// Sets a new password with a reset token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The token from the reset email.
    pub token: String,
    /// The new password.
    pub new_password: String,
}

#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, body = TokenBody), (status = 409, body = Problem, description = "email taken"),
              (status = 422, body = Problem), (status = 429, body = Problem)))]
async fn register(State(state): State<AppState>, ApiJson(body): ApiJson<RegisterRequest>) -> ApiResult<(StatusCode, Json<TokenBody>)> {
    let session = state
        .market
        .accounts()
        .register(Registration {
            email: body.email,
            password: body.password,
            name: body.name,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(session.into())))
}

#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenBody), (status = 401, body = Problem, description = "wrong email or password"),
              (status = 403, body = Problem, description = "suspended"), (status = 429, body = Problem)))]
async fn login(State(state): State<AppState>, ApiJson(body): ApiJson<LoginRequest>) -> ApiResult<Json<TokenBody>> {
    let session = state.market.accounts().login(&body.email, &body.password).await?;
    Ok(Json(session.into()))
}

#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, body = TokenBody), (status = 401, body = Problem, description = "invalid, expired or reused (the session is revoked)")))]
async fn refresh(State(state): State<AppState>, ApiJson(body): ApiJson<RefreshRequest>) -> ApiResult<Json<TokenBody>> {
    let session = state.market.accounts().refresh(&body.refresh_token).await?;
    Ok(Json(session.into()))
}

#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "the session is ended")))]
async fn logout(State(state): State<AppState>, ApiJson(body): ApiJson<RefreshRequest>) -> ApiResult<StatusCode> {
    state.market.accounts().logout(&body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserBody), (status = 401, body = Problem)))]
async fn me(State(state): State<AppState>, AuthUser(actor): AuthUser) -> ApiResult<Json<UserBody>> {
    let mut body: UserBody = state.market.accounts().me(&actor).await?.into();
    body.vendor = match state.market.vendors().mine(&actor).await {
        Ok(vendor) => Some((&vendor).into()),
        Err(kalavpp_core::Error::NotFound { .. }) => None,
        Err(other) => return Err(other.into()),
    };
    Ok(Json(body))
}

#[utoipa::path(patch, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])), request_body = UpdateMeRequest,
    responses((status = 200, body = UserBody), (status = 401, body = Problem), (status = 422, body = Problem, description = "invalid fields, `new_password` without `current_password`, or a wrong `current_password`")))]
async fn update_me(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    ApiJson(body): ApiJson<UpdateMeRequest>,
) -> ApiResult<Json<UserBody>> {
    let changes = ProfileChanges {
        name: body.name,
        current_password: body.current_password,
        new_password: body.new_password,
    };
    Ok(Json(state.market.accounts().update_me(&actor, changes).await?.into()))
}

#[utoipa::path(post, path = "/api/v1/auth/password/forgot", tag = "auth", request_body = ForgotPasswordRequest,
    responses((status = 202, body = MessageBody, description = "accepted whether or not the email exists")))]
async fn forgot_password(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ForgotPasswordRequest>,
) -> ApiResult<(StatusCode, Json<MessageBody>)> {
    state.market.accounts().forgot_password(&body.email).await?;
    let message = "if an account exists for this email, a reset link is on its way".to_owned();
    Ok((StatusCode::ACCEPTED, Json(MessageBody { message })))
}

#[utoipa::path(post, path = "/api/v1/auth/password/reset", tag = "auth", request_body = ResetPasswordRequest,
    responses((status = 204, description = "password changed; every session signed out"), (status = 422, body = Problem, description = "invalid fields, or an unknown, expired or used `token`")))]
async fn reset_password(State(state): State<AppState>, ApiJson(body): ApiJson<ResetPasswordRequest>) -> ApiResult<StatusCode> {
    state.market.accounts().reset_password(&body.token, &body.new_password).await?;
    Ok(StatusCode::NO_CONTENT)
}
