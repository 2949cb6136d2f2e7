//! `GET /search`: the catalog with its filters and facet counts.

use askama::Template;
use axum::extract::{RawQuery, State};
use kalavpp_core::domain::{Page, PageRequest};
use kalavpp_core::services::BrowseFilters;
use kalavpp_core::{Error, FieldError};

use super::pages::{Card, ShopPage, cards, serve, shop_page};
use super::session::Visitor;
use super::{Chrome, ShopError, ShopResult, error_for};
use crate::app::AppState;
use crate::web::{field, query_map};

#[derive(Template)]
#[template(path = "storefront/search.html")]
struct SearchPage {
    chrome: Chrome,
    heading: String,
    results: Vec<Card>,
    total: i64,
    /// `total` as shown: `12`, or `1,000+` when the search stopped counting at its cap.
    total_text: String,
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
    /// The count stopped at its cap, so there may be pages past `pages`.
    more_pages: bool,
}

shop_page!(SearchPage);

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
    /// The number of works, as shown (`1,000+` past the search's counting cap).
    pub count_text: String,
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
    /// The number of works, as shown (`1,000+` past the search's counting cap).
    pub count_text: String,
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
        if let Some(cents) = price_cents(text) {
            Some(cents.to_string())
        } else {
            errors.push(FieldError::new(name, "Enter an amount like 25 or 25.50."));
            None
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
    let build = async {
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
                let (count, capped) = count(BrowseFilters {
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
                    count_text: count_text(count, capped),
                    child: level,
                });
            }
        }
        let mut kinds = Vec::new();
        for (value, label) in [("physical", "Originals"), ("digital", "Digital downloads")] {
            let (count, capped) = count(BrowseFilters {
                kind: Some(value.to_owned()),
                ..filters.clone()
            })
            .await;
            kinds.push(Facet {
                value: value.to_owned(),
                label: label.to_owned(),
                count_text: count_text(count, capped),
                selected: form.kind == value,
                child: false,
            });
        }
        let currency = state.market.config().currency.to_uppercase();
        let mut prices = Vec::new();
        for (min, max, label) in PRICE_BANDS {
            let (count, capped) = count(BrowseFilters {
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
                count_text: count_text(count, capped),
            });
        }
        let counted = u32::try_from((results.total + i64::from(per_page) - 1) / i64::from(per_page))
            .unwrap_or(1)
            .max(1);
        // Past a capped count there may be more pages: a full page offers the next one.
        let more = results.total_capped && results.items.len() == per_page as usize;
        let pages = if more { counted.max(results.page + 1) } else { counted };
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
            total_text: count_text(results.total, results.total_capped),
            categories,
            kinds,
            prices,
            sorts,
            errors,
            prev: (results.page > 1).then(|| link(results.page - 1)),
            next: (results.page < pages).then(|| link(results.page + 1)),
            page: results.page,
            pages,
            more_pages: results.total_capped,
            form,
        };
        Ok::<_, ShopError>(page)
    };
    Box::pin(serve(&state, &visitor, generation, key, build)).await
}

/// How many works `filters` match (one page of one item), and whether counting stopped at the
/// search's cap (the count is then a lower bound).
async fn facet_count(catalog: kalavpp_core::services::Catalog<'_>, filters: BrowseFilters) -> (i64, bool) {
    catalog
        .browse(filters, PageRequest::new(1, 1))
        .await
        .map_or((0, false), |p| (p.total, p.total_capped))
}

/// A count as the page shows it: `12`, `1234`, or `1,000+` when counting stopped at the cap.
fn count_text(count: i64, capped: bool) -> String {
    if !capped {
        return count.to_string();
    }
    let digits = count.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out.push('+');
    out
}

impl SearchPage {
    fn error(&self, field: &str) -> Option<String> {
        error_for(&self.errors, field)
    }

    fn has_error(&self, field: &str) -> bool {
        self.errors.iter().any(|e| e.field == field)
    }
}
