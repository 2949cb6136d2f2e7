//! The panel's read-only pages, one module per area: dashboard, vendors, payouts, users, orders,
//! audit log, emails, reviews. This module keeps the helpers they share (chrome, filters, options).

mod audit;
mod dashboard;
mod emails;
mod orders;
mod payouts;
mod reviews;
mod users;
mod vendors;

pub use audit::audit;
pub use dashboard::dashboard;
pub use emails::emails;
pub use orders::{order, orders};
pub use payouts::payouts;
pub use reviews::reviews;
pub use users::users;
pub use vendors::vendors;

use std::collections::HashMap;

use kalavpp_core::{Error, FieldError};

use super::{Chrome, PanelAdmin, PanelError, field, outcome};

fn chrome(admin: &PanelAdmin, query: &HashMap<String, String>, section: &'static str) -> Chrome {
    Chrome {
        name: admin.name.clone(),
        csrf: admin.csrf.clone(),
        done: outcome(query),
        section,
    }
}

/// Parses an optional filter with `parse`; `422` naming `key` when it does not parse.
fn filter<T>(query: &HashMap<String, String>, key: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<Option<T>, PanelError> {
    field(query, key)
        .map(|text| parse(text).map_err(|message| PanelError(Error::Validation(vec![FieldError::new(key, message)]))))
        .transpose()
}

/// A vendor id filter.
fn vendor_id(text: &str) -> Result<kalavpp_core::domain::VendorId, String> {
    kalavpp_core::domain::VendorId::parse(text).ok_or_else(|| "must be a vendor id".to_owned())
}

/// A time filter shown back in its date input.
fn day(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|t| t.date_naive().to_string()).unwrap_or_default()
}

/// One `<option>` of a filter.
struct Opt {
    value: &'static str,
    selected: bool,
}

fn options(all: &[&'static str], current: &str) -> Vec<Opt> {
    all.iter()
        .map(|value| Opt {
            value,
            selected: *value == current,
        })
        .collect()
}
