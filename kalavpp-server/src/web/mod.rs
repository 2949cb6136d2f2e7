//! What the server's HTML interfaces (the admin panel and the storefront) share: cookies, CSRF
//! tokens, form and query parsing, and the formatting of money and times. Each UI keeps its own
//! cookie names, paths, CSRF key and error pages; this module only holds the mechanics.

pub mod chart;

use std::collections::HashMap;

use axum::http::{HeaderMap, HeaderValue, header};
use hmac::{Hmac, Mac};
use kalavpp_core::{Error, FieldError, Mode};
use sha2::Sha256;

use crate::app::AppState;

type HmacSha256 = Hmac<Sha256>;

/// The value of cookie `name`, if the request sent it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// Where a cookie lives and how it travels.
#[derive(Debug, Clone, Copy)]
pub struct CookieSpec {
    /// Cookie name.
    pub name: &'static str,
    /// `Path=` attribute.
    pub path: &'static str,
    /// `SameSite=` attribute (`Strict` or `Lax`).
    pub same_site: &'static str,
}

/// A `Set-Cookie` value for `spec`: always `HttpOnly`, `Secure` in production; `value == None`
/// deletes the cookie.
pub fn set_cookie(state: &AppState, spec: CookieSpec, value: Option<&str>) -> HeaderValue {
    let secure = if state.market.config().mode == Mode::Production {
        "; Secure"
    } else {
        ""
    };
    let CookieSpec { name, path, same_site } = spec;
    let text = match value {
        Some(value) => format!("{name}={value}; Path={path}; HttpOnly; SameSite={same_site}{secure}"),
        None => format!("{name}=; Path={path}; HttpOnly; SameSite={same_site}{secure}; Max-Age=0"),
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// CSRF tokens of one UI: HMAC-SHA256 of a session token (or a pre-session nonce) under a key
/// derived from `JWT_REFRESH_SECRET` and the UI's own label, so a token of one UI is never valid
/// in another and never equals a stored refresh-token hash (those are HMACs under the secret itself).
#[derive(Debug, Clone, Copy)]
pub struct Csrf {
    /// What the key is derived with, e.g. `b"kalavpp admin panel CSRF key v1"`.
    pub label: &'static [u8],
}

impl Csrf {
    fn mac(self, state: &AppState, purpose: &str, token: &str) -> HmacSha256 {
        let secret = state.market.config().tokens.refresh_secret.expose().as_bytes();
        let mut derive = <HmacSha256 as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
        derive.update(self.label);
        let key = derive.finalize().into_bytes();
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&key).expect("HMAC takes keys of any length");
        mac.update(purpose.as_bytes());
        mac.update(b"\n");
        mac.update(token.as_bytes());
        mac
    }

    /// The token for `purpose` bound to `token`, hex encoded.
    pub fn token(self, state: &AppState, purpose: &str, token: &str) -> String {
        hex::encode(self.mac(state, purpose, token).finalize().into_bytes())
    }

    /// Whether `presented` is the token for `purpose` bound to `token` (constant-time comparison).
    pub fn valid(self, state: &AppState, purpose: &str, token: &str, presented: Option<&String>) -> bool {
        let Some(bytes) = presented.and_then(|p| hex::decode(p.trim()).ok()) else {
            return false;
        };
        self.mac(state, purpose, token).verify_slice(&bytes).is_ok()
    }
}

/// Reads `application/x-www-form-urlencoded` pairs (the last value of a repeated key wins);
/// `422` for values with NUL characters.
pub fn parse_pairs(bytes: &[u8]) -> Result<HashMap<String, String>, Error> {
    let mut map = HashMap::new();
    for (key, value) in form_urlencoded::parse(bytes) {
        if key.contains('\0') || value.contains('\0') {
            return Err(Error::Validation(vec![FieldError::new(
                key.replace('\0', ""),
                "must not contain NUL characters",
            )]));
        }
        map.insert(key.into_owned(), value.into_owned());
    }
    Ok(map)
}

/// The query string as a map, like [`parse_pairs`].
pub fn query_map(raw: Option<&str>) -> Result<HashMap<String, String>, Error> {
    parse_pairs(raw.unwrap_or_default().as_bytes())
}

/// A non-blank, trimmed value of `key`.
pub fn field<'a>(map: &'a HashMap<String, String>, key: &str) -> Option<&'a str> {
    map.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

/// Amount in major units with the currency code, e.g. `123.45 USD`.
pub fn money(cents: i64, currency: &str) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02} {}", abs / 100, abs % 100, currency.to_uppercase())
}

/// A timestamp as `YYYY-MM-DD HH:MM` UTC.
pub fn when(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The status and words of an HTML error page for a core error, the same for every UI; `None`
/// for `Unauthorized` (each UI sends the visitor to its own sign-in page instead).
pub fn error_parts(err: Error, ui: &str) -> Option<(axum::http::StatusCode, String, Vec<FieldError>)> {
    use axum::http::StatusCode;
    Some(match err {
        Error::NotFound { message, .. } => (StatusCode::NOT_FOUND, message, vec![]),
        Error::Unauthorized { .. } => return None,
        Error::Forbidden { message, .. } => (StatusCode::FORBIDDEN, message, vec![]),
        Error::Conflict { message, .. } => (StatusCode::CONFLICT, message, vec![]),
        Error::BadRequest { message, .. } => (StatusCode::BAD_REQUEST, message, vec![]),
        Error::Gone { message, .. } => (StatusCode::GONE, message, vec![]),
        Error::Upstream { message, .. } => (StatusCode::BAD_GATEWAY, message, vec![]),
        Error::TooLarge { message, .. } => (StatusCode::PAYLOAD_TOO_LARGE, message, vec![]),
        Error::UnsupportedMedia { message, .. } => (StatusCode::UNSUPPORTED_MEDIA_TYPE, message, vec![]),
        Error::Validation(fields) => (StatusCode::UNPROCESSABLE_ENTITY, "Some fields are invalid.".to_owned(), fields),
        Error::Internal(detail) => {
            tracing::error!(%detail, ui, "internal error in an HTML page");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong on our side.".to_owned(),
                vec![],
            )
        }
    })
}

/// The `Retry-After` seconds and a `429` response built by `page` when `limit` refuses `request`.
pub fn rate_limited(
    limit: &crate::rate_limit::IpRateLimit,
    request: &axum::extract::Request,
    page: impl FnOnce(u64) -> axum::response::Response,
) -> Option<axum::response::Response> {
    let seconds = limit.check(request).err()?.max(1);
    let mut response = page(seconds);
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    Some(response)
}
