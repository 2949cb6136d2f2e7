//! Searches answered from a cached match set: every visible product matching the search terms,
//! read once per catalog generation (one pass over the full-text index), then filtered, counted,
//! sorted and paged in memory for each request — any filter, sort, page or facet count of the
//! same words. A common word then costs the database one read per catalog change instead of a
//! count and a page per request.

use std::cmp::Ordering;

use crate::domain::{PageRequest, ProductId};
use crate::domain::{ProductQuery, ProductSort};
use crate::storage::SearchMatch;

/// A cached match set, or the note that the terms match too many products to hold one (those
/// searches go to the database every time).
#[derive(Debug)]
pub(crate) enum MatchSet {
    /// Every visible match of the terms.
    Rows(Vec<SearchMatch>),
    /// More than the cache may hold for one query matched.
    TooMany,
}

/// Estimated heap bytes of one cached match.
pub(crate) const MATCH_BYTES: usize = std::mem::size_of::<SearchMatch>();

impl MatchSet {
    /// Estimated heap bytes (the cache's weight).
    pub(crate) fn bytes(&self) -> u64 {
        match self {
            Self::Rows(rows) => (rows.capacity() * MATCH_BYTES + 64) as u64,
            Self::TooMany => 64,
        }
    }
}

/// One page of `query` over `matches` (the matches of `query.terms`): the ids of the page in the
/// order the database would give, how many match (at most the query's count cap), and whether
/// counting stopped at the cap — the same answer as `CatalogStore::list_products`.
pub(crate) fn page_of_matches(matches: &[SearchMatch], query: &ProductQuery, page: PageRequest) -> (Vec<ProductId>, i64, bool) {
    let mut kept: Vec<&SearchMatch> = matches.iter().filter(|m| passes_filters(m, query)).collect();
    let counted = i64::try_from(kept.len()).unwrap_or(i64::MAX);
    let (total, capped) = match query.count_cap.map(|c| c.max(0)) {
        Some(cap) if counted > cap => (cap, true),
        _ => (counted, false),
    };
    let offset = usize::try_from(page.offset()).unwrap_or(usize::MAX);
    let limit = usize::try_from(page.limit()).unwrap_or(usize::MAX);
    if offset >= kept.len() || limit == 0 {
        return (Vec::new(), total, capped);
    }
    let end = offset.saturating_add(limit).min(kept.len());
    let order = |a: &&SearchMatch, b: &&SearchMatch| compare(a, b, query.sort);
    // Only the first `end` in order are needed: partition around the last of them, sort those.
    if end < kept.len() {
        kept.select_nth_unstable_by(end - 1, order);
        kept.truncate(end);
    }
    kept.sort_unstable_by(order);
    (kept[offset..end].iter().map(|m| m.id).collect(), total, capped)
}

fn passes_filters(m: &SearchMatch, query: &ProductQuery) -> bool {
    (query.category_ids.is_empty() || query.category_ids.contains(&m.category_id))
        && query.vendor_id.is_none_or(|v| v == m.vendor_id)
        && query.kind.is_none_or(|k| k == m.kind)
        && query.min_price.is_none_or(|min| m.price_cents >= min)
        && query.max_price.is_none_or(|max| m.price_cents <= max)
}

/// The `ORDER BY` of each sort, ties broken by id as the stores do.
fn compare(a: &SearchMatch, b: &SearchMatch, sort: ProductSort) -> Ordering {
    match sort {
        ProductSort::Newest => b.created_at.cmp(&a.created_at).then_with(|| b.id.cmp(&a.id)),
        ProductSort::PriceAsc => a.price_cents.cmp(&b.price_cents).then_with(|| a.id.cmp(&b.id)),
        ProductSort::PriceDesc => b.price_cents.cmp(&a.price_cents).then_with(|| b.id.cmp(&a.id)),
        ProductSort::Rating => b
            .rating_avg
            .total_cmp(&a.rating_avg)
            .then_with(|| b.rating_count.cmp(&a.rating_count))
            .then_with(|| b.created_at.cmp(&a.created_at))
            .then_with(|| b.id.cmp(&a.id)),
        ProductSort::Popular => b
            .sales_count
            .cmp(&a.sales_count)
            .then_with(|| b.created_at.cmp(&a.created_at))
            .then_with(|| b.id.cmp(&a.id)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CategoryId, ProductKind, VendorId};

    fn matches(n: usize) -> Vec<SearchMatch> {
        let categories = [CategoryId::new(), CategoryId::new()];
        let vendors = [VendorId::new(), VendorId::new(), VendorId::new()];
        let start = chrono::Utc::now();
        (0..n)
            .map(|i| SearchMatch {
                id: ProductId::new(),
                category_id: categories[i % 2],
                vendor_id: vendors[i % 3],
                kind: if i % 4 == 0 { ProductKind::Digital } else { ProductKind::Physical },
                price_cents: ((i * 7919) % 1000) as i64,
                created_at: start + chrono::Duration::seconds((i % 50) as i64),
                rating_avg: (i % 5) as f64,
                rating_count: (i % 3) as i64,
                sales_count: (i % 7) as i64,
            })
            .collect()
    }

    /// Every page of every sort is the slice of the fully sorted, filtered list: what the SQL
    /// `ORDER BY … LIMIT … OFFSET …` gives.
    #[test]
    fn pages_are_slices_of_the_sorted_filtered_matches() {
        let all = matches(500);
        for sort in [
            ProductSort::Newest,
            ProductSort::PriceAsc,
            ProductSort::PriceDesc,
            ProductSort::Rating,
            ProductSort::Popular,
        ] {
            for (kind, min_price) in [(None, None), (Some(ProductKind::Physical), Some(300))] {
                let query = ProductQuery {
                    terms: vec!["canvas".into()],
                    kind,
                    min_price,
                    sort,
                    count_cap: Some(100),
                    ..ProductQuery::default()
                };
                let mut expected: Vec<&SearchMatch> = all.iter().filter(|m| passes_filters(m, &query)).collect();
                expected.sort_by(|a, b| compare(a, b, sort));
                for page in 1..=30 {
                    let request = PageRequest::new(page, 20);
                    let (ids, total, capped) = page_of_matches(&all, &query, request);
                    let from = ((page - 1) * 20) as usize;
                    let want: Vec<ProductId> = expected.iter().skip(from).take(20).map(|m| m.id).collect();
                    assert_eq!(ids, want, "{sort:?} page {page}");
                    assert_eq!((total, capped), (expected.len().min(100) as i64, expected.len() > 100));
                }
            }
        }
    }

    #[test]
    fn filters_and_uncapped_counts() {
        let all = matches(90);
        let vendor = all[0].vendor_id;
        let query = ProductQuery {
            terms: vec!["canvas".into()],
            vendor_id: Some(vendor),
            max_price: Some(500),
            ..ProductQuery::default()
        };
        let (ids, total, capped) = page_of_matches(&all, &query, PageRequest::new(1, 1000));
        let want = all.iter().filter(|m| m.vendor_id == vendor && m.price_cents <= 500).count();
        assert_eq!((ids.len(), total, capped), (want, want as i64, false));
        // Newest first, ties by id descending.
        let ordered = page_of_matches(
            &all,
            &ProductQuery {
                terms: vec!["canvas".into()],
                ..ProductQuery::default()
            },
            PageRequest::new(1, 90),
        )
        .0;
        let by_id: std::collections::HashMap<_, _> = all.iter().map(|m| (m.id, m)).collect();
        for pair in ordered.windows(2) {
            let (a, b) = (by_id[&pair[0]], by_id[&pair[1]]);
            assert!(a.created_at > b.created_at || (a.created_at == b.created_at && a.id > b.id));
        }
        assert!(page_of_matches(&all, &query, PageRequest::new(50, 20)).0.is_empty());
    }
}
