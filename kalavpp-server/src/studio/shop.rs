//! The shop profile: name, the public description and the private payout details.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use kalavpp_core::domain::Vendor;
use kalavpp_core::services::VendorProfileEdit;
use kalavpp_core::{Error, FieldError};

use super::apply::{payout_text, payout_value};
use super::forms::Frame;
use super::works::approved_shop;
use super::{chrome, done, note};
use crate::app::AppState;
use crate::storefront::session::{ShopForm, Shopper};
use crate::storefront::{Chrome, ShopResult, error_for, render_with};
use crate::web::{field, query_map};

#[derive(Template)]
#[template(path = "studio/shop.html")]
struct ShopPage {
    chrome: Chrome,
    frame: Frame,
    slug: String,
    shop_name: String,
    bio: String,
    payout: String,
    commission: String,
    errors: Vec<FieldError>,
}

impl ShopPage {
    fn error(&self, field: &str) -> Option<String> {
        error_for(&self.errors, field)
    }
}

fn shop_page(state: &AppState, shopper: &Shopper, vendor: &Vendor) -> ShopPage {
    let bps = vendor
        .commission_bps
        .map_or(i64::from(state.market.config().commission_bps), i64::from);
    ShopPage {
        chrome: chrome(state, shopper, "/studio/shop", "Shop profile"),
        frame: Frame::approved("shop", None, &vendor.shop_name),
        slug: vendor.slug.clone(),
        shop_name: vendor.shop_name.clone(),
        bio: vendor.bio.clone().unwrap_or_default(),
        payout: payout_text(vendor),
        commission: format!("{}.{:02} %", bps / 100, bps % 100),
        errors: vec![],
    }
}

/// `GET /studio/shop`.
pub async fn page(State(state): State<AppState>, shopper: Shopper, RawQuery(raw): RawQuery) -> ShopResult {
    let query = query_map(raw.as_deref())?;
    let vendor = approved_shop(&state, &shopper.actor).await?;
    let mut page = shop_page(&state, &shopper, &vendor);
    page.frame.note = note(&query);
    render_with(StatusCode::OK, &page)
}

/// `POST /studio/shop`: an empty description or payout details clears it.
pub async fn save(State(state): State<AppState>, form: ShopForm) -> ShopResult {
    let vendor = approved_shop(&state, &form.shopper.actor).await?;
    let text = |key: &str| field(&form.fields, key).map(str::to_owned);
    // A field the form did not send keeps its value; a sent blank one clears it.
    let sent = |key: &str| form.fields.get(key).map(|v| Some(v.trim().to_owned()).filter(|v| !v.is_empty()));
    let edit = VendorProfileEdit {
        shop_name: sent("shop_name").map(Option::unwrap_or_default),
        bio: sent("bio"),
        // Unchanged details are kept as stored (an object set through the API stays one).
        payout_details: match sent("payout_details") {
            None => None,
            Some(Some(typed)) if typed == payout_text(&vendor) => None,
            Some(typed) => Some(typed.map(|t| payout_value(&t))),
        },
    };
    match state.market.vendors().update_mine(&form.shopper.actor, edit).await {
        Ok(_) => Ok(done("/studio/shop", "shop-saved")),
        Err(Error::Validation(errors)) => {
            let mut page = shop_page(&state, &form.shopper, &vendor);
            page.shop_name = text("shop_name").unwrap_or_default();
            page.bio = text("bio").unwrap_or_default();
            page.payout = text("payout_details").unwrap_or_default();
            page.errors = errors;
            render_with(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(other) => Err(other.into()),
    }
}
