//! Account pages: register, sign in, sign out, forgot and reset password, profile.

use askama::Template;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use kalavpp_core::services::{ProfileChanges, Registration};
use kalavpp_core::{Error, FieldError};

use super::pages::{ShopPage, shop_page};
use super::session::{GuestForm, ShopForm, Shopper, Visitor, end_session, guest_csrf, sign_in_link, start_session};
use super::{Chrome, ShopError, ShopResult, error_for, error_page, render_with, safe_next};
use crate::app::AppState;
use crate::rate_limit::IpRateLimit;
use crate::web::{field, query_map};

/// Messages the account pages show after a redirect (`?done=`); only these, so a crafted link
/// cannot put words on the page.
const NOTES: &[(&str, &str)] = &[
    ("signed-out", "You are signed out."),
    ("password-reset", "Your password was changed. Sign in with the new one."),
    (
        "password-changed",
        "Your password was changed and you were signed out everywhere. Sign in again.",
    ),
    ("saved", "Your profile was saved."),
];

fn note(query: &std::collections::HashMap<String, String>) -> Option<&'static str> {
    let done = field(query, "done")?;
    NOTES.iter().find(|(key, _)| *key == done).map(|(_, text)| *text)
}

#[derive(Template)]
#[template(path = "storefront/signin.html")]
struct SignInPage {
    chrome: Chrome,
    form_csrf: String,
    next: String,
    register_link: String,
    email: String,
    error: Option<String>,
    note: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "storefront/register.html")]
struct RegisterPage {
    chrome: Chrome,
    form_csrf: String,
    next: String,
    sign_in_link: String,
    email: String,
    name: String,
    errors: Vec<FieldError>,
}

#[derive(Template)]
#[template(path = "storefront/forgot.html")]
struct ForgotPage {
    chrome: Chrome,
    form_csrf: String,
    sent: bool,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "storefront/reset.html")]
struct ResetPage {
    chrome: Chrome,
    form_csrf: String,
    token: String,
    errors: Vec<FieldError>,
}

#[derive(Template)]
#[template(path = "storefront/profile.html")]
struct ProfilePage {
    chrome: Chrome,
    name: String,
    email: String,
    note: Option<&'static str>,
    errors: Vec<FieldError>,
}

shop_page!(SignInPage, RegisterPage, ForgotPage, ResetPage, ProfilePage);

impl RegisterPage {
    fn error(&self, key: &str) -> Option<String> {
        error_for(&self.errors, key)
    }
}

impl ResetPage {
    fn error(&self, key: &str) -> Option<String> {
        error_for(&self.errors, key)
    }
}

impl ProfilePage {
    fn error(&self, key: &str) -> Option<String> {
        error_for(&self.errors, key)
    }
}

/// Renders a guest form page, setting the nonce cookie when the visitor has none.
fn guest_page(status: StatusCode, page: &impl Template, cookie: Option<HeaderValue>) -> ShopResult {
    let mut response = render_with(status, page)?;
    if let Some(cookie) = cookie {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

fn guest_chrome(state: &AppState, path: &str, title: &str) -> Chrome {
    let mut chrome = Chrome::new(state, path, title, "");
    chrome.section = "account";
    chrome
}

/// `GET /signin`.
pub async fn sign_in_page(State(state): State<AppState>, visitor: Visitor, headers: HeaderMap, RawQuery(raw): RawQuery) -> ShopResult {
    let query = query_map(raw.as_deref())?;
    let next = safe_next(field(&query, "next"));
    if visitor.shopper.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    sign_in_form(&state, &headers, StatusCode::OK, next, String::new(), None, note(&query))
}

fn sign_in_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: String,
    email: String,
    error: Option<String>,
    note: Option<&'static str>,
) -> ShopResult {
    let (form_csrf, cookie) = guest_csrf(state, headers);
    let register_link = {
        let query = form_urlencoded::Serializer::new(String::new()).append_pair("next", &next).finish();
        format!("/register?{query}")
    };
    let page = SignInPage {
        chrome: guest_chrome(state, "/signin", "Sign in"),
        form_csrf,
        next,
        register_link,
        email,
        error,
        note,
    };
    guest_page(status, &page, cookie)
}

/// After signing in: adds the work the visitor wanted (`next=/products/x?add=<id>`) to the cart
/// and returns to it.
async fn signed_in(state: &AppState, refresh_token: &str, next: &str) -> ShopResult {
    let mut target = next.to_owned();
    if let Some((path, query)) = next.split_once('?') {
        let query = query_map(Some(query)).unwrap_or_default();
        if let Some(product) = field(&query, "add") {
            let actor = state.market.accounts().authenticate_session(refresh_token).await?;
            state.market.cart().add(&actor, product, 1).await?;
            target = format!("{path}?added=1");
        }
    }
    let mut response = Redirect::to(&target).into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, start_session(state, refresh_token));
    Ok(response)
}

/// `POST /signin`.
pub async fn sign_in(State(state): State<AppState>, headers: HeaderMap, form: GuestForm) -> ShopResult {
    let email = field(&form.fields, "email").unwrap_or_default().to_owned();
    let password = form.fields.get("password").cloned().unwrap_or_default();
    let next = safe_next(field(&form.fields, "next"));
    let error = match state.market.accounts().login(&email, &password).await {
        Ok(session) => return signed_in(&state, &session.tokens.refresh_token, &next).await,
        Err(Error::Unauthorized { .. }) => "Email or password is incorrect.",
        Err(Error::Forbidden { .. }) => "This account is suspended.",
        Err(other) => return Err(other.into()),
    };
    sign_in_form(
        &state,
        &headers,
        StatusCode::UNAUTHORIZED,
        next,
        email,
        Some(error.to_owned()),
        None,
    )
}

fn register_form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    next: String,
    email: String,
    name: String,
    errors: Vec<FieldError>,
) -> ShopResult {
    let (form_csrf, cookie) = guest_csrf(state, headers);
    let page = RegisterPage {
        chrome: guest_chrome(state, "/register", "Create an account"),
        form_csrf,
        sign_in_link: sign_in_link(&next),
        next,
        email,
        name,
        errors,
    };
    guest_page(status, &page, cookie)
}

/// `GET /register`.
pub async fn register_page(State(state): State<AppState>, visitor: Visitor, headers: HeaderMap, RawQuery(raw): RawQuery) -> ShopResult {
    let query = query_map(raw.as_deref())?;
    let next = safe_next(field(&query, "next"));
    if visitor.shopper.is_some() {
        return Ok(Redirect::to(&next).into_response());
    }
    register_form(&state, &headers, StatusCode::OK, next, String::new(), String::new(), vec![])
}

/// `POST /register`: a new customer account, signed in at once.
pub async fn register(State(state): State<AppState>, headers: HeaderMap, form: GuestForm) -> ShopResult {
    let email = field(&form.fields, "email").unwrap_or_default().to_owned();
    let name = field(&form.fields, "name").unwrap_or_default().to_owned();
    let next = safe_next(field(&form.fields, "next"));
    let registration = Registration {
        email: email.clone(),
        password: form.fields.get("password").cloned().unwrap_or_default(),
        name: name.clone(),
    };
    let errors = match state.market.accounts().register(registration).await {
        Ok(session) => return signed_in(&state, &session.tokens.refresh_token, &next).await,
        Err(Error::Validation(errors)) => errors,
        Err(Error::Conflict { .. }) => vec![FieldError::new(
            "email",
            "An account with this email already exists. Sign in instead.",
        )],
        Err(other) => return Err(other.into()),
    };
    register_form(&state, &headers, StatusCode::UNPROCESSABLE_ENTITY, next, email, name, errors)
}

/// `POST /signout`: ends the login session and drops the cookie.
pub async fn sign_out(State(state): State<AppState>, form: ShopForm) -> ShopResult {
    state.market.accounts().logout(&form.shopper.token).await?;
    let mut response = Redirect::to("/signin?done=signed-out").into_response();
    response.headers_mut().insert(header::SET_COOKIE, end_session(&state));
    Ok(response)
}

/// `GET /forgot-password`.
pub async fn forgot_page(State(state): State<AppState>, headers: HeaderMap) -> ShopResult {
    let (form_csrf, cookie) = guest_csrf(&state, &headers);
    let page = ForgotPage {
        chrome: guest_chrome(&state, "/forgot-password", "Forgot your password?"),
        form_csrf,
        sent: false,
        error: None,
    };
    guest_page(StatusCode::OK, &page, cookie)
}

/// `POST /forgot-password`: the same answer whether or not the account exists.
pub async fn forgot(State(state): State<AppState>, headers: HeaderMap, form: GuestForm) -> ShopResult {
    let email = field(&form.fields, "email").unwrap_or_default();
    let (sent, error) = match state.market.accounts().forgot_password(email).await {
        Ok(()) => (true, None),
        Err(Error::Validation(_)) => (false, Some("Enter the email address of your account.".to_owned())),
        Err(other) => return Err(other.into()),
    };
    let (form_csrf, cookie) = guest_csrf(&state, &headers);
    let page = ForgotPage {
        chrome: guest_chrome(&state, "/forgot-password", "Forgot your password?"),
        form_csrf,
        sent,
        error,
    };
    guest_page(if sent { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY }, &page, cookie)
}

/// `GET /reset-password?token=...`: the link of the reset email.
pub async fn reset_page(State(state): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> ShopResult {
    let query = query_map(raw.as_deref())?;
    let (form_csrf, cookie) = guest_csrf(&state, &headers);
    let page = ResetPage {
        chrome: guest_chrome(&state, "/reset-password", "Choose a new password"),
        form_csrf,
        token: field(&query, "token").unwrap_or_default().to_owned(),
        errors: vec![],
    };
    guest_page(StatusCode::OK, &page, cookie)
}

/// `POST /reset-password`.
pub async fn reset(State(state): State<AppState>, headers: HeaderMap, form: GuestForm) -> ShopResult {
    let token = field(&form.fields, "token").unwrap_or_default().to_owned();
    let password = form.fields.get("password").cloned().unwrap_or_default();
    let errors = match state.market.accounts().reset_password(&token, &password).await {
        Ok(()) => return Ok(Redirect::to("/signin?done=password-reset").into_response()),
        Err(Error::Validation(errors)) => errors
            .into_iter()
            .map(|e| match e.field.as_str() {
                "new_password" => FieldError::new("password", e.message),
                "token" => FieldError::new("password", "This reset link is invalid or has expired. Ask for a new one."),
                _ => e,
            })
            .collect(),
        Err(Error::Unauthorized { .. } | Error::Gone { .. } | Error::NotFound { .. } | Error::BadRequest { .. }) => {
            vec![FieldError::new(
                "password",
                "This reset link is invalid or has expired. Ask for a new one.",
            )]
        }
        Err(other) => return Err(other.into()),
    };
    let (form_csrf, cookie) = guest_csrf(&state, &headers);
    let page = ResetPage {
        chrome: guest_chrome(&state, "/reset-password", "Choose a new password"),
        form_csrf,
        token,
        errors,
    };
    guest_page(StatusCode::UNPROCESSABLE_ENTITY, &page, cookie)
}

async fn profile(
    state: &AppState,
    shopper: &Shopper,
    status: StatusCode,
    note: Option<&'static str>,
    errors: Vec<FieldError>,
) -> ShopResult {
    let me = state.market.accounts().me(&shopper.actor).await?;
    let mut chrome = Chrome::new(state, "/account", "Your account", "");
    shopper.dress(&mut chrome);
    chrome.section = "account";
    render_with(
        status,
        &ProfilePage {
            chrome,
            name: me.name,
            email: me.email.as_str().to_owned(),
            note,
            errors,
        },
    )
}

/// `GET /account`.
pub async fn profile_page(State(state): State<AppState>, shopper: Shopper, RawQuery(raw): RawQuery) -> ShopResult {
    let query = query_map(raw.as_deref())?;
    profile(&state, &shopper, StatusCode::OK, note(&query), vec![]).await
}

/// `POST /account`: a new name, or a new password (which ends every session, this one too).
pub async fn update_profile(State(state): State<AppState>, form: ShopForm) -> ShopResult {
    let password_change = field(&form.fields, "new_password").is_some() || field(&form.fields, "current_password").is_some();
    let changes = if password_change {
        ProfileChanges {
            name: None,
            current_password: Some(form.fields.get("current_password").cloned().unwrap_or_default()),
            new_password: Some(form.fields.get("new_password").cloned().unwrap_or_default()),
        }
    } else {
        ProfileChanges {
            name: Some(field(&form.fields, "name").unwrap_or_default().to_owned()),
            ..ProfileChanges::default()
        }
    };
    match state.market.accounts().update_me(&form.shopper.actor, changes).await {
        Ok(_) if password_change => {
            state.market.accounts().logout(&form.shopper.token).await?;
            let mut response = Redirect::to("/signin?done=password-changed").into_response();
            response.headers_mut().insert(header::SET_COOKIE, end_session(&state));
            Ok(response)
        }
        Ok(_) => Ok(Redirect::to("/account?done=saved").into_response()),
        Err(Error::Validation(errors)) => profile(&state, &form.shopper, StatusCode::UNPROCESSABLE_ENTITY, None, errors).await,
        Err(Error::Unauthorized { .. } | Error::Forbidden { .. }) if password_change => {
            let errors = vec![FieldError::new("current_password", "The current password is not right.")];
            profile(&state, &form.shopper, StatusCode::UNPROCESSABLE_ENTITY, None, errors).await
        }
        Err(other) => Err(ShopError(other)),
    }
}

/// Middleware: the API's per-IP credential limit on the storefront's credential forms, answered
/// with an HTML `429`.
pub async fn limit_credentials(State(limit): State<IpRateLimit>, request: Request, next: Next) -> Response {
    let refused = crate::web::rate_limited(&limit, &request, |seconds| {
        error_page(
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many attempts from your network. Try again in {seconds} seconds."),
            vec![],
        )
    });
    match refused {
        Some(response) => response,
        None => next.run(request).await,
    }
}
