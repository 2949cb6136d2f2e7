//! SQL fragments both backends build their guarded updates and searches from: the status lists
//! of conditional updates, and `LIKE` patterns.

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// The SQL list (`'pending_payment', 'payment_failed'`) of the statuses `event` applies in, for
/// the guard of a backend's conditional update (`... WHERE status IN (<this>)`). The statuses
/// are the domain's fixed names, never input.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    expect(dead_code, reason = "used by the backends")
)]
pub(crate) fn status_guard(event: crate::domain::OrderEvent) -> String {
    quoted(event.allowed_from().iter().map(|status| status.as_str()))
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// The SQL list of the payout statuses `action` may start from (see [`status_guard`]).
pub(crate) fn payout_guard(action: &crate::domain::PayoutAction) -> String {
    quoted(action.allowed_from().iter().map(|status| status.as_str()))
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// `'a', 'b'` of fixed names (never input).
fn quoted<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.map(|name| format!("'{name}'")).collect::<Vec<_>>().join(", ")
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
/// `UPDATE orders SET status = '<target>'` of `event`, for the backends' guarded updates.
pub(crate) fn set_status(event: crate::domain::OrderEvent) -> String {
    format!("UPDATE orders SET status = '{}'", event.target().as_str())
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` (SQLite) or `ILIKE` (PostgreSQL)
/// pattern matching anywhere in the text; both backends use it.
#[cfg_attr(
    not(any(feature = "sqlite", feature = "postgres")),
    expect(dead_code, reason = "used by the backends")
)]
pub(crate) fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
