//! `/studio` before a shop is approved: the "sell on KALAVPP" application, the page while it is
//! reviewed, the rejection with its reason and "apply again", and the page of a suspended shop.
//! An approved artist gets the dashboard here instead.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use kalavpp_core::auth::Actor;
use kalavpp_core::domain::Vendor;
use kalavpp_core::domain::{Role, VendorStatus};
use kalavpp_core::services::VendorApplication;
use kalavpp_core::{Error, FieldError};

use super::forms::Frame;
use super::works::sells;
use super::{chrome, done, note};
use crate::app::AppState;
use crate::storefront::session::{ShopForm, Shopper};
use crate::storefront::{Chrome, ShopResult, error_for, render_with};
use crate::web::{field, query_map, when};

#[derive(Template)]
#[template(path = "studio/apply.html")]
struct ApplyPage {
    chrome: Chrome,
    frame: Frame,
    /// The reason of a rejected application, shown above "apply again".
    rejection: Option<String>,
    shop_name: String,
    bio: String,
    payout: String,
    errors: Vec<FieldError>,
}

impl ApplyPage {
    fn error(&self, field: &str) -> Option<String> {
        error_for(&self.errors, field)
    }
}

#[derive(Template)]
#[template(path = "studio/status.html")]
struct StatusPage {
    chrome: Chrome,
    frame: Frame,
    /// `pending`, `suspended`, `not_vendor` (an approved shop whose account no longer sells) or
    /// `admin` (administrators do not sell).
    kind: &'static str,
    applied: String,
}

fn frame(note: Option<&'static str>, shop: &str) -> Frame {
    Frame {
        tab: "dashboard",
        note,
        shop: shop.to_owned(),
        approved: false,
    }
}

/// The payout details as the form shows them (the API may have stored an object).
pub fn payout_text(vendor: &Vendor) -> String {
    match &vendor.payout_details {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// Payout details as typed: a JSON object stays an object (as the API may have stored it),
/// anything else is kept as text.
pub fn payout_value(text: &str) -> serde_json::Value {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value @ serde_json::Value::Object(_)) => value,
        _ => serde_json::Value::String(text.to_owned()),
    }
}

/// `GET /studio`: what the signed-in account's shop needs next.
pub async fn home(State(state): State<AppState>, shopper: Shopper, RawQuery(raw): RawQuery) -> ShopResult {
    let query = query_map(raw.as_deref())?;
    let note = note(&query);
    let vendor = match state.market.vendors().mine(&shopper.actor).await {
        Ok(vendor) => Some(vendor),
        Err(Error::NotFound { .. }) => None,
        Err(other) => return Err(other.into()),
    };
    let status_page = |kind: &'static str, title: &str, shop: &str, applied: String| {
        render_with(
            StatusCode::OK,
            &StatusPage {
                chrome: chrome(&state, &shopper, "/studio", title),
                frame: frame(note, shop),
                kind,
                applied,
            },
        )
    };
    let Some(vendor) = vendor else {
        if matches!(shopper.actor, Actor::User { role: Role::Admin, .. }) {
            return status_page("admin", "The studio is for artists", "", String::new());
        }
        let page = ApplyPage {
            chrome: chrome(&state, &shopper, "/studio", "Sell on KALAVPP"),
            frame: frame(note, ""),
            rejection: None,
            shop_name: String::new(),
            bio: String::new(),
            payout: String::new(),
            errors: vec![],
        };
        return render_with(StatusCode::OK, &page);
    };
    let applied = when(&vendor.created_at);
    match vendor.status {
        VendorStatus::Approved if sells(&shopper.actor) => super::dashboard::page(&state, &shopper, &vendor, note).await,
        VendorStatus::Approved => status_page("not_vendor", "Your account no longer sells", &vendor.shop_name, applied),
        VendorStatus::Rejected => render_with(
            StatusCode::OK,
            &ApplyPage {
                chrome: chrome(&state, &shopper, "/studio", "Apply again"),
                frame: frame(note, &vendor.shop_name),
                rejection: Some(vendor.rejection_reason.clone().unwrap_or_default()),
                payout: payout_text(&vendor),
                shop_name: vendor.shop_name,
                bio: vendor.bio.unwrap_or_default(),
                errors: vec![],
            },
        ),
        VendorStatus::Pending => status_page("pending", "Your application", &vendor.shop_name, applied),
        VendorStatus::Suspended => status_page("suspended", "Your shop is suspended", &vendor.shop_name, applied),
    }
}

/// `POST /studio/apply`: a first application, or a new one after a rejection.
pub async fn apply(State(state): State<AppState>, form: ShopForm) -> ShopResult {
    let text = |key: &str| field(&form.fields, key).map(str::to_owned);
    let application = VendorApplication {
        shop_name: text("shop_name").unwrap_or_default(),
        bio: text("bio"),
        payout_details: text("payout_details").map(|t| payout_value(&t)),
    };
    match state.market.vendors().apply(&form.shopper.actor, application).await {
        Ok(_) => Ok(done("/studio", "applied")),
        Err(Error::Validation(errors)) => {
            let rejection = match state.market.vendors().mine(&form.shopper.actor).await {
                Ok(v) if v.status == VendorStatus::Rejected => Some(v.rejection_reason.unwrap_or_default()),
                _ => None,
            };
            render_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ApplyPage {
                    chrome: chrome(&state, &form.shopper, "/studio", "Sell on KALAVPP"),
                    frame: frame(None, ""),
                    rejection,
                    shop_name: text("shop_name").unwrap_or_default(),
                    bio: text("bio").unwrap_or_default(),
                    payout: text("payout_details").unwrap_or_default(),
                    errors,
                },
            )
        }
        Err(other) => Err(other.into()),
    }
}
