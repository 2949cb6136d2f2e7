//! Typed values of environment variables (numbers, flags, durations), each bad one reported by name.

use std::time::Duration;

pub(super) fn number<T: std::str::FromStr + Copy>(problems: &mut Vec<String>, name: &str, value: Option<String>, default: T) -> T {
    match value {
        None => default,
        Some(text) => text.parse().unwrap_or_else(|_| {
            problems.push(format!("{name}: `{text}` is not a valid number"));
            default
        }),
    }
}

pub(super) fn flag(problems: &mut Vec<String>, name: &str, value: Option<String>) -> bool {
    match value.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no" | "off") => false,
        Some("true" | "1" | "yes" | "on") => true,
        Some(other) => {
            problems.push(format!("{name}: `{other}` is not true or false"));
            false
        }
    }
}

/// Parses `15m`, `7d`, `12h`, `30s`, `500ms` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let seconds = match unit.trim() {
        "" | "s" => n,
        "ms" => return (n > 0).then(|| Duration::from_millis(n)),
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    (seconds > 0).then(|| Duration::from_secs(seconds))
}

pub(super) fn duration(problems: &mut Vec<String>, name: &str, value: Option<String>, default: Duration) -> Duration {
    match value {
        None => default,
        Some(text) => parse_duration(&text).unwrap_or_else(|| {
            problems.push(format!("{name}: `{text}` is not a duration such as 15m, 12h or 7d"));
            default
        }),
    }
}
