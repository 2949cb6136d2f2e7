//! The catalog pages: home, search and browse, product, artist. For anonymous visitors they are
//! served from [`super::PageCache`]; signed-in customers get them rendered with their session's
//! forms.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header;
use axum::response::IntoResponse;
use kalavpp_core::auth::Actor;
use kalavpp_core::domain::{OrderStatus, Page, PageRequest, ProductKind};
use kalavpp_core::services::BrowseFilters;
use kalavpp_core::storage::Product;
use kalavpp_core::{Error, FieldError};
use serde_json::json;

use super::session::{Visitor, sign_in_link};
use super::{Chrome, ShopResult, error_for, json_ld};
use crate::app::AppState;
use crate::web::{field, money, query_map, when};

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

/// Renders `page` for `visitor`; an anonymous visitor's copy is kept under `key` at `generation`.
pub async fn serve<P: ShopPage>(state: &AppState, visitor: &Visitor, generation: u64, key: String, mut page: P) -> ShopResult {
    if let Some(shopper) = &visitor.shopper {
        shopper.dress(page.chrome());
        return super::render(&page);
    }
    let html = Bytes::from(page.render().map_err(|e| Error::Internal(format!("template: {e}")))?);
    state.pages.put(generation, key, html.clone()).await;
    Ok(html_bytes(html))
}

fn html_bytes(html: Bytes) -> axum::response::Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

/// The kept anonymous copy of `key`, when the visitor is anonymous and it exists.
async fn kept(state: &AppState, visitor: &Visitor, generation: u64, key: &str) -> Option<axum::response::Response> {
    if visitor.shopper.is_some() {
        return None;
    }
    state.pages.get(generation, key).await.map(html_bytes)
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

fn cards(page: &Page<Product>, currency: &str) -> Vec<Card> {
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
#[template(path = "storefront/search.html")]
struct SearchPage {
    chrome: Chrome,
    heading: String,
    results: Vec<Card>,
    total: i64,
    form: SearchForm,
    categories: Vec<Facet>,
    kinds: Vec<Facet>,
    prices: Vec<PriceFacet>,
    sorts: Vec<(&'static str, &'static str, bool)>,
    errors: Vec<FieldError>,
    prev: Option<String>,
    next: Option<String>,
    page: u32,
    pages: u32,
}

#[derive(Template)]
#[template(path = "storefront/product.html")]
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

shop_page!(HomePage, SearchPage, ProductPage, ArtistPage);

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

/// `GET /`: new and popular works, categories.
pub async fn home(State(state): State<AppState>, visitor: Visitor) -> ShopResult {
    let generation = state.market.catalog_cache().generation();
    let key = "home".to_owned();
    if let Some(page) = kept(&state, &visitor, generation, &key).await {
        return Ok(page);
    }
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
    serve(&state, &visitor, generation, key, page).await
}

/// The search form as the visitor filled it in.
#[derive(Default)]
pub struct SearchForm {
    pub q: String,
    pub category: String,
    pub kind: String,
    pub min_price: String,
    pub max_price: String,
    pub sort: String,
}

/// One value of a filter with the number of works it would show.
pub struct Facet {
    pub value: String,
    pub label: String,
    pub count: i64,
    pub selected: bool,
    /// A sub-category (shown indented under its parent).
    pub child: bool,
}

/// `12`, `12.5` or `12.50` in major units as cents.
fn price_cents(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() || whole.len() > 9 || fraction.len() > 2 || !whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let cents = format!("{fraction:0<2}").parse::<i64>().ok()?;
    Some(whole.parse::<i64>().ok()? * 100 + cents)
}

/// Price bands offered as links, in cents (bounds inclusive).
const PRICE_BANDS: [(Option<i64>, Option<i64>, &str); 4] = [
    (None, Some(4_999), "Under 50"),
    (Some(5_000), Some(19_999), "50 to 200"),
    (Some(20_000), Some(49_999), "200 to 500"),
    (Some(50_000), None, "500 and up"),
];

/// A price band with the number of works in it.
pub struct PriceFacet {
    pub label: String,
    pub href: String,
    pub count: i64,
    pub selected: bool,
}

/// Cents as the price field shows them: `50` or `49.99`.
fn major_units(cents: i64) -> String {
    if cents % 100 == 0 {
        (cents / 100).to_string()
    } else {
        format!("{}.{:02}", cents / 100, cents % 100)
    }
}

/// `/search` with the form's filters, the price range replaced when given, and `page`.
fn search_link(form: &SearchForm, price: Option<(&str, &str)>, page: u32) -> String {
    let (min, max) = price.unwrap_or((&form.min_price, &form.max_price));
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (key, value) in [
        ("q", form.q.as_str()),
        ("category", &form.category),
        ("kind", &form.kind),
        ("min_price", min),
        ("max_price", max),
        ("sort", &form.sort),
    ] {
        if !value.is_empty() {
            out.append_pair(key, value);
        }
    }
    if page > 1 {
        out.append_pair("page", &page.to_string());
    }
    format!("/search?{}", out.finish())
}

const SORTS: [(&str, &str); 5] = [
    ("newest", "Newest"),
    ("popular", "Most popular"),
    ("rating", "Best rated"),
    ("price_asc", "Price: low to high"),
    ("price_desc", "Price: high to low"),
];

/// `GET /search`: the catalog with its filters, facet counts beside each filter value.
pub async fn search(State(state): State<AppState>, visitor: Visitor, RawQuery(raw): RawQuery) -> ShopResult {
    let query = query_map(raw.as_deref())?;
    let get = |key: &str| field(&query, key).unwrap_or_default().to_owned();
    let mut errors = Vec::new();
    let mut form = SearchForm {
        q: get("q"),
        category: get("category"),
        kind: get("kind"),
        min_price: get("min_price"),
        max_price: get("max_price"),
        sort: get("sort"),
    };
    if !form.kind.is_empty() && !["physical", "digital"].contains(&form.kind.as_str()) {
        form.kind.clear();
    }
    if !form.sort.is_empty() && !SORTS.iter().any(|(v, _)| *v == form.sort) {
        form.sort.clear();
    }
    let mut price = |name: &str, text: &mut String| -> Option<String> {
        if text.is_empty() {
            return None;
        }
        match price_cents(text) {
            Some(cents) => Some(cents.to_string()),
            None => {
                errors.push(FieldError::new(name, "Enter an amount like 25 or 25.50."));
                None
            }
        }
    };
    let min = price("min_price", &mut form.min_price);
    let max = price("max_price", &mut form.max_price);
    let page_number = field(&query, "page").and_then(|p| p.parse::<u32>().ok()).unwrap_or(1).max(1);
    let generation = state.market.catalog_cache().generation();
    let key = format!(
        "search\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
        form.q,
        form.category,
        form.kind,
        min.as_deref().unwrap_or_default(),
        max.as_deref().unwrap_or_default(),
        form.sort,
        page_number,
        form.min_price,
        form.max_price,
    );
    if let Some(page) = kept(&state, &visitor, generation, &key).await {
        return Ok(page);
    }
    let filters = BrowseFilters {
        q: Some(form.q.clone()).filter(|q| !q.is_empty()),
        category: Some(form.category.clone()).filter(|c| !c.is_empty()),
        vendor: None,
        kind: Some(form.kind.clone()).filter(|k| !k.is_empty()),
        min_price: min,
        max_price: max,
        sort: Some(form.sort.clone()).filter(|s| !s.is_empty()),
    };
    let catalog = state.market.catalog();
    let per_page = 24;
    let results = match catalog.browse(filters.clone(), PageRequest::new(page_number, per_page)).await {
        Ok(results) => results,
        Err(Error::Validation(fields)) => {
            errors.extend(fields);
            catalog.browse(BrowseFilters::default(), PageRequest::new(1, per_page)).await?
        }
        // An unknown category shows nothing rather than an error page.
        Err(Error::NotFound { .. }) => std::sync::Arc::new(Page::new(vec![], PageRequest::new(1, per_page), 0)),
        Err(other) => return Err(other.into()),
    };
    // Facet counts: the same search with each value of one filter in turn (one page of one item).
    let count = |filters: BrowseFilters| facet_count(state.market.catalog(), filters);
    let all = catalog.categories().await?;
    // The top-level category whose sub-categories are listed: the chosen one or the chosen one's parent.
    let chosen = all.iter().find(|c| c.slug == form.category);
    let open = chosen.map(|c| c.parent_id.unwrap_or(c.id));
    let mut categories = Vec::new();
    for category in all.iter().filter(|c| c.parent_id.is_none()) {
        let children: Vec<_> = if open == Some(category.id) {
            all.iter().filter(|c| c.parent_id == Some(category.id)).collect()
        } else {
            vec![]
        };
        for (level, entry) in std::iter::once((false, category)).chain(children.into_iter().map(|c| (true, c))) {
            let count = count(BrowseFilters {
                category: Some(entry.slug.clone()),
                ..filters.clone()
            })
            .await;
            if count == 0 && form.category != entry.slug {
                continue;
            }
            categories.push(Facet {
                selected: form.category == entry.slug,
                value: entry.slug.clone(),
                label: entry.name.clone(),
                count,
                child: level,
            });
        }
    }
    let mut kinds = Vec::new();
    for (value, label) in [("physical", "Originals"), ("digital", "Digital downloads")] {
        let count = count(BrowseFilters {
            kind: Some(value.to_owned()),
            ..filters.clone()
        })
        .await;
        kinds.push(Facet {
            value: value.to_owned(),
            label: label.to_owned(),
            count,
            selected: form.kind == value,
            child: false,
        });
    }
    let currency = state.market.config().currency.to_uppercase();
    let mut prices = Vec::new();
    for (min, max, label) in PRICE_BANDS {
        let count = count(BrowseFilters {
            min_price: min.map(|c| c.to_string()),
            max_price: max.map(|c| c.to_string()),
            ..filters.clone()
        })
        .await;
        let (min_text, max_text) = (min.map(major_units).unwrap_or_default(), max.map(major_units).unwrap_or_default());
        prices.push(PriceFacet {
            label: format!("{label} {currency}"),
            selected: form.min_price == min_text && form.max_price == max_text,
            href: search_link(&form, Some((&min_text, &max_text)), 1),
            count,
        });
    }
    let pages = u32::try_from((results.total + i64::from(per_page) - 1) / i64::from(per_page))
        .unwrap_or(1)
        .max(1);
    let link = |n: u32| search_link(&form, None, n);
    let heading = if form.q.is_empty() {
        "Browse the collection".to_owned()
    } else {
        format!("Works matching “{}”", form.q)
    };
    let mut chrome = Chrome::new(
        &state,
        "/search",
        heading.clone(),
        "Search original art and digital works by category, kind and price.",
    );
    chrome.q.clone_from(&form.q);
    chrome.section = "search";
    let sorts = SORTS
        .iter()
        .map(|(value, label)| (*value, *label, form.sort == *value || (form.sort.is_empty() && *value == "newest")))
        .collect();
    let page = SearchPage {
        chrome,
        heading,
        results: cards(&results, &state.market.config().currency),
        total: results.total,
        categories,
        kinds,
        prices,
        sorts,
        errors,
        prev: (results.page > 1).then(|| link(results.page - 1)),
        next: (results.page < pages).then(|| link(results.page + 1)),
        page: results.page,
        pages,
        form,
    };
    serve(&state, &visitor, generation, key, page).await
}

/// How many works `filters` match (one page of one item).
async fn facet_count(catalog: kalavpp_core::services::Catalog<'_>, filters: BrowseFilters) -> i64 {
    catalog.browse(filters, PageRequest::new(1, 1)).await.map(|p| p.total).unwrap_or(0)
}

fn paragraphs(text: &str) -> Vec<String> {
    text.split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
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
    if plain && let Some(page) = kept(state, visitor, generation, &key).await {
        return Ok(page);
    }
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
        ld["aggregateRating"] =
            json!({"@type": "AggregateRating", "ratingValue": format!("{:.1}", product.rating_avg), "reviewCount": product.rating_count});
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
    if plain {
        serve(state, visitor, generation, key, page).await
    } else {
        let mut page = page;
        if let Some(shopper) = &visitor.shopper {
            shopper.dress(page.chrome());
        }
        super::render(&page)
    }
}

/// `GET /artists/{slug}`: the artist's profile and works.
pub async fn artist(State(state): State<AppState>, visitor: Visitor, Path(slug): Path<String>) -> ShopResult {
    let generation = state.market.catalog_cache().generation();
    let key = format!("artist\n{slug}");
    if let Some(page) = kept(&state, &visitor, generation, &key).await {
        return Ok(page);
    }
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
    serve(&state, &visitor, generation, key, page).await
}

impl ProductPage {
    fn review_error(&self, field: &str) -> Option<String> {
        error_for(&self.review_errors, field)
    }
}

impl SearchPage {
    fn error(&self, field: &str) -> Option<String> {
        error_for(&self.errors, field)
    }

    fn has_error(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }
}
