//! Storefront sessions and CSRF protection.
//!
//! Signing in or registering starts an ordinary login session of the core; its refresh token —
//! opaque, random, stored only as a keyed hash — is the cookie value, behind the prefix `sf1.`.
//! Every request checks it with `Accounts::authenticate_session` (never rotating it), so sign-out,
//! suspension and password changes end the session at once.
//!
//! The cookie (`kalavpp_session`) is `HttpOnly`, `SameSite=Lax` (so the return from the payment
//! page carries it), `Secure` in production, `Path=/`. It is not interchangeable with the admin
//! panel's session: the panel reads only its own cookie (`kalavpp_admin`, which holds a bare token
//! from an admin-only sign-in), and the storefront accepts only `sf1.`-prefixed values in its own
//! cookie, so neither cookie works where the other is expected. Both are sessions of the same
//! account: an administrator who shops signs in to the storefront separately.
//!
//! Every form carries `csrf`: for signed-in customers the HMAC of their session token; for the
//! forms before a session (sign in, register, forgot and reset password) the HMAC of a random
//! nonce kept in a second cookie (`kalavpp_form`, double submit). The key is the storefront's own,
//! so panel tokens never pass here. A missing or wrong token is a `403` page and changes nothing.

use std::collections::HashMap;

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use kalavpp_core::Error;
use kalavpp_core::auth::{Actor, random_token};

use super::{Chrome, ShopError, error_page};
use crate::app::AppState;
use crate::web::{CookieSpec, Csrf, cookie, parse_pairs, set_cookie};

/// Name of the session cookie.
pub const COOKIE: &str = "kalavpp_session";
/// Name of the pre-session form nonce cookie.
pub const FORM_COOKIE: &str = "kalavpp_form";
/// What a storefront cookie value starts with.
const PREFIX: &str = "sf1.";

const SESSION: CookieSpec = CookieSpec {
    name: COOKIE,
    path: "/",
    same_site: "Lax",
};
const FORM_NONCE: CookieSpec = CookieSpec {
    name: FORM_COOKIE,
    path: "/",
    same_site: "Lax",
};
const CSRF: Csrf = Csrf {
    label: b"kalavpp storefront CSRF key v1",
};

/// The `Set-Cookie` header that starts a storefront session with `refresh_token`.
pub fn start_session(state: &AppState, refresh_token: &str) -> HeaderValue {
    set_cookie(state, SESSION, Some(&format!("{PREFIX}{refresh_token}")))
}

/// The `Set-Cookie` header that drops the session cookie.
pub fn end_session(state: &AppState) -> HeaderValue {
    set_cookie(state, SESSION, None)
}

/// The session token in the request's storefront cookie, if it has the storefront's form.
fn session_token(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, COOKIE)?.strip_prefix(PREFIX).filter(|t| !t.is_empty())
}

/// A signed-in customer (any role may shop).
pub struct Shopper {
    /// The customer as the services see them.
    pub actor: Actor,
    /// Display name, for the layout.
    pub name: String,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    /// The session's token (for sign-out).
    pub(super) token: String,
}

impl Shopper {
    /// Whether `presented` is this session's CSRF token (for forms that cannot be read as a
    /// [`ShopForm`], such as file uploads, which carry it in the query string).
    pub fn csrf_valid(&self, state: &AppState, presented: Option<&String>) -> bool {
        CSRF.valid(state, "session", &self.token, presented)
    }

    /// Fills the visitor-specific parts of the layout.
    pub fn dress(&self, chrome: &mut Chrome) {
        chrome.user = Some(self.name.clone());
        chrome.csrf.clone_from(&self.csrf);
    }
}

/// Whoever is asking: a signed-in customer or an anonymous visitor. Never rejects; a cookie that
/// no longer works counts as anonymous.
pub struct Visitor {
    /// The customer, when signed in.
    pub shopper: Option<Shopper>,
}

async fn shopper(state: &AppState, headers: &HeaderMap) -> Result<Option<Shopper>, ShopError> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    let actor = match state.market.accounts().authenticate_session(token).await {
        Ok(actor) => actor,
        Err(Error::Unauthorized { .. } | Error::Forbidden { .. }) => return Ok(None),
        Err(other) => return Err(other.into()),
    };
    let me = state.market.accounts().me(&actor).await?;
    Ok(Some(Shopper {
        actor,
        name: me.name,
        csrf: CSRF.token(state, "session", token),
        token: token.to_owned(),
    }))
}

impl<S> FromRequestParts<S> for Visitor
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        let shopper = shopper(&state, &parts.headers).await.map_err(IntoResponse::into_response)?;
        Ok(Self { shopper })
    }
}

/// `/signin?next=<where>`.
pub fn sign_in_link(next: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new()).append_pair("next", next).finish();
    format!("/signin?{query}")
}

fn to_sign_in(state: &AppState, parts: &Parts) -> Response {
    let next = if parts.method == Method::GET {
        parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_owned()
    } else {
        "/".to_owned()
    };
    let mut response = Redirect::to(&sign_in_link(&next)).into_response();
    if cookie(&parts.headers, COOKIE).is_some() {
        response.headers_mut().insert(header::SET_COOKIE, end_session(state));
    }
    response
}

impl<S> FromRequestParts<S> for Shopper
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        match shopper(&state, &parts.headers).await {
            Ok(Some(shopper)) => Ok(shopper),
            Ok(None) => Err(to_sign_in(&state, parts)),
            Err(err) => Err(err.into_response()),
        }
    }
}

/// The `403` page for a form without a valid CSRF token.
pub fn csrf_refused() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "This form is missing its security token or it belongs to another session. Go back, reload the page and try again.",
        vec![],
    )
}

async fn read_form<S: Send + Sync>(parts: Parts, body: axum::body::Body, state: &S) -> Result<HashMap<String, String>, Response> {
    let bytes = axum::body::Bytes::from_request(Request::from_parts(parts, body), state)
        .await
        .map_err(|_| error_page(StatusCode::BAD_REQUEST, "The form could not be read.", vec![]))?;
    parse_pairs(&bytes).map_err(|e| ShopError(e).into_response())
}

/// A form posted by a signed-in customer with a valid CSRF token.
pub struct ShopForm {
    /// Who posted it.
    pub shopper: Shopper,
    /// The form fields.
    pub fields: HashMap<String, String>,
}

impl<S> FromRequest<S> for ShopForm
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let shopper = Shopper::from_request_parts(&mut parts, state).await?;
        let app = AppState::from_ref(state);
        let fields = read_form(parts, body, state).await?;
        if !CSRF.valid(&app, "session", &shopper.token, fields.get("csrf")) {
            return Err(csrf_refused());
        }
        Ok(Self { shopper, fields })
    }
}

/// A form posted before a session exists (sign in, register, password reset), with the CSRF
/// token of the visitor's nonce cookie.
pub struct GuestForm {
    /// The form fields.
    pub fields: HashMap<String, String>,
}

impl<S> FromRequest<S> for GuestForm
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let app = AppState::from_ref(state);
        let nonce = cookie(&parts.headers, FORM_COOKIE).unwrap_or_default().to_owned();
        let fields = read_form(parts, body, state).await?;
        if nonce.is_empty() || !CSRF.valid(&app, "guest", &nonce, fields.get("csrf")) {
            return Err(csrf_refused());
        }
        Ok(Self { fields })
    }
}

/// The CSRF token for a guest form, and the nonce cookie to set when the visitor has none yet.
pub fn guest_csrf(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie(headers, FORM_COOKIE) {
        Some(nonce) if nonce.len() <= 128 => (CSRF.token(state, "guest", nonce), None),
        _ => {
            let nonce = random_token(24);
            (
                CSRF.token(state, "guest", &nonce),
                Some(set_cookie(state, FORM_NONCE, Some(&nonce))),
            )
        }
    }
}
