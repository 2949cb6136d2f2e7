//! `GET /products/{slug}`: a work with its pictures, price, availability, artist, reviews, the
//! add-to-cart form and, for buyers, the review form.

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use kalavpp_core::FieldError;
use kalavpp_core::auth::Actor;
use kalavpp_core::domain::{OrderStatus, PageRequest, ProductKind};
use serde_json::json;

use super::pages::{ShopPage, kind_label, paragraphs, serve, shop_page};
use super::session::{Visitor, sign_in_link};
use super::{Chrome, ShopError, ShopResult, error_for, json_ld};
use crate::app::AppState;
use crate::web::{field, money, query_map, when};

#[derive(Template)]
#[template(path = "storefront/product.html")]
#[expect(clippy::struct_excessive_bools, reason = "what the template shows or hides")]
struct ProductPage {
    chrome: Chrome,
    id: String,
    slug: String,
    title: String,
    description: Vec<String>,
    price: String,
    kind: &'static str,
    digital: bool,
    availability: String,
    available: bool,
    max_quantity: i64,
    artist: String,
    artist_slug: String,
    category: String,
    category_slug: String,
    images: Vec<Picture>,
    rating: Option<String>,
    reviews: Vec<ReviewView>,
    sign_in_to_buy: String,
    can_review: bool,
    added: bool,
    reviewed: bool,
    review_errors: Vec<FieldError>,
}

shop_page!(ProductPage);

pub struct Picture {
    pub url: String,
    pub thumb: String,
    pub width: i32,
    pub height: i32,
    pub alt: String,
}

pub struct ReviewView {
    pub author: String,
    pub stars: String,
    pub rating: i32,
    pub title: Option<String>,
    pub body: String,
    pub when: String,
}

fn stars(rating: i32) -> String {
    let rating = usize::try_from(rating.clamp(0, 5)).unwrap_or(0);
    format!("{}{}", "★".repeat(rating), "☆".repeat(5 - rating))
}

/// Whether the customer has a paid order with `product` in it.
async fn bought(state: &AppState, actor: &Actor, product: &str) -> bool {
    let Ok(orders) = state.market.orders().mine(actor, PageRequest::new(1, 100)).await else {
        return false;
    };
    orders.items.iter().any(|o| {
        matches!(o.status, OrderStatus::Paid | OrderStatus::Completed) && o.items.iter().any(|i| i.product_id.to_string() == product)
    })
}

/// What the review form sends back after a refusal.
#[derive(Default)]
pub struct ReviewOutcome {
    pub reviewed: bool,
    pub errors: Vec<FieldError>,
}

/// `GET /products/{slug}`.
pub async fn product(State(state): State<AppState>, visitor: Visitor, Path(slug): Path<String>, RawQuery(raw): RawQuery) -> ShopResult {
    let query = query_map(raw.as_deref())?;
    let outcome = ReviewOutcome {
        reviewed: field(&query, "reviewed").is_some(),
        errors: vec![],
    };
    product_page(&state, &visitor, &slug, field(&query, "added").is_some(), outcome).await
}

/// The product page, with the outcome of an add-to-cart or a review.
pub async fn product_page(state: &AppState, visitor: &Visitor, slug: &str, added: bool, outcome: ReviewOutcome) -> ShopResult {
    let generation = state.market.catalog_cache().generation();
    let key = format!("product\n{slug}");
    let plain = !added && !outcome.reviewed && outcome.errors.is_empty();
    let build = async {
        let product = state.market.catalog().product(&Actor::Anonymous, slug).await?;
        let currency = state.market.config().currency.clone();
        let reviews = state
            .market
            .reviews()
            .list(&Actor::Anonymous, &product.id.to_string(), PageRequest::new(1, 50))
            .await?;
        let available = product.stock.is_none_or(|s| s > 0);
        let availability = match product.stock {
            None => "Available now — instant download after payment".to_owned(),
            Some(0) => "Sold out".to_owned(),
            Some(1) => "One of a kind — 1 available".to_owned(),
            Some(n) => format!("{n} available"),
        };
        let images: Vec<Picture> = product
            .images
            .iter()
            .enumerate()
            .map(|(n, i)| Picture {
                url: format!("/{}", i.key),
                thumb: format!("/{}", i.thumb_key),
                width: i.width,
                height: i.height,
                alt: if n == 0 {
                    format!("{} by {}", product.title, product.vendor.shop_name)
                } else {
                    format!("{} by {}, view {}", product.title, product.vendor.shop_name, n + 1)
                },
            })
            .collect();
        let path = format!("/products/{}", product.slug);
        let backend = &state.settings.backend_url;
        let description: String = product.description.chars().take(155).collect();
        let mut chrome = Chrome::new(
            state,
            &path,
            format!("{} by {}", product.title, product.vendor.shop_name),
            description,
        );
        chrome.og_type = "product";
        chrome.image = images.first().map(|i| format!("{backend}{}", i.url));
        let price = format!("{}.{:02}", product.price.cents() / 100, product.price.cents() % 100);
        let mut ld = json!({
            "@context": "https://schema.org",
            "@type": if product.kind == ProductKind::Physical { json!(["Product", "VisualArtwork"]) } else { json!("Product") },
            "name": product.title,
            "description": product.description,
            "url": format!("{backend}{path}"),
            "image": images.iter().map(|i| format!("{backend}{}", i.url)).collect::<Vec<_>>(),
            "brand": {"@type": "Brand", "name": product.vendor.shop_name},
            "offers": {
                "@type": "Offer",
                "price": price,
                "priceCurrency": currency.to_uppercase(),
                "availability": if available { "https://schema.org/InStock" } else { "https://schema.org/OutOfStock" },
                "url": format!("{backend}{path}"),
            },
        });
        if product.kind == ProductKind::Physical {
            ld["creator"] = json!({"@type": "Person", "name": product.vendor.shop_name});
        }
        if product.rating_count > 0 {
            ld["aggregateRating"] = json!({"@type": "AggregateRating", "ratingValue": format!("{:.1}", product.rating_avg), "reviewCount": product.rating_count});
        }
        chrome.json_ld = Some(json_ld(&ld));
        let can_review = match &visitor.shopper {
            Some(shopper) => {
                let me = shopper.actor.require_user().ok();
                let reviewed = reviews.items.iter().any(|r| Some(r.user_id) == me);
                !outcome.reviewed && !reviewed && bought(state, &shopper.actor, &product.id.to_string()).await
            }
            None => false,
        };
        let page = ProductPage {
            chrome,
            id: product.id.to_string(),
            slug: product.slug.clone(),
            title: product.title.clone(),
            description: paragraphs(&product.description),
            price: money(product.price.cents(), &currency),
            kind: kind_label(product.kind),
            digital: product.kind == ProductKind::Digital,
            availability,
            available,
            max_quantity: product.stock.unwrap_or(10).clamp(1, 10),
            artist: product.vendor.shop_name.clone(),
            artist_slug: product.vendor.slug.clone(),
            category: product.category.name.clone(),
            category_slug: product.category.slug.clone(),
            images,
            rating: (product.rating_count > 0).then(|| {
                format!(
                    "{:.1} out of 5 from {} review{}",
                    product.rating_avg,
                    product.rating_count,
                    if product.rating_count == 1 { "" } else { "s" }
                )
            }),
            reviews: reviews
                .items
                .iter()
                .map(|r| ReviewView {
                    author: r.author_name.clone(),
                    stars: stars(r.rating),
                    rating: r.rating,
                    title: r.title.clone(),
                    body: r.body.clone(),
                    when: when(&r.created_at),
                })
                .collect(),
            sign_in_to_buy: sign_in_link(&format!("{path}?add={}", product.id)),
            can_review: can_review || !outcome.errors.is_empty(),
            added,
            reviewed: outcome.reviewed,
            review_errors: outcome.errors,
        };
        Ok::<_, ShopError>(page)
    };
    if plain {
        serve(state, visitor, generation, key, build).await
    } else {
        let mut page = build.await?;
        if let Some(shopper) = &visitor.shopper {
            shopper.dress(page.chrome());
        }
        super::render(&page)
    }
}

impl ProductPage {
    fn review_error(&self, field: &str) -> Option<String> {
        error_for(&self.review_errors, field)
    }
}
