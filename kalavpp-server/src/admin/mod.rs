//! The admin HTML panel under `/admin`: askama pages over the same core services as the REST
//! API, a cookie session (an ordinary login session of the core, so logout, suspension and
//! password changes end it), and a CSRF token on every form. Handlers stay thin: they read the
//! form or query, call one service with the admin's [`Actor`](kalavpp_core::auth::Actor) and
//! render the result or redirect (`303`) back to the list with a short message.

mod actions;
mod analytics;
mod categories;
mod commission;
mod emails;
mod pages;
mod products;
mod session;
mod settings;

use std::collections::HashMap;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kalavpp_core::{Error, FieldError};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::app::AppState;
use crate::rate_limit::IpRateLimit;

pub use session::{COOKIE, PanelAdmin, PanelForm, csrf_token};

/// The panel's routes; `credentials` is the strict per-IP limit of the API's credential routes,
/// applied to `POST /admin/login` as well.
pub fn routes(credentials: IpRateLimit) -> Router<AppState> {
    let login = Router::new()
        .route("/admin/login", post(session::login))
        .layer(from_fn_with_state(credentials, session::limit_logins));
    Router::new()
        .route("/admin/login", get(session::login_page))
        .merge(login)
        .route("/admin/logout", post(session::logout))
        .route("/admin/panel.css", get(stylesheet))
        .route("/admin", get(pages::dashboard))
        .route("/admin/", get(pages::dashboard))
        .route("/admin/vendors", get(pages::vendors))
        .route("/admin/vendors/{id}/{action}", post(actions::vendor))
        .route("/admin/payouts", get(pages::payouts))
        .route("/admin/payouts/{id}/{action}", post(actions::payout))
        .route("/admin/users", get(pages::users))
        .route("/admin/users/{id}/{action}", post(actions::user))
        .route("/admin/orders", get(pages::orders))
        .route("/admin/orders/{id}", get(pages::order))
        .route("/admin/orders/{id}/refund", post(actions::refund))
        .route("/admin/reviews", get(pages::reviews))
        .route("/admin/reviews/{id}/{action}", post(actions::review))
        .route("/admin/audit", get(pages::audit))
        .route("/admin/emails", get(pages::emails))
        .route("/admin/analytics", get(analytics::page))
        .route("/admin/categories", get(categories::page).post(categories::create))
        .route("/admin/categories/{id}/{action}", post(categories::change))
        .route("/admin/vendors/{id}/commission", post(commission::set))
        .route("/admin/emails/{id}/retry", post(emails::retry))
        .route("/admin/products", get(products::page))
        .route("/admin/products/{id}/{action}", post(products::action))
        .route("/admin/settings", get(settings::page))
        // Panel pages hold personal data and per-session tokens: never cache them.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
}

const STYLESHEET: &str = include_str!("../../templates/admin/panel.css");

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLESHEET).into_response()
}

/// What the shared layout shows on every signed-in page.
pub struct Chrome {
    /// The signed-in admin's display name.
    pub name: String,
    /// The CSRF token of this session, for every form on the page.
    pub csrf: String,
    /// A short outcome message after a redirect (`?done=`, known messages only), shown escaped.
    pub done: Option<String>,
    /// Which navigation entry is current.
    pub section: &'static str,
}

/// Previous / next links of a paginated list.
pub struct Pager {
    /// The current 1-based page.
    pub page: u32,
    /// How many pages there are (at least 1).
    pub pages: u32,
    /// Matching items in all.
    pub total: i64,
    /// Link to the previous page.
    pub prev: Option<String>,
    /// Link to the next page.
    pub next: Option<String>,
}

impl Pager {
    /// Links for `path` keeping the non-empty `filters`.
    pub fn new<T>(path: &str, filters: &[(&str, &str)], page: &kalavpp_core::domain::Page<T>) -> Self {
        let per_page = i64::from(page.per_page.max(1));
        let pages = u32::try_from(((page.total + per_page - 1) / per_page).max(1)).unwrap_or(u32::MAX);
        let link = |n: u32| {
            let mut query = form_urlencoded::Serializer::new(String::new());
            for (key, value) in filters.iter().filter(|(_, v)| !v.is_empty()) {
                query.append_pair(key, value);
            }
            query.append_pair("page", &n.to_string());
            format!("{path}?{}", query.finish())
        };
        Self {
            page: page.page,
            pages,
            total: page.total,
            prev: (page.page > 1).then(|| link(page.page - 1)),
            next: (page.page < pages).then(|| link(page.page + 1)),
        }
    }
}

/// An error page: the core's error as readable HTML with the matching status code.
#[derive(Debug)]
pub struct PanelError(pub Error);

impl From<Error> for PanelError {
    fn from(err: Error) -> Self {
        Self(err)
    }
}

/// Result alias of panel handlers.
pub type PanelResult = Result<Response, PanelError>;

#[derive(Template)]
#[template(path = "admin/error.html")]
struct ErrorPage {
    status: u16,
    title: String,
    message: String,
    fields: Vec<FieldError>,
}

/// Renders a standalone error page.
pub fn error_page(status: StatusCode, message: impl Into<String>, fields: Vec<FieldError>) -> Response {
    let page = ErrorPage {
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        message: message.into(),
        fields,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "rendering the panel error page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, Html("<h1>Internal error</h1>".to_owned())).into_response()
        }
    }
}

impl IntoResponse for PanelError {
    fn into_response(self) -> Response {
        match crate::web::error_parts(self.0, "admin panel") {
            Some((status, message, fields)) => error_page(status, message, fields),
            // The session ended between the extractor and the call: sign in again.
            None => Redirect::to("/admin/login").into_response(),
        }
    }
}

/// Renders a page template as `200 text/html`.
pub fn render(page: &impl Template) -> PanelResult {
    let html = page.render().map_err(|e| Error::Internal(format!("template: {e}")))?;
    Ok(Html(html).into_response())
}

/// The query string as a map (the last value of a repeated key wins); `422` for NUL characters.
pub fn query_map(raw: Option<&str>) -> Result<HashMap<String, String>, PanelError> {
    Ok(crate::web::query_map(raw)?)
}

/// Reads `application/x-www-form-urlencoded` pairs; `422` for values with NUL characters.
pub fn parse_pairs(bytes: &[u8]) -> Result<HashMap<String, String>, PanelError> {
    Ok(crate::web::parse_pairs(bytes)?)
}

pub use crate::web::{field, money, when};

/// The `page` parameter (default 1; `422` when not a positive number).
pub fn page_request(map: &HashMap<String, String>) -> Result<kalavpp_core::domain::PageRequest, PanelError> {
    let page = match field(map, "page") {
        None => 1,
        Some(text) => text
            .parse::<u32>()
            .map_err(|_| Error::Validation(vec![FieldError::new("page", "must be a positive whole number")]))?,
    };
    Ok(kalavpp_core::domain::PageRequest::new(page, 20))
}

/// The outcome messages the panel redirects with; `?done=` shows only these, so a crafted link
/// cannot put words in the panel's mouth.
const OUTCOMES: &[&str] = &[
    "vendor approved",
    "vendor rejected",
    "vendor suspended",
    "vendor reinstated",
    "payout approved",
    "payout rejected",
    "payout marked paid",
    "user suspended",
    "user reactivated",
    "order refunded",
    "review hidden",
    "review shown",
    "category created",
    "category renamed",
    "category moved",
    "category deleted",
    "commission set",
    "commission reset to the default",
    "signed out",
    "email queued again",
    "product archived",
    "product restored",
    "signed out after inactivity",
];

/// The `done` message of the query string, if it is one the panel sends.
pub fn outcome(query: &HashMap<String, String>) -> Option<String> {
    field(query, "done").filter(|d| OUTCOMES.contains(d)).map(str::to_owned)
}

/// `303 See Other` to `path` with `?done=<what>` (one of the known outcomes).
pub fn done(path: &str, what: &'static str) -> Response {
    debug_assert!(OUTCOMES.contains(&what), "unknown outcome {what}");
    let query = form_urlencoded::Serializer::new(String::new()).append_pair("done", what).finish();
    Redirect::to(&format!("{path}?{query}")).into_response()
}
