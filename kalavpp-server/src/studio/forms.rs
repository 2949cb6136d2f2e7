//! What the studio's pages share: the frame around every page (tabs, the note after a redirect)
//! and the parsing of form values the services take in other units.

use kalavpp_core::{Error, FieldError};

/// The studio's part of a page: its tab, the note after a redirect, and the shop it is about.
pub struct Frame {
    /// Which tab is current (`dashboard`, `works`, `orders`, `earnings`, `payouts`, `shop`).
    pub tab: &'static str,
    /// A note after a redirect.
    pub note: Option<&'static str>,
    /// The shop's name (empty before an application).
    pub shop: String,
    /// Whether the shop is approved (the tabs beyond the application are shown).
    pub approved: bool,
}

impl Frame {
    /// The frame of an approved shop's page.
    pub fn approved(tab: &'static str, note: Option<&'static str>, shop: &str) -> Self {
        Self {
            tab,
            note,
            shop: shop.to_owned(),
            approved: true,
        }
    }
}

/// The `page` parameter (default 1); a `422` when it is not a positive whole number.
pub fn page_number(query: &std::collections::HashMap<String, String>) -> Result<u32, Error> {
    match crate::web::field(query, "page") {
        None => Ok(1),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| Error::invalid("page", "must be a positive whole number")),
    }
}

/// Cents from a price typed in major units (`120`, `120.5`, `1,200.00`); `None` when it is not
/// one. A comma only separates thousands (`1,200`): `12,50` is refused rather than read as 1,250.
pub fn cents(text: &str) -> Option<i64> {
    let text = text.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut groups = whole.split(',');
    let first = groups.next().unwrap_or_default();
    let rest: Vec<&str> = groups.collect();
    if !rest.is_empty() && (first.is_empty() || first.len() > 3 || rest.iter().any(|g| g.len() != 3)) {
        return None;
    }
    let whole: String = std::iter::once(first).chain(rest).collect();
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) || fraction.len() > 2 {
        return None;
    }
    let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let fraction: i64 = match fraction.len() {
        0 => 0,
        1 => fraction.parse::<i64>().ok()? * 10,
        _ => fraction.parse().ok()?,
    };
    whole.checked_mul(100)?.checked_add(fraction)
}

/// A price field in cents, or a `422` naming `field`.
pub fn price_field(field: &str, text: Option<&str>) -> Result<Option<i64>, Error> {
    match text {
        None => Ok(None),
        Some(text) => cents(text)
            .map(Some)
            .ok_or_else(|| Error::Validation(vec![FieldError::new(field, "must be an amount like 120 or 120.50")])),
    }
}

/// Cents as the studio's forms show them (`120.50`).
pub fn major(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// A whole-number field, or a `422` naming `field`.
pub fn count_field(field: &str, text: Option<&str>) -> Result<Option<i64>, Error> {
    text.map(|t| {
        t.trim()
            .parse::<i64>()
            .map_err(|_| Error::Validation(vec![FieldError::new(field, "must be a whole number")]))
    })
    .transpose()
}

/// Tags typed as a comma-separated list.
pub fn tags(text: Option<&str>) -> Vec<String> {
    text.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_are_read_in_major_units() {
        assert_eq!(cents("120"), Some(12_000));
        assert_eq!(cents("120.5"), Some(12_050));
        assert_eq!(cents(" 1,200.05 "), Some(120_005));
        assert_eq!(cents("1,234,567"), Some(123_456_700));
        assert_eq!(cents(".5"), Some(50));
        for bad in [
            "",
            ".",
            "12.345",
            "-3",
            "1e3",
            "abc",
            "99999999999999999999",
            "12,50",
            "12,5",
            ",100",
            "1,2345",
            "1 200",
            "1,200,5",
        ] {
            assert_eq!(cents(bad), None, "{bad}");
        }
        assert_eq!(major(12_050), "120.50");
        assert_eq!(major(-5), "-0.05");
    }

    #[test]
    fn tags_are_split_on_commas() {
        assert_eq!(tags(Some(" oil, sea ,, harbour")), vec!["oil", "sea", "harbour"]);
        assert!(tags(None).is_empty());
    }
}
