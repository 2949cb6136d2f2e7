//! The customer storefront at `/`: askama pages over the same core services as the REST API.
//!
//! Anonymous visitors get the catalog pages (home, search, product, artist) from ready bytes in
//! [`PageCache`], keyed by the catalog generation and the normalised parameters; those pages carry
//! no per-visitor token (their buy button is a plain link to sign in). Signed-in customers get the
//! same pages rendered for them, with forms protected by a CSRF token bound to their session.
//! Every page works without JavaScript. See [`session`] for the cookie and CSRF rules.

mod account;
mod cache;
mod pages;
mod product;
mod search;
mod seo;
pub mod session;
mod shopping;

use std::sync::LazyLock;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kalavpp_core::{Error, FieldError};
use sha2::Digest;

use crate::app::AppState;
use crate::rate_limit::IpRateLimit;

pub use cache::PageCache;
pub use shopping::address_lines;

const STYLESHEET: &str = include_str!("../../templates/storefront/shop.css");

/// `/assets/shop-<hash>.css`: the stylesheet's path names its content, so it is cached for good.
pub static STYLESHEET_PATH: LazyLock<String> = LazyLock::new(|| {
    let digest = sha2::Sha256::digest(STYLESHEET.as_bytes());
    format!("/assets/shop-{}.css", &hex::encode(digest)[..16])
});

/// The storefront's routes; `credentials` is the API's strict per-IP limit of credential routes,
/// applied to sign-in, registration and the password forms.
pub fn routes(credentials: IpRateLimit) -> Router<AppState> {
    let limited = Router::new()
        .route("/signin", post(account::sign_in))
        .route("/register", post(account::register))
        .route("/forgot-password", post(account::forgot))
        .route("/reset-password", post(account::reset))
        .layer(from_fn_with_state(credentials, account::limit_credentials));
    let personal = Router::new()
        .route("/signin", get(account::sign_in_page))
        .route("/register", get(account::register_page))
        .route("/forgot-password", get(account::forgot_page))
        .route("/reset-password", get(account::reset_page))
        .route("/signout", post(account::sign_out))
        .route("/account", get(account::profile_page).post(account::update_profile))
        .route("/cart", get(shopping::cart))
        .route("/cart/add", post(shopping::add))
        .route("/cart/update", post(shopping::update))
        .route("/checkout", get(shopping::checkout_page).post(shopping::checkout))
        .route("/orders", get(shopping::orders))
        .route("/orders/{id}", get(shopping::order))
        .route("/orders/{id}/cancel", post(shopping::cancel))
        .route("/products/{slug}/reviews", post(shopping::review))
        .merge(limited)
        // Pages with personal data and per-session tokens are never stored by caches.
        .layer(axum::middleware::map_response(no_store));
    Router::new()
        .route("/", get(pages::home))
        .route("/search", get(search::search))
        .route("/products/{slug}", get(product::product))
        .route("/artists/{slug}", get(pages::artist))
        .route("/sitemap.xml", get(seo::sitemap))
        .route("/robots.txt", get(seo::robots))
        .route("/assets/{name}", get(stylesheet))
        .merge(personal)
}

async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn stylesheet(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    if format!("/assets/{name}") != *STYLESHEET_PATH {
        return not_found_page();
    }
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// Paths the storefront does not own (the API, the panel, media, the payment page, operations).
pub fn outside_storefront(path: &str) -> bool {
    ["/api/", "/admin", "/media/", "/dev/", "/healthz", "/readyz", "/metrics"]
        .iter()
        .any(|p| path.starts_with(p))
}

/// A bodiless error on a storefront path (`405` from the router, `408` from the timeout, ...) as
/// the storefront's HTML error page rather than problem+json; other responses pass.
pub fn html_for_bare(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || response.headers().contains_key(header::CONTENT_TYPE) {
        return response;
    }
    let message = match status {
        StatusCode::METHOD_NOT_ALLOWED => "That action isn't available here.",
        StatusCode::REQUEST_TIMEOUT => "That took too long. Please try again.",
        StatusCode::PAYLOAD_TOO_LARGE => "That form was too large.",
        _ if status.is_server_error() => "Something went wrong on our side. Please try again in a moment.",
        _ => "That request could not be handled.",
    };
    let mut page = error_page(status, message, vec![]);
    for (name, value) in response.headers() {
        if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
            page.headers_mut().insert(name.clone(), value.clone());
        }
    }
    page
}

/// `GET /` when the storefront is off: where the API is.
pub async fn api_index() -> Response {
    axum::Json(serde_json::json!({
        "name": "KALAVPP",
        "storefront": false,
        "api": "/api/v1",
        "openapi": "/api/v1/openapi.json",
        "health": "/healthz",
        "ready": "/readyz",
        "admin": "/admin",
    }))
    .into_response()
}

/// What the layout shows around every page.
pub struct Chrome {
    /// `<title>` (the shop name is appended).
    pub title: String,
    /// Meta description.
    pub description: String,
    /// Canonical absolute URL.
    pub canonical: String,
    /// Absolute URL of the Open Graph image, if the page has one.
    pub image: Option<String>,
    /// `og:type`.
    pub og_type: &'static str,
    /// schema.org JSON-LD, already escaped for a `<script>` element.
    pub json_ld: Option<String>,
    /// The signed-in customer's name.
    pub user: Option<String>,
    /// The session's CSRF token (sign-out form).
    pub csrf: String,
    /// The search box's current text.
    pub q: String,
    /// Path of the stylesheet.
    pub css: &'static str,
    /// Which navigation entry is current.
    pub section: &'static str,
}

impl Chrome {
    /// A chrome for `path` with `title`; the visitor's part is filled in by [`session::Visitor`].
    pub fn new(state: &AppState, path: &str, title: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            description: description.into(),
            canonical: format!("{}{path}", state.settings.backend_url),
            image: None,
            og_type: "website",
            json_ld: None,
            user: None,
            csrf: String::new(),
            q: String::new(),
            css: STYLESHEET_PATH.as_str(),
            section: "",
        }
    }
}

/// A core error shown as a storefront page.
#[derive(Debug)]
pub struct ShopError(pub Error);

impl From<Error> for ShopError {
    fn from(err: Error) -> Self {
        Self(err)
    }
}

/// Result alias of storefront handlers.
pub type ShopResult = Result<Response, ShopError>;

#[derive(Template)]
#[template(path = "storefront/error.html")]
struct ErrorPage {
    chrome: Chrome,
    status: u16,
    heading: &'static str,
    message: String,
    fields: Vec<FieldError>,
}

/// A friendly error page with the storefront's look (no visitor-specific parts, so it is safe
/// to show anywhere).
pub fn error_page(status: StatusCode, message: impl Into<String>, fields: Vec<FieldError>) -> Response {
    let heading = match status.as_u16() {
        404 => "We couldn't find that page",
        403 => "That isn't allowed",
        429 => "Slow down a little",
        500..=599 => "Something went wrong",
        _ => "That didn't work",
    };
    let chrome = Chrome {
        title: heading.to_owned(),
        description: String::new(),
        canonical: String::new(),
        image: None,
        og_type: "website",
        json_ld: None,
        user: None,
        csrf: String::new(),
        q: String::new(),
        css: STYLESHEET_PATH.as_str(),
        section: "",
    };
    let page = ErrorPage {
        chrome,
        status: status.as_u16(),
        heading,
        message: message.into(),
        fields,
    };
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "rendering the storefront error page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, Html("<h1>Something went wrong</h1>".to_owned())).into_response()
        }
    }
}

/// The storefront's `404` page.
pub fn not_found_page() -> Response {
    error_page(
        StatusCode::NOT_FOUND,
        "The page you asked for isn't here. It may have been sold, renamed or never existed.",
        vec![],
    )
}

impl IntoResponse for ShopError {
    fn into_response(self) -> Response {
        match crate::web::error_parts(self.0, "storefront") {
            Some((status, message, fields)) => error_page(status, capitalise(&message), fields),
            None => Redirect::to("/signin").into_response(),
        }
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => {
            let mut out: String = first.to_uppercase().collect();
            out.push_str(chars.as_str());
            if !out.ends_with('.') {
                out.push('.');
            }
            out
        }
        None => String::new(),
    }
}

/// Renders a page as `status text/html`.
pub fn render_with(status: StatusCode, page: &impl Template) -> ShopResult {
    let html = page.render().map_err(|e| Error::Internal(format!("template: {e}")))?;
    Ok((status, Html(html)).into_response())
}

/// Renders a page as `200 text/html`.
pub fn render(page: &impl Template) -> ShopResult {
    render_with(StatusCode::OK, page)
}

/// The message of `field` among `errors`, for showing beside that field.
pub fn error_for(errors: &[FieldError], field: &str) -> Option<String> {
    errors.iter().find(|e| e.field == field).map(|e| e.message.clone())
}

/// schema.org JSON for a `<script type="application/ld+json">`: `<`, `>` and `&` are written as
/// `\u` escapes so no text inside can close the element.
pub fn json_ld(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// A same-site path to come back to after signing in; anything else becomes `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') && path.len() < 512 => path.to_owned(),
        _ => "/".to_owned(),
    }
}
