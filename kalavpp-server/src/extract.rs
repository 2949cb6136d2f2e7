//! Request extractors: JSON bodies, query strings, pagination and the signed-in actor (any user,
//! optional, or an admin).

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header;
use axum::http::request::Parts;
use kalavpp_core::auth::Actor;
use kalavpp_core::domain::PageRequest;
use kalavpp_core::{Error, FieldError};
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::http_error::ApiError;

/// A JSON body: `400` for malformed JSON or a wrong content type, `413` past the body limit,
/// `422` with per-field errors for missing, mistyped or unknown fields.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::bad_request(
                "unsupported_content_type",
                "send the body as application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(request, state).await.map_err(body_rejection)?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// An optional JSON body: an empty body gives `T::default()`, anything else is read like [`ApiJson`].
pub struct JsonOrEmpty<T>(pub T);

impl<T, S> FromRequest<S> for JsonOrEmpty<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let empty = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == "0")
            || (!request.headers().contains_key(header::CONTENT_TYPE) && !request.headers().contains_key(header::TRANSFER_ENCODING));
        if empty {
            return Ok(Self(T::default()));
        }
        ApiJson::<T>::from_request(request, state).await.map(|ApiJson(value)| Self(value))
    }
}

/// A body that could not be read: `413` past the limit, else `400`.
pub fn body_rejection(rejection: BytesRejection) -> ApiError {
    match rejection {
        BytesRejection::FailedToBufferBody(err) if is_length_limit(&err) => ApiError::Http(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is larger than 1 MiB".into(),
        ),
        other => ApiError::bad_request("unreadable_body", other.body_text()),
    }
}

fn is_length_limit(err: &axum::extract::rejection::FailedToBufferBody) -> bool {
    matches!(err, axum::extract::rejection::FailedToBufferBody::LengthLimitError(_))
}

/// Deserialises JSON, classifying errors as malformed (`400`) or invalid (`422`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // No text we store may hold a NUL character (PostgreSQL refuses it): refuse it for every route.
    if bytes.windows(6).any(|w| w == b"\\u0000") {
        return Err(Error::Validation(vec![FieldError::new("body", "must not contain NUL characters (\\u0000)")]).into());
    }
    // Every body is a JSON object; serde would read a struct from an array (`[null, null]`) too.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => Error::Validation(vec![FieldError::new("body", "must be a JSON object")]).into(),
            Err(_) => ApiError::bad_request("malformed_json", "the request body is not valid JSON"),
        });
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                let message = message.split(" at line ").next().unwrap_or(&message).to_owned();
                Error::Validation(vec![field_error(&path, &message)]).into()
            }
            _ => ApiError::bad_request("malformed_json", "the request body is not valid JSON"),
        }
    })
}

fn field_error(path: &str, message: &str) -> FieldError {
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_owned)
    };
    if let Some(field) = quoted("unknown field `") {
        // For unknown fields the path already ends with the field itself.
        let field = if path == "." || path.is_empty() { field } else { path.to_owned() };
        return FieldError::new(field, "is not an accepted field");
    }
    if let Some(field) = quoted("missing field `") {
        let field = if path == "." || path.is_empty() {
            field
        } else {
            format!("{path}.{field}")
        };
        return FieldError::new(field, "is required");
    }
    let field = if path == "." || path.is_empty() {
        "body".to_owned()
    } else {
        path.to_owned()
    };
    FieldError::new(field, message)
}

/// A query string: `422` when it cannot be read into `T`.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map(ApiQuery).map_err(|err| {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            Error::Validation(vec![field_error(&path, &message)]).into()
        })
    }
}

/// `page` and `per_page` from the query string: `422` when not whole numbers or below 1; larger
/// values are clamped (per_page ≤ 100, page ≤ 1000000).
pub struct Pagination(pub PageRequest);

impl<S: Send + Sync> FromRequestParts<S> for Pagination {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut page: i64 = 1;
        let mut per_page: i64 = 20;
        let mut errors = Vec::new();
        for (key, value) in form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes()) {
            let target = match key.as_ref() {
                "page" => &mut page,
                "per_page" => &mut per_page,
                _ => continue,
            };
            match value.trim().parse::<i64>() {
                Ok(n) if n < 1 => errors.push(FieldError::new(key.as_ref(), "must be at least 1")),
                Ok(n) => *target = n,
                Err(_) if value.trim().chars().all(|c| c.is_ascii_digit()) && !value.trim().is_empty() => *target = i64::MAX,
                Err(_) => errors.push(FieldError::new(key.as_ref(), "must be a whole number")),
            }
        }
        if !errors.is_empty() {
            return Err(Error::Validation(errors).into());
        }
        let clamp = |n: i64| u32::try_from(n.max(1)).unwrap_or(u32::MAX);
        Ok(Self(PageRequest::new(clamp(page), clamp(per_page))))
    }
}

/// The signed-in actor; `401` without a valid bearer token.
pub struct AuthUser(pub Actor);

impl<S> FromRequestParts<S> for AuthUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Already authenticated for this request (by the admin gate or an earlier extractor).
        if let Some(actor) = parts.extensions.get::<Actor>() {
            return Ok(Self(*actor));
        }
        let state = AppState::from_ref(state);
        let token = bearer_token(parts)?;
        let actor = state.market.accounts().authenticate(token).await?;
        parts.extensions.insert(actor);
        Ok(Self(actor))
    }
}

/// The signed-in actor when it is an admin: `401` without a valid bearer token,
/// `403 admin_only` for any other user. The admin API's router runs it as a `route_layer`
/// (see [`crate::admin_gate`]) before any handler, body or query is looked at, and every admin
/// handler takes it too, so a handler mounted elsewhere still refuses non-admins. The actor is
/// the one authenticated for this request (its role read fresh), never cached beyond it.
pub struct AdminUser(pub Actor);

impl<S> FromRequestParts<S> for AdminUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let AuthUser(actor) = AuthUser::from_request_parts(parts, state).await?;
        actor.require_admin()?;
        Ok(Self(actor))
    }
}

/// The signed-in actor, or [`Actor::Anonymous`] without an `Authorization` header. A header with a
/// bad token is still `401`.
pub struct OptionalUser(pub Actor);

impl<S> FromRequestParts<S> for OptionalUser
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if !parts.headers.contains_key(header::AUTHORIZATION) {
            return Ok(Self(Actor::Anonymous));
        }
        AuthUser::from_request_parts(parts, state).await.map(|AuthUser(actor)| Self(actor))
    }
}

fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let missing = || Error::unauthorized("authentication_required", "send `Authorization: Bearer <access_token>`");
    let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(missing)?;
    let value = value.to_str().map_err(|_| missing())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing().into());
    }
    Ok(token.trim())
}

/// Deserialises a field that may be absent (`None`), `null` (`Some(None)`) or a value.
/// Use with `#[serde(default, deserialize_with = "double_option")]`.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// A JSON number that is a whole number: `5` and `5.0` are both 5 (JSON Schema's `integer`
/// counts `5.0` as one); `5.5` is refused. Use with `#[serde(deserialize_with = "whole_number")]`.
pub fn whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    struct Whole;
    impl serde::de::Visitor<'_> for Whole {
        type Value = i64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a whole number")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
            Ok(v)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
            i64::try_from(v).map_err(|_| E::custom("number out of range"))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
            // Beyond ±2^63 a float is no longer an i64; the fraction test refuses 5.5, NaN and infinities.
            if v.fract() == 0.0 && (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&v) {
                Ok(v as i64)
            } else {
                Err(E::invalid_type(serde::de::Unexpected::Float(v), &self))
            }
        }
    }
    deserializer.deserialize_any(Whole)
}

/// [`whole_number`] for an optional field (`null` or absent is `None`).
pub fn optional_whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    #[derive(serde::Deserialize)]
    struct Wrapped(#[serde(deserialize_with = "whole_number")] i64);
    <Option<Wrapped> as serde::Deserialize>::deserialize(deserializer).map(|w| w.map(|Wrapped(n)| n))
}

/// [`whole_number`] for a field where absent (`None`), `null` (`Some(None)`) and a number differ.
pub fn double_option_whole_number<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Option<i64>>, D::Error> {
    optional_whole_number(deserializer).map(Some)
}
