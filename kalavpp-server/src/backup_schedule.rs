//! Scheduled backups (`BACKUP_INTERVAL`): one backup per interval into `BACKUP_DIR`, the newest
//! `BACKUP_KEEP` kept.
//!
//! Every instance checks once a minute (or once per interval when that is shorter) and asks the
//! database for the interval's lease ([`kalavpp_core::services::Jobs::claim`]): on a shared
//! PostgreSQL exactly one instance takes each backup, and a restart does not take an extra one
//! before the interval has passed. A failed backup gives the lease back and is retried at the next
//! check.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kalavpp_core::Marketplace;

use crate::settings::{BackupSchedule, Settings};

/// The name of the scheduled backup's lease.
pub const JOB: &str = "scheduled-backup";

/// Directory names of scheduled backups start with this (then a UTC timestamp, so name order is
/// time order).
const PREFIX: &str = "kalavpp-";

/// Runs the schedule until the task is aborted. `instance` names this process in the lease.
pub async fn run(settings: std::sync::Arc<Settings>, market: Marketplace, schedule: BackupSchedule, instance: String) {
    let check = schedule.interval.min(Duration::from_mins(1));
    let mut tick = tokio::time::interval(check);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match market.jobs().claim(JOB, &instance, schedule.interval).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(err) => {
                tracing::warn!(error = %err, "scheduled backup: cannot ask the database whose turn it is");
                continue;
            }
        }
        match take(&settings, &schedule).await {
            Ok(dir) => {
                tracing::info!(dir = %dir.display(), "scheduled backup written");
                prune(&schedule.dir, schedule.keep);
            }
            Err(problem) => {
                tracing::warn!(problem = %problem, "scheduled backup failed; retrying at the next check");
                if let Err(err) = market.jobs().give_back(JOB, &instance).await {
                    tracing::warn!(error = %err, "scheduled backup: cannot give the lease back");
                }
            }
        }
    }
}

/// Takes one backup into a new timestamped directory under the schedule's directory.
async fn take(settings: &Settings, schedule: &BackupSchedule) -> Result<PathBuf, String> {
    std::fs::create_dir_all(&schedule.dir).map_err(|e| format!("{}: {e}", schedule.dir.display()))?;
    let name = format!("{PREFIX}{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"));
    let dir = schedule.dir.join(name);
    match crate::backup::backup(settings, &dir).await {
        Ok(_) => Ok(dir),
        Err(problem) => {
            let _ = std::fs::remove_dir_all(&dir);
            Err(problem)
        }
    }
}

/// Deletes all but the newest `keep` complete backups in `dir`, and interrupted ones (no
/// `backup.json`) older than the newest complete one. Other entries are left alone.
pub fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut names: Vec<(String, bool)> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.starts_with(PREFIX))
        .map(|name| {
            let complete = dir.join(&name).join("backup.json").is_file();
            (name, complete)
        })
        .collect();
    names.sort();
    let complete: Vec<&String> = names.iter().filter(|(_, c)| *c).map(|(n, _)| n).collect();
    let newest = complete.last().map(|n| (*n).clone());
    let mut doomed: Vec<String> = complete.iter().rev().skip(keep).map(|n| (*n).clone()).collect();
    if let Some(newest) = newest {
        doomed.extend(names.iter().filter(|(n, c)| !c && *n < newest).map(|(n, _)| n.clone()));
    }
    for name in doomed {
        let path = dir.join(&name);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => tracing::info!(dir = %path.display(), "old backup removed"),
            Err(err) => tracing::warn!(dir = %path.display(), error = %err, "cannot remove an old backup"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_the_newest_complete_backups_and_drops_interrupted_older_ones() {
        let dir = tempfile::tempdir().unwrap();
        let make = |name: &str, complete: bool| {
            std::fs::create_dir_all(dir.path().join(name)).unwrap();
            if complete {
                std::fs::write(dir.path().join(name).join("backup.json"), "{}").unwrap();
            }
        };
        make("kalavpp-20260101T000000.000Z", true);
        make("kalavpp-20260102T000000.000Z", false);
        make("kalavpp-20260103T000000.000Z", true);
        make("kalavpp-20260104T000000.000Z", true);
        make("kalavpp-20260105T000000.000Z", false);
        make("not-a-backup", false);
        prune(dir.path(), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "kalavpp-20260103T000000.000Z",
                "kalavpp-20260104T000000.000Z",
                "kalavpp-20260105T000000.000Z",
                "not-a-backup"
            ]
        );
    }
}
