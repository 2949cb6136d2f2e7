//! The artist's money: balance buckets and the paginated ledger, and payouts (request one out of
//! the available balance; every request with its status).

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use kalavpp_core::domain::{Balance, Vendor};
use kalavpp_core::domain::{LedgerBucket, LedgerKind, PageRequest, PayoutStatus};
use kalavpp_core::{Error, FieldError};

use super::forms::{Frame, major, page_number, price_field};
use super::works::approved_shop;
use super::{chrome, done, note};
use crate::admin::Pager;
use crate::app::AppState;
use crate::storefront::session::{ShopForm, Shopper};
use crate::storefront::{Chrome, ShopResult, error_for, render_with};
use crate::web::{field, money, query_map, when};

struct Bucket {
    label: &'static str,
    value: String,
    hint: &'static str,
}

fn buckets(balance: &Balance, currency: &str) -> Vec<Bucket> {
    vec![
        Bucket {
            label: "Available",
            value: money(balance.available.cents(), currency),
            hint: "yours to request as a payout",
        },
        Bucket {
            label: "Pending",
            value: money(balance.pending.cents(), currency),
            hint: "paid by buyers; released when shipped and the refund window has passed",
        },
        Bucket {
            label: "Held for payouts",
            value: money(balance.held.cents(), currency),
            hint: "requested and waiting to be sent",
        },
        Bucket {
            label: "Paid out",
            value: money(balance.paid_out.cents(), currency),
            hint: "sent to you so far",
        },
        Bucket {
            label: "Marketplace commission",
            value: money(balance.commission.cents(), currency),
            hint: "kept by the marketplace on your sales",
        },
    ]
}

fn kind_label(kind: LedgerKind) -> &'static str {
    match kind {
        LedgerKind::SaleCredit => "Sale",
        LedgerKind::Commission => "Commission",
        LedgerKind::Release => "Released",
        LedgerKind::RefundReversal => "Refund",
        LedgerKind::CommissionReversal => "Commission returned",
        LedgerKind::PayoutHold => "Payout hold",
        LedgerKind::PayoutDebit => "Payout sent",
        LedgerKind::DisputeHold => "Dispute hold",
        LedgerKind::DisputeRelease => "Dispute released",
    }
}

fn bucket_label(bucket: LedgerBucket) -> &'static str {
    match bucket {
        LedgerBucket::Pending => "pending",
        LedgerBucket::Available => "available",
        LedgerBucket::Held => "held",
        LedgerBucket::PaidOut => "paid out",
        LedgerBucket::Platform => "marketplace",
    }
}

struct EntryView {
    at: String,
    kind: &'static str,
    bucket: &'static str,
    amount: String,
    negative: bool,
}

#[derive(Template)]
#[template(path = "studio/earnings.html")]
struct EarningsPage {
    chrome: Chrome,
    frame: Frame,
    buckets: Vec<Bucket>,
    entries: Vec<EntryView>,
    pager: Pager,
}

/// `GET /studio/earnings?page=`.
pub async fn earnings(State(state): State<AppState>, shopper: Shopper, RawQuery(raw): RawQuery) -> ShopResult {
    let query = query_map(raw.as_deref())?;
    let vendor = approved_shop(&state, &shopper.actor).await?;
    let earnings = state
        .market
        .orders()
        .earnings(&shopper.actor, PageRequest::new(page_number(&query)?, 25))
        .await?;
    let currency = state.market.config().currency.clone();
    let pager = Pager::new("/studio/earnings", &[], &earnings.entries);
    let entries = earnings
        .entries
        .items
        .iter()
        .map(|e| EntryView {
            at: when(&e.created_at),
            kind: kind_label(e.kind),
            bucket: bucket_label(e.bucket),
            amount: money(e.amount.cents(), &currency),
            negative: e.amount.cents() < 0,
        })
        .collect();
    render_with(
        StatusCode::OK,
        &EarningsPage {
            chrome: chrome(&state, &shopper, "/studio/earnings", "Your earnings"),
            frame: Frame::approved("earnings", note(&query), &vendor.shop_name),
            buckets: buckets(&earnings.balance, &currency),
            entries,
            pager,
        },
    )
}

struct PayoutView {
    requested: String,
    amount: String,
    status: &'static str,
    status_class: &'static str,
    detail: String,
}

#[derive(Template)]
#[template(path = "studio/payouts.html")]
struct PayoutsPage {
    chrome: Chrome,
    frame: Frame,
    available: String,
    can_request: bool,
    amount: String,
    currency: String,
    payouts: Vec<PayoutView>,
    pager: Pager,
    errors: Vec<FieldError>,
    message: Option<String>,
}

impl PayoutsPage {
    fn error(&self, field: &str) -> Option<String> {
        error_for(&self.errors, field).or_else(|| (field == "amount").then(|| error_for(&self.errors, "amount_cents")).flatten())
    }
}

fn payout_status(status: PayoutStatus) -> &'static str {
    match status {
        PayoutStatus::Requested => "Requested",
        PayoutStatus::Approved => "Approved — being sent",
        PayoutStatus::Paid => "Paid",
        PayoutStatus::Rejected => "Rejected",
    }
}

async fn payouts_page(state: &AppState, shopper: &Shopper, vendor: &Vendor, page: u32) -> Result<PayoutsPage, Error> {
    let balance = state.market.stats().vendor_dashboard(&shopper.actor).await?.balance;
    let list = state
        .market
        .payouts()
        .mine(&shopper.actor, None, PageRequest::new(page, 20))
        .await?;
    let currency = state.market.config().currency.clone();
    let pager = Pager::new("/studio/payouts", &[], &list);
    let payouts = list
        .items
        .iter()
        .map(|p| PayoutView {
            requested: when(&p.requested_at),
            amount: money(p.amount.cents(), &p.currency),
            status: payout_status(p.status),
            status_class: p.status.as_str(),
            detail: match p.status {
                PayoutStatus::Paid => p.reference.as_ref().map(|r| format!("Reference {r}")).unwrap_or_default(),
                PayoutStatus::Rejected => p.rejection_reason.clone().unwrap_or_default(),
                _ => String::new(),
            },
        })
        .collect();
    let available = balance.available.cents();
    Ok(PayoutsPage {
        chrome: chrome(state, shopper, "/studio/payouts", "Payouts"),
        frame: Frame::approved("payouts", None, &vendor.shop_name),
        available: money(available, &currency),
        can_request: available > 0,
        amount: if available > 0 { major(available) } else { String::new() },
        currency: currency.to_uppercase(),
        payouts,
        pager,
        errors: vec![],
        message: None,
    })
}

/// `GET /studio/payouts?page=`.
pub async fn payouts(State(state): State<AppState>, shopper: Shopper, RawQuery(raw): RawQuery) -> ShopResult {
    let query = query_map(raw.as_deref())?;
    let vendor = approved_shop(&state, &shopper.actor).await?;
    let mut page = payouts_page(&state, &shopper, &vendor, page_number(&query)?).await?;
    page.frame.note = note(&query);
    render_with(StatusCode::OK, &page)
}

/// `POST /studio/payouts` with `amount` in major units; refusals come back on the form.
pub async fn request(State(state): State<AppState>, form: ShopForm) -> ShopResult {
    let vendor = approved_shop(&state, &form.shopper.actor).await?;
    let result = match price_field("amount", field(&form.fields, "amount")) {
        Ok(Some(cents)) => state.market.payouts().request(&form.shopper.actor, cents).await.map(|_| ()),
        Ok(None) => Err(Error::invalid("amount", "enter the amount to pay out")),
        Err(err) => Err(err),
    };
    let (status, errors, message) = match result {
        Ok(()) => return Ok(done("/studio/payouts", "payout-requested")),
        Err(Error::Validation(errors)) => (StatusCode::UNPROCESSABLE_ENTITY, errors, None),
        Err(Error::Conflict { message, .. }) => (StatusCode::CONFLICT, vec![], Some(message)),
        Err(other) => return Err(other.into()),
    };
    let mut page = payouts_page(&state, &form.shopper, &vendor, 1).await?;
    field(&form.fields, "amount").unwrap_or_default().clone_into(&mut page.amount);
    page.errors = errors;
    page.message = message;
    render_with(status, &page)
}
