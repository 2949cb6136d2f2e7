//! Scheduled backups: `BACKUP_INTERVAL`, `BACKUP_KEEP` and `BACKUP_DIR`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kalavpp_core::config::DatabaseUrl;

use super::values::{number, parse_duration};

/// When and where the server takes its scheduled backups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSchedule {
    /// How often (`BACKUP_INTERVAL`, e.g. `6h` or `1d`).
    pub interval: Duration,
    /// How many backups to keep (`BACKUP_KEEP`, default [`DEFAULT_BACKUP_KEEP`]).
    pub keep: usize,
    /// Where they go (`BACKUP_DIR`, default `<data dir>/backups`), one directory each.
    pub dir: PathBuf,
}

/// Scheduled backups kept when `BACKUP_KEEP` is unset.
pub const DEFAULT_BACKUP_KEEP: usize = 7;

/// `BACKUP_INTERVAL`, `BACKUP_KEEP` and `BACKUP_DIR`.
pub(super) fn backup_settings(
    problems: &mut Vec<String>,
    get: &impl Fn(&str) -> Option<String>,
    data_dir: &Path,
    database_url: &DatabaseUrl,
) -> Option<BackupSchedule> {
    let keep = number(problems, "BACKUP_KEEP", get("BACKUP_KEEP"), DEFAULT_BACKUP_KEEP);
    if !(1..=1000).contains(&keep) {
        problems.push("BACKUP_KEEP: must be between 1 and 1000".into());
    }
    let dir = get("BACKUP_DIR").map_or_else(|| data_dir.join("backups"), PathBuf::from);
    let Some(text) = get("BACKUP_INTERVAL") else {
        for name in ["BACKUP_KEEP", "BACKUP_DIR"] {
            if get(name).is_some() {
                problems.push(format!(
                    "{name}: is set but BACKUP_INTERVAL is not (no scheduled backups would be taken)"
                ));
            }
        }
        return None;
    };
    let Some(interval) = parse_duration(&text).filter(|d| *d >= Duration::from_secs(1)) else {
        problems.push(format!("BACKUP_INTERVAL: `{text}` is not a duration such as 6h or 1d"));
        return None;
    };
    if *database_url == DatabaseUrl::memory() {
        problems.push("BACKUP_INTERVAL: an in-memory database cannot be backed up".into());
    }
    Some(BackupSchedule {
        interval,
        keep: keep.clamp(1, 1000),
        dir,
    })
}
