//! How the sqlite backend browses and searches published products: full-text terms and sort orders.

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use crate::domain::{Page, PageRequest};
use crate::domain::{Product, ProductSort};
use crate::storage::StoreResult;
use crate::storage::sqlite::map_err;

use super::rows::load_products_in_order;

/// With search terms the full-text index drives the query (CROSS JOIN fixes the join order), so
/// only matching rows are read; otherwise the ordered product indexes do.
pub(super) const SEARCH_FROM: &str = "FROM products_fts f CROSS JOIN products p ON p.seq = f.rowid JOIN vendors v ON v.id = p.vendor_id";

pub(super) const BROWSE_FROM: &str = "FROM products p JOIN vendors v ON v.id = p.vendor_id";

pub(super) const VISIBLE: &str = "p.status = 'published' AND v.status = 'approved'";

/// The FTS5 query for already-sanitised terms: each quoted, all required.
pub(super) fn fts_query(terms: &[String]) -> String {
    terms
        .iter()
        .map(|t| format!("\"{}\"", t.replace('"', "")))
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn order_by(sort: ProductSort) -> &'static str {
    match sort {
        ProductSort::Newest => "p.created_at DESC, p.id DESC",
        ProductSort::PriceAsc => "p.price_cents ASC, p.id ASC",
        ProductSort::PriceDesc => "p.price_cents DESC, p.id DESC",
        ProductSort::Rating => "p.rating_avg DESC, p.rating_count DESC, p.created_at DESC, p.id DESC",
        ProductSort::Popular => "p.sales_count DESC, p.created_at DESC, p.id DESC",
    }
}

/// The sort index that holds every column of `sort`'s `ORDER BY` (migration V8).
pub(super) fn sort_index(sort: ProductSort) -> &'static str {
    match sort {
        ProductSort::Newest => "products_status_newest_idx",
        ProductSort::PriceAsc | ProductSort::PriceDesc => "products_status_price_id_idx",
        ProductSort::Rating => "products_status_rating_full_idx",
        ProductSort::Popular => "products_status_popular_idx",
    }
}

/// The statements of one capped search (see [`search_capped`]).
pub(super) struct SearchPlans {
    pub(super) count: String,
    pub(super) by_matches: String,
    pub(super) by_order: String,
}

/// How many index rows walking in sort order may read per match the other plan would sort
/// before that plan is the cheaper one (a walked row is an index step and a set probe; a
/// sorted match is a table row, a vendor row and a sorter insert).
const WALK_ROWS_PER_SORTED_MATCH: f64 = 4.0;

/// One page of a search whose count stops at `cap`. Counting first tells how common the terms
/// are: under the cap every match is read and sorted (few rows); over it, the products are
/// walked in sort order until the page is full, unless the page is so deep that sorting every
/// match is cheaper.
pub(super) fn search_capped(
    conn: &Connection,
    plans: &SearchPlans,
    args: &[Value],
    cap: i64,
    page: PageRequest,
) -> StoreResult<Page<Product>> {
    let (counted, reached): (i64, i64) = conn
        .prepare_cached(&plans.count)
        .and_then(|mut stmt| stmt.query_row(params_from_iter(args.iter()), |r| Ok((r.get(0)?, r.get(1)?))))
        .map_err(map_err)?;
    let capped = counted > cap;
    let total = counted.min(cap);
    if !capped && page.offset() >= total {
        return Ok(Page::capped(Vec::new(), page, total, false));
    }
    let walk = capped && {
        // Matches are about `counted / reached` of the products (in `seq` order), so the walk reads
        // about `(offset + limit) / density` rows and sorting would read `density * products`.
        let products: i64 = conn
            .prepare_cached("SELECT coalesce(max(seq), 0) FROM products")
            .and_then(|mut stmt| stmt.query_row([], |r| r.get(0)))
            .map_err(map_err)?;
        let density = counted as f64 / reached.max(1) as f64;
        let walked = (page.offset() + page.limit()) as f64 / density;
        walked <= WALK_ROWS_PER_SORTED_MATCH * density * products as f64
    };
    let sql = if walk { &plans.by_order } else { &plans.by_matches };
    let ids: Vec<String> = conn
        .prepare_cached(sql)
        .and_then(|mut stmt| stmt.query_map(params_from_iter(args.iter()), |r| r.get(0))?.collect())
        .map_err(map_err)?;
    let items = load_products_in_order(conn, &ids)?;
    Ok(Page::capped(items, page, total, capped))
}
