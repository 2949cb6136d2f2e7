//! Panel sessions and CSRF protection.
//!
//! Signing in starts an ordinary login session of the core ([`Accounts::admin_login`]); the
//! session's refresh token — opaque, random, stored only as a keyed hash — is the cookie value.
//! Every request checks it with [`Accounts::authenticate_session`] (never rotating it) and re-reads
//! the account, so logout, suspension, demotion and password changes take effect at once.
//!
//! Panel sessions are shorter than a customer's (see [`Accounts::admin_login`]): 8 hours at most,
//! and 30 minutes without a request end them — the next request goes to the login page with
//! "signed out after inactivity".
//!
//! Every form carries `csrf` = HMAC-SHA256 of the session token under a key derived from
//! `JWT_REFRESH_SECRET`, compared in constant time. The login form, which has no session yet, is
//! bound the same way to a random nonce in a short-lived cookie (double submit).
//!
//! [`Accounts::admin_login`]: kalavpp_core::services::Accounts::admin_login
//! [`Accounts::authenticate_session`]: kalavpp_core::services::Accounts::authenticate_session

use std::collections::HashMap;

use askama::Template;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use kalavpp_core::Error;
use kalavpp_core::auth::{Actor, random_token};

use super::{PanelError, error_page, parse_pairs, query_map};
use crate::app::AppState;
use crate::rate_limit::IpRateLimit;
use crate::web::{CookieSpec, Csrf, cookie, set_cookie};

/// Name of the session cookie (scoped to `Path=/admin`).
pub const COOKIE: &str = "kalavpp_admin";
/// Name of the login form's nonce cookie (scoped to `Path=/admin/login`).
const LOGIN_COOKIE: &str = "kalavpp_admin_login";
const SESSION_PATH: &str = "/admin";
const LOGIN_PATH: &str = "/admin/login";

const SESSION_COOKIE: CookieSpec = CookieSpec {
    name: COOKIE,
    path: SESSION_PATH,
    same_site: "Strict",
};
const LOGIN_NONCE_COOKIE: CookieSpec = CookieSpec {
    name: LOGIN_COOKIE,
    path: LOGIN_PATH,
    same_site: "Strict",
};
const CSRF: Csrf = Csrf {
    label: b"kalavpp admin panel CSRF key v1",
};

/// The CSRF token of the session (or login nonce) `token`, hex encoded.
pub fn csrf_token(state: &AppState, purpose: &str, token: &str) -> String {
    CSRF.token(state, purpose, token)
}

fn csrf_valid(state: &AppState, purpose: &str, token: &str, presented: Option<&String>) -> bool {
    CSRF.valid(state, purpose, token, presented)
}

fn csrf_refused() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "This form is missing its security token or it belongs to another session. Reload the page and try again.",
        vec![],
    )
}

/// `303` to the login page, dropping a session cookie that no longer works.
fn to_login(state: &AppState, had_cookie: bool) -> Response {
    let mut response = Redirect::to(LOGIN_PATH).into_response();
    if had_cookie {
        response
            .headers_mut()
            .insert(header::SET_COOKIE, set_cookie(state, SESSION_COOKIE, None));
    }
    response
}

/// `303` to the login page saying why, after the core ended an idle session; drops the cookie.
fn to_login_after_inactivity(state: &AppState) -> Response {
    let mut response = super::done(LOGIN_PATH, "signed out after inactivity");
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(state, SESSION_COOKIE, None));
    response
}

/// A signed-in administrator; any other request is redirected (`303`) to the login page.
pub struct PanelAdmin {
    /// The admin as the services see them.
    pub actor: Actor,
    /// Display name, for the layout.
    pub name: String,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    token: String,
}

impl<S> FromRequestParts<S> for PanelAdmin
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let Some(token) = cookie(&parts.headers, COOKIE) else {
            return Err(to_login(&state, false));
        };
        let actor = match state.market.accounts().authenticate_session(token).await {
            Ok(actor) => actor,
            // 30 minutes without a request (`Config::admin_idle_timeout`): the core ended it.
            Err(Error::Unauthorized {
                code: "session_idle_timeout",
                ..
            }) => return Err(to_login_after_inactivity(&state)),
            Err(Error::Unauthorized { .. } | Error::Forbidden { .. }) => return Err(to_login(&state, true)),
            Err(other) => return Err(PanelError(other).into_response()),
        };
        if actor.require_admin().is_err() {
            // Demoted since signing in: the session ends (a later promotion does not revive it).
            if let Err(err) = state.market.accounts().logout(token).await {
                tracing::warn!(error = %err, "ending a demoted admin's panel session failed");
            }
            return Err(to_login(&state, true));
        }
        let me = state
            .market
            .accounts()
            .me(&actor)
            .await
            .map_err(|e| PanelError(e).into_response())?;
        Ok(Self {
            actor,
            name: me.name,
            csrf: csrf_token(&state, "session", token),
            token: token.to_owned(),
        })
    }
}

/// A form posted by a signed-in admin with a valid CSRF token (`403` page otherwise, before
/// anything is changed).
pub struct PanelForm {
    /// Who posted it.
    pub admin: PanelAdmin,
    /// The form fields.
    pub fields: HashMap<String, String>,
}

impl<S> FromRequest<S> for PanelForm
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let admin = PanelAdmin::from_request_parts(&mut parts, state).await?;
        let app = AppState::from_ref(state);
        let bytes = axum::body::Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| error_page(StatusCode::BAD_REQUEST, "The form could not be read.", vec![]))?;
        let fields = parse_pairs(&bytes).map_err(IntoResponse::into_response)?;
        if !csrf_valid(&app, "session", &admin.token, fields.get("csrf")) {
            return Err(csrf_refused());
        }
        Ok(Self { admin, fields })
    }
}

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    csrf: String,
    error: Option<String>,
    done: Option<String>,
    email: String,
}

/// The login form with a fresh nonce cookie.
fn login_form(state: &AppState, status: StatusCode, error: Option<String>, done: Option<String>, email: String) -> Response {
    let nonce = random_token(24);
    let page = LoginPage {
        csrf: csrf_token(state, "login", &nonce),
        error,
        done,
        email,
    };
    match page.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, set_cookie(state, LOGIN_NONCE_COOKIE, Some(&nonce)));
            response
        }
        Err(err) => PanelError(Error::Internal(format!("template: {err}"))).into_response(),
    }
}

/// `GET /admin/login`: the form (or the dashboard when already signed in).
pub async fn login_page(State(state): State<AppState>, headers: HeaderMap, raw: axum::extract::RawQuery) -> Response {
    if let Some(token) = cookie(&headers, COOKIE)
        && state
            .market
            .accounts()
            .authenticate_session(token)
            .await
            .is_ok_and(|actor| actor.require_admin().is_ok())
    {
        return Redirect::to("/admin").into_response();
    }
    let done = query_map(raw.0.as_deref()).ok().and_then(|q| super::outcome(&q));
    login_form(&state, StatusCode::OK, None, done, String::new())
}

/// `POST /admin/login`: only active admins get a session; everyone else the same message.
pub async fn login(State(state): State<AppState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let fields = match parse_pairs(&body) {
        Ok(fields) => fields,
        Err(err) => return err.into_response(),
    };
    let nonce = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if nonce.is_empty() || !csrf_valid(&state, "login", nonce, fields.get("csrf")) {
        return csrf_refused();
    }
    let email = fields.get("email").map(|e| e.trim().to_owned()).unwrap_or_default();
    let password = fields.get("password").cloned().unwrap_or_default();
    match state.market.accounts().admin_login(&email, &password).await {
        Ok(session) => {
            let mut response = Redirect::to("/admin").into_response();
            let cookies = response.headers_mut();
            cookies.append(
                header::SET_COOKIE,
                set_cookie(&state, SESSION_COOKIE, Some(&session.tokens.refresh_token)),
            );
            cookies.append(header::SET_COOKIE, set_cookie(&state, LOGIN_NONCE_COOKIE, None));
            response
        }
        Err(Error::Unauthorized { .. }) => login_form(
            &state,
            StatusCode::UNAUTHORIZED,
            Some("Email or password is incorrect.".to_owned()),
            None,
            email,
        ),
        Err(other) => PanelError(other).into_response(),
    }
}

/// `POST /admin/logout`: ends the login session (in the database) and drops the cookie.
pub async fn logout(State(state): State<AppState>, form: PanelForm) -> Result<Response, PanelError> {
    state.market.accounts().logout(&form.admin.token).await?;
    let mut response = super::done(LOGIN_PATH, "signed out");
    response
        .headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&state, SESSION_COOKIE, None));
    Ok(response)
}

/// Middleware: the per-IP credential limit on login attempts, answered with an HTML `429`.
pub async fn limit_logins(State(limit): State<IpRateLimit>, request: Request, next: Next) -> Response {
    let refused = crate::web::rate_limited(&limit, &request, |seconds| {
        error_page(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many sign-in attempts. Try again in {seconds} s."),
            vec![],
        )
    });
    match refused {
        Some(response) => response,
        None => next.run(request).await,
    }
}
