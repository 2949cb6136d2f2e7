//! How the postgres backend browses and searches published products: full-text terms and sort orders.

use crate::domain::ProductSort;

/// `ORDER BY` of a public product list.
pub(super) fn sort_order(sort: ProductSort) -> &'static str {
    match sort {
        ProductSort::Newest => "p.created_at DESC, p.id DESC",
        ProductSort::PriceAsc => "p.price_cents ASC, p.id ASC",
        ProductSort::PriceDesc => "p.price_cents DESC, p.id DESC",
        ProductSort::Rating => "p.rating_avg DESC, p.rating_count DESC, p.created_at DESC, p.id DESC",
        ProductSort::Popular => "p.sales_count DESC, p.created_at DESC, p.id DESC",
    }
}

/// The text-search query of `terms`: every term must match (`t1 & t2`), stemmed like the index.
/// `None` when there are no terms (no search); terms without a usable word match nothing, as in
/// SQLite.
pub(super) fn ts_query(terms: &[String]) -> Option<String> {
    // The service sends lower-case words of letters and digits (any script); anything else is
    // dropped here too, so the query text (bound as a parameter) is never a tsquery syntax error.
    let words: Vec<String> = terms
        .iter()
        .map(|t| {
            t.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|t| !t.is_empty())
        .collect();
    (!terms.is_empty()).then(|| words.join(" & "))
}
