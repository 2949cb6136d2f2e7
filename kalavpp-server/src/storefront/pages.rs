//! The catalog pages: home and artist here, search in [`super::search`], the product page in
//! [`super::product`]. For anonymous visitors they are
//! served from [`super::PageCache`]; signed-in customers get them rendered with their session's
//! forms.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use kalavpp_core::Error;
use kalavpp_core::domain::Product;
use kalavpp_core::domain::{Page, PageRequest, ProductKind};
use kalavpp_core::services::BrowseFilters;
use serde_json::json;

use super::session::Visitor;
use super::{Chrome, ShopError, ShopResult, json_ld};
use crate::app::AppState;
use crate::web::money;

/// A page with the shared layout.
pub trait ShopPage: Template {
    /// The layout data, to fill in the visitor's part.
    fn chrome(&mut self) -> &mut Chrome;
}

macro_rules! shop_page {
    ($($page:ty),* $(,)?) => {
        $(impl ShopPage for $page {
            fn chrome(&mut self) -> &mut Chrome {
                &mut self.chrome
            }
        })*
    };
}
pub(crate) use shop_page;

/// The page `build` makes, for `visitor`. Anonymous visitors share one copy, kept under `key` at
/// `generation`: it is built once however many of them ask for it at the same moment.
pub async fn serve<P, F>(state: &AppState, visitor: &Visitor, generation: u64, key: String, build: F) -> ShopResult
where
    P: ShopPage,
    F: std::future::Future<Output = Result<P, ShopError>>,
{
    if let Some(shopper) = &visitor.shopper {
        let mut page = build.await?;
        shopper.dress(page.chrome());
        return super::render(&page);
    }
    let rendered = state
        .pages
        .render_once(generation, key, async move {
            let page = build.await?;
            let html = page.render().map_err(|e| Error::Internal(format!("template: {e}")))?;
            Ok(Bytes::from(html))
        })
        .await;
    match rendered {
        Ok(html) => Ok(html_bytes(html)),
        // Visitors who waited for the same failed build get an error of the same kind.
        Err(shared) => Err(std::sync::Arc::try_unwrap(shared).unwrap_or_else(|shared| {
            ShopError(match &shared.0 {
                Error::NotFound { .. } => Error::not_found("not_found", "not found"),
                other => Error::Internal(other.to_string()),
            })
        })),
    }
}

fn html_bytes(html: Bytes) -> axum::response::Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// A work as a card in a grid.
pub struct Card {
    pub slug: String,
    pub title: String,
    pub artist: String,
    pub price: String,
    pub kind: &'static str,
    pub thumb: Option<String>,
    pub width: i32,
    pub height: i32,
    pub sold_out: bool,
    pub initial: String,
}

impl Card {
    pub fn of(product: &Product, currency: &str) -> Self {
        let thumb = product.images.first();
        Self {
            slug: product.slug.clone(),
            title: product.title.clone(),
            artist: product.vendor.shop_name.clone(),
            price: money(product.price.cents(), currency),
            kind: kind_label(product.kind),
            thumb: thumb.map(|i| format!("/{}", i.thumb_key)),
            width: thumb.map_or(400, |i| i.width),
            height: thumb.map_or(400, |i| i.height),
            sold_out: product.stock.is_some_and(|s| s <= 0),
            initial: product.title.chars().next().map(|c| c.to_uppercase().collect()).unwrap_or_default(),
        }
    }
}

pub fn kind_label(kind: ProductKind) -> &'static str {
    match kind {
        ProductKind::Physical => "Original",
        ProductKind::Digital => "Digital download",
    }
}

pub(super) fn cards(page: &Page<Product>, currency: &str) -> Vec<Card> {
    page.items.iter().map(|p| Card::of(p, currency)).collect()
}

pub struct CategoryLink {
    pub slug: String,
    pub name: String,
    pub count: i64,
}

#[derive(Template)]
#[template(path = "storefront/home.html")]
struct HomePage {
    chrome: Chrome,
    newest: Vec<Card>,
    popular: Vec<Card>,
    categories: Vec<CategoryLink>,
}

#[derive(Template)]
#[template(path = "storefront/artist.html")]
struct ArtistPage {
    chrome: Chrome,
    name: String,
    bio: Vec<String>,
    rating: Option<String>,
    count: i64,
    works: Vec<Card>,
}

shop_page!(HomePage, ArtistPage);

/// `GET /`: new and popular works, categories.
pub async fn home(State(state): State<AppState>, visitor: Visitor) -> ShopResult {
    let generation = state.market.catalog_cache().generation();
    let key = "home".to_owned();
    let build = async {
        let currency = state.market.config().currency.clone();
        let catalog = state.market.catalog();
        let sorted = |sort: &str| BrowseFilters {
            sort: Some(sort.to_owned()),
            ..BrowseFilters::default()
        };
        let newest = catalog.browse(sorted("newest"), PageRequest::new(1, 8)).await?;
        let popular = catalog.browse(sorted("popular"), PageRequest::new(1, 4)).await?;
        let categories = catalog
            .categories()
            .await?
            .into_iter()
            .filter(|c| c.parent_id.is_none() && c.product_count > 0)
            .map(|c| CategoryLink {
                slug: c.slug,
                name: c.name,
                count: c.product_count,
            })
            .collect();
        let mut chrome = Chrome::new(
            &state,
            "/",
            "Original art and digital works from independent artists",
            "Buy original paintings, prints and digital works directly from independent artists.",
        );
        chrome.section = "home";
        let page = HomePage {
            chrome,
            newest: cards(&newest, &currency),
            popular: cards(&popular, &currency),
            categories,
        };
        Ok::<_, ShopError>(page)
    };
    Box::pin(serve(&state, &visitor, generation, key, build)).await
}

pub(super) fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `GET /artists/{slug}`: the artist's profile and works.
pub async fn artist(State(state): State<AppState>, visitor: Visitor, Path(slug): Path<String>) -> ShopResult {
    let generation = state.market.catalog_cache().generation();
    let key = format!("artist\n{slug}");
    let build = async {
        let vendor = state.market.vendors().public(&slug).await?;
        let works = state
            .market
            .catalog()
            .browse(
                BrowseFilters {
                    vendor: Some(vendor.id.to_string()),
                    ..BrowseFilters::default()
                },
                PageRequest::new(1, 100),
            )
            .await?;
        let bio = vendor.bio.clone().unwrap_or_default();
        let description = if bio.is_empty() {
            format!("Works by {} on KALAVPP.", vendor.shop_name)
        } else {
            bio.chars().take(155).collect()
        };
        let path = format!("/artists/{}", vendor.slug);
        let mut chrome = Chrome::new(&state, &path, vendor.shop_name.clone(), description);
        chrome.og_type = "profile";
        chrome.json_ld = Some(json_ld(&json!({
            "@context": "https://schema.org",
            "@type": "Person",
            "name": vendor.shop_name,
            "description": bio,
            "url": format!("{}{path}", state.settings.backend_url),
        })));
        let page = ArtistPage {
            chrome,
            name: vendor.shop_name.clone(),
            bio: paragraphs(&bio),
            rating: (vendor.rating_count > 0).then(|| format!("{:.1} out of 5 from {} reviews", vendor.rating_avg, vendor.rating_count)),
            count: works.total,
            works: cards(&works, &state.market.config().currency),
        };
        Ok::<_, ShopError>(page)
    };
    Box::pin(serve(&state, &visitor, generation, key, build)).await
}
