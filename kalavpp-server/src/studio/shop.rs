//! The shop profile: name, the public description and the private payout details.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use kalavpp_core::services::VendorProfileEdit;
use kalavpp_core::storage::Vendor;
use kalavpp_core::{Error, FieldError};

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

fn payout_text(vendor: &Vendor) -> String {
    match &vendor.payout_details {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
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
    let edit = VendorProfileEdit {
        shop_name: Some(text("shop_name").unwrap_or_default()),
        bio: Some(text("bio")),
        payout_details: Some(text("payout_details").map(serde_json::Value::String)),
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
