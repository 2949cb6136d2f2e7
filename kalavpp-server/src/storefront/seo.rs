//! For search engines: `/sitemap.xml` (published works and artists) and `/robots.txt`.

use askama::Template;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use kalavpp_core::Error;
use kalavpp_core::domain::PageRequest;
use kalavpp_core::services::BrowseFilters;

use super::ShopResult;
use crate::app::AppState;

/// Most pages of 100 read for the sitemap (a sitemap file holds at most 50 000 URLs).
const MAX_PAGES: u32 = 200;

#[derive(Template)]
#[template(path = "storefront/sitemap.xml")]
struct Sitemap {
    urls: Vec<(String, String)>,
}

/// `GET /sitemap.xml`.
pub async fn sitemap(State(state): State<AppState>) -> ShopResult {
    let base = &state.settings.backend_url;
    let mut urls = vec![(format!("{base}/"), String::new()), (format!("{base}/search"), String::new())];
    for page in 1..=MAX_PAGES {
        let works = state
            .market
            .catalog()
            .browse(BrowseFilters::default(), PageRequest::new(page, 100))
            .await?;
        urls.extend(
            works
                .items
                .iter()
                .map(|p| (format!("{base}/products/{}", p.slug), p.updated_at.format("%Y-%m-%d").to_string())),
        );
        if i64::from(page) * 100 >= works.total {
            break;
        }
    }
    for page in 1..=MAX_PAGES {
        let artists = state.market.vendors().list_public(PageRequest::new(page, 100)).await?;
        urls.extend(
            artists
                .items
                .iter()
                .map(|v| (format!("{base}/artists/{}", v.slug), v.updated_at.format("%Y-%m-%d").to_string())),
        );
        if i64::from(page) * 100 >= artists.total {
            break;
        }
    }
    let xml = Sitemap { urls }.render().map_err(|e| Error::Internal(format!("template: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/xml; charset=utf-8")], xml).into_response())
}

/// `GET /robots.txt`: everything public may be crawled; personal pages may not.
pub async fn robots(State(state): State<AppState>) -> impl IntoResponse {
    let body = format!(
        "User-agent: *\nDisallow: /cart\nDisallow: /checkout\nDisallow: /orders\nDisallow: /account\nDisallow: /studio\nDisallow: /admin\nDisallow: /api/\nDisallow: /dev/\nAllow: /\n\nSitemap: {}/sitemap.xml\n",
        state.settings.backend_url
    );
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body)
}
