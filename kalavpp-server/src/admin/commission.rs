//! `POST /admin/vendors/{id}/commission`: a vendor's commission override, typed as a percentage
//! with up to two decimals (`12.5` = 1250 basis points; blank = the marketplace default), set
//! through [`Vendors::set_commission`](kalavpp_core::services::Vendors::set_commission).

use axum::extract::{Path, State};
use kalavpp_core::domain::VendorId;
use kalavpp_core::{Error, FieldError};

use super::{PanelForm, PanelResult, done, field};
use crate::app::AppState;

/// The form field.
const FIELD: &str = "commission_percent";

/// `12.5` / `12,50` / `7` → basis points; `Err` for anything else (signs, more than two decimals).
pub fn percent_to_bps(text: &str) -> Result<i64, String> {
    let message = || "must be a percentage like 12.5 (at most two decimals), or blank for the marketplace default".to_owned();
    let text = text.trim().trim_end_matches('%').trim().replace(',', ".");
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if whole.is_empty() && fraction.is_empty() || !digits(whole) || !digits(fraction) || fraction.len() > 2 || whole.len() > 6 {
        return Err(message());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| message())?
    };
    let fraction: i64 = format!("{fraction:0<2}").parse().map_err(|_| message())?;
    Ok(whole * 100 + fraction)
}

/// Basis points as a percentage with two decimals, e.g. `12.50 %`.
pub fn bps_to_percent(bps: i64) -> String {
    format!("{}.{:02} %", bps / 100, (bps % 100).abs())
}

/// `POST /admin/vendors/{id}/commission` (`commission_percent`; blank clears the override).
pub async fn set(State(state): State<AppState>, Path(id): Path<String>, form: PanelForm) -> PanelResult {
    let id = VendorId::parse(&id).ok_or_else(|| Error::not_found("vendor_not_found", "vendor not found"))?;
    let bps = field(&form.fields, FIELD)
        .map(|text| percent_to_bps(text).map_err(|m| Error::Validation(vec![FieldError::new(FIELD, m)])))
        .transpose()?;
    let result = state.market.vendors().set_commission(&form.admin.actor, id, bps).await;
    match result {
        Ok(_) if bps.is_some() => Ok(done("/admin/vendors", "commission set")),
        Ok(_) => Ok(done("/admin/vendors", "commission reset to the default")),
        // The service's range check, said in the form's own terms.
        Err(Error::Validation(fields)) if fields.iter().any(|f| f.field == "commission_bps") => {
            Err(Error::Validation(vec![FieldError::new(FIELD, "must be between 0 and 100")]).into())
        }
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_become_basis_points_exactly() {
        for (text, bps) in [
            ("12.5", 1250),
            ("12,50", 1250),
            ("7", 700),
            ("0", 0),
            ("100", 10_000),
            (".5", 50),
            ("8.", 800),
            (" 15 % ", 1500),
            ("0.01", 1),
        ] {
            assert_eq!(percent_to_bps(text), Ok(bps), "{text}");
        }
        for bad in ["", ".", "-1", "1.234", "abc", "1e3", "12.5.1", "+3", "9999999"] {
            assert!(percent_to_bps(bad).is_err(), "{bad}");
        }
        assert_eq!(bps_to_percent(1250), "12.50 %");
        assert_eq!(bps_to_percent(5), "0.05 %");
    }
}
