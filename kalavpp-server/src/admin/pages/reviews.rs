//! The panel's review moderation list (`GET /admin/reviews`).

use askama::Template;
use axum::extract::{RawQuery, State};

use super::{Opt, chrome, filter, options};
use crate::admin::{Chrome, Pager, PanelAdmin, PanelResult, page_request, query_map, render, when};
use crate::app::AppState;

struct ReviewRow {
    id: String,
    product_id: String,
    author: String,
    rating: i32,
    title: String,
    body: String,
    hidden: bool,
    written: String,
}

#[derive(Template)]
#[template(path = "admin/reviews.html")]
struct ReviewsPage {
    chrome: Chrome,
    shown: Vec<Opt>,
    rows: Vec<ReviewRow>,
    pager: Pager,
}

/// `GET /admin/reviews?shown=all|hidden|visible&page=`: every review, for moderation.
pub async fn reviews(State(state): State<AppState>, admin: PanelAdmin, RawQuery(raw): RawQuery) -> PanelResult {
    let query = query_map(raw.as_deref())?;
    let hidden = filter(&query, "shown", |s| match s {
        "hidden" => Ok(Some(true)),
        "visible" => Ok(Some(false)),
        "all" => Ok(None),
        _ => Err("must be one of all, hidden, visible".to_owned()),
    })?
    .flatten();
    let page = state.market.reviews().list_all(&admin.actor, hidden, page_request(&query)?).await?;
    let shown = match hidden {
        Some(true) => "hidden",
        Some(false) => "visible",
        None => "",
    };
    let pager = Pager::new("/admin/reviews", &[("shown", shown)], &page);
    let rows = page
        .items
        .into_iter()
        .map(|r| ReviewRow {
            id: r.id.to_string(),
            product_id: r.product_id.to_string(),
            author: r.author_name,
            rating: r.rating,
            title: r.title.unwrap_or_default(),
            body: r.body,
            hidden: r.hidden,
            written: when(&r.created_at),
        })
        .collect();
    render(&ReviewsPage {
        chrome: chrome(&admin, &query, "reviews"),
        shown: options(&["hidden", "visible"], shown),
        rows,
        pager,
    })
}
