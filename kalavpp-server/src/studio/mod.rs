//! The artist studio at `/studio`: where a signed-in customer applies to sell, and where an
//! approved artist runs their shop — dashboard, works (with images and download files), orders
//! and shipping, earnings, payouts and the shop profile.
//!
//! It is part of the storefront: the same layout, the same cookie session ([`Shopper`]) and the
//! same CSRF tokens ([`ShopForm`]; file uploads carry the token in the query string, checked
//! before the body is read). Every page and action calls the core services with the signed-in
//! account's [`Actor`](kalavpp_core::auth::Actor), so the rules and audit rows are the REST
//! API's: a customer who is not an approved artist gets the services' `403` as a page.
//!
//! [`Shopper`]: crate::storefront::session::Shopper
//! [`ShopForm`]: crate::storefront::session::ShopForm

mod apply;
mod dashboard;
mod earnings;
mod forms;
mod orders;
mod shop;
mod uploads;
mod works;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{Next, from_fn_with_state, map_response};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use kalavpp_core::services::MAX_IMAGE_BYTES;
use tokio::sync::Semaphore;

use crate::app::AppState;
use crate::rate_limit::IpRateLimit;
use crate::storefront::Chrome;
use crate::storefront::session::Shopper;
use crate::web::field;

/// The studio's routes. Image uploads share `image_slots` with the API's (only a few image bodies
/// are in memory at once); download files stream up to `max_asset_bytes`; every change counts
/// against the API's general per-IP limit `writes` (an HTML `429` when it is spent).
pub fn routes(image_slots: Arc<Semaphore>, max_asset_bytes: u64, writes: IpRateLimit) -> Router<AppState> {
    let asset_limit = usize::try_from(max_asset_bytes).unwrap_or(usize::MAX).saturating_add(64 * 1024);
    let images = Router::new()
        .route("/studio/works/{id}/images", post(uploads::image))
        .layer(DefaultBodyLimit::max(MAX_IMAGE_BYTES + 64 * 1024))
        .layer(from_fn_with_state(image_slots, crate::upload_limits::one_image_upload_at_a_time));
    let files = Router::new()
        .route("/studio/works/{id}/file", post(uploads::file))
        .layer(DefaultBodyLimit::max(asset_limit));
    Router::new()
        .route("/studio", get(apply::home))
        .route("/studio/apply", post(apply::apply))
        .route("/studio/works", get(works::list).post(works::create))
        .route("/studio/works/new", get(works::new_page))
        .route("/studio/works/{id}", get(works::edit_page).post(works::update))
        .route("/studio/works/{id}/status/{to}", post(works::set_status))
        .route("/studio/works/{id}/images/{image}/delete", post(works::delete_image))
        .route("/studio/works/{id}/images/{image}/move", post(works::move_image))
        .route("/studio/orders", get(orders::list))
        .route("/studio/orders/{id}/items/{item}/ship", post(orders::ship))
        .route("/studio/earnings", get(earnings::earnings))
        .route("/studio/payouts", get(earnings::payouts).post(earnings::request))
        .route("/studio/shop", get(shop::page).post(shop::save))
        .merge(images)
        .merge(files)
        .layer(from_fn_with_state(writes, limit_writes))
        // Studio pages hold personal data and per-session tokens: never stored by caches.
        .layer(map_response(no_store))
}

/// Middleware: the per-IP limit on the studio's `POST`s, before any body is read.
async fn limit_writes(State(limit): State<IpRateLimit>, request: Request, next: Next) -> Response {
    if request.method().is_safe() {
        return next.run(request).await;
    }
    let refused = crate::web::rate_limited(&limit, &request, |seconds| {
        crate::storefront::error_page(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            format!("That was a lot of changes in a short time. Try again in {seconds} s."),
            vec![],
        )
    });
    match refused {
        Some(response) => response,
        None => next.run(request).await,
    }
}

async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    response
}

/// The storefront layout for a studio page of `shopper`.
pub fn chrome(state: &AppState, shopper: &Shopper, path: &str, title: &str) -> Chrome {
    let mut chrome = Chrome::new(state, path, title, "");
    shopper.dress(&mut chrome);
    chrome.section = "studio";
    chrome
}

/// The notes studio pages show after a redirect (`?done=`); only these, so a crafted link cannot
/// put words on the page.
const NOTES: &[(&str, &str)] = &[
    (
        "applied",
        "Thank you — your application is in. We will email you as soon as it has been reviewed.",
    ),
    ("created", "Your work was saved."),
    ("saved", "Your changes were saved."),
    ("published", "Published — the work is now in the shop."),
    ("unpublished", "Moved back to drafts — the work is no longer in the shop."),
    ("archived", "Archived — the work is no longer in the shop; past orders keep it."),
    ("image-added", "The image was added."),
    ("image-removed", "The image was removed."),
    ("image-moved", "The images were reordered."),
    ("file-uploaded", "The download file was uploaded."),
    ("shipped", "Marked as shipped — the buyer can follow the parcel."),
    ("payout-requested", "Your payout request was sent to the marketplace."),
    ("shop-saved", "Your shop profile was saved."),
];

/// The note for the `done` parameter of `query`, if it is one the studio sends.
pub fn note(query: &HashMap<String, String>) -> Option<&'static str> {
    let done = field(query, "done")?;
    NOTES.iter().find(|(key, _)| *key == done).map(|(_, text)| *text)
}

/// `303 See Other` to `path` with `?done=<key>` (one of [`NOTES`]).
pub fn done(path: &str, key: &'static str) -> Response {
    debug_assert!(NOTES.iter().any(|(k, _)| *k == key), "unknown studio note {key}");
    let separator = if path.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{path}{separator}done={key}")).into_response()
}
