use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// The current time truncated to whole microseconds, the precision both backends store.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(now)
}

/// A point in time, UTC, microsecond precision.
pub type Timestamp = DateTime<Utc>;
