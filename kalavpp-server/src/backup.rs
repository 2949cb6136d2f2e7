//! `kalavpp backup --output DIR`: a consistent copy of the database plus the uploaded files.
//!
//! - SQLite: `DIR/kalavpp.db`, written with `VACUUM INTO` (online: the server may keep running).
//! - PostgreSQL: `DIR/kalavpp.dump`, written by `pg_dump --format=custom` (restore with
//!   `pg_restore --clean --if-exists -d <database> DIR/kalavpp.dump`).
//! - Files: the local file store (`<data dir>/files`: public images and private downloads) is copied
//!   to `DIR/files`.
//! - `DIR/backup.json` says what was written and when.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kalavpp_core::storage::sqlite::{SqliteLocation, backup_file};
use serde_json::json;

use crate::settings::Settings;

/// What a backup wrote.
#[derive(Debug)]
struct Written {
    database: PathBuf,
    files: u64,
}

/// Runs the backup; prints what it wrote, or one line per problem.
pub async fn run(settings: &Settings, output: &Path) -> ExitCode {
    match backup(settings, output).await {
        Ok(written) => {
            println!(
                "backup written to {}: database {}, {} file(s)",
                output.display(),
                written.database.display(),
                written.files
            );
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("kalavpp: backup failed: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn backup(settings: &Settings, output: &Path) -> Result<Written, String> {
    if output.exists() && std::fs::read_dir(output).map_err(|e| e.to_string())?.next().is_some() {
        return Err(format!("{} is not empty; choose a new directory", output.display()));
    }
    std::fs::create_dir_all(output).map_err(|e| format!("{}: {e}", output.display()))?;
    let url = settings.core.database_url.expose();
    let (backend, database) = if url.starts_with("postgres") {
        let target = output.join("kalavpp.dump");
        let status = std::process::Command::new("pg_dump")
            .args(["--format=custom", "--no-owner", "--file"])
            .arg(&target)
            .arg(url)
            .status()
            .map_err(|e| format!("cannot run pg_dump (install the PostgreSQL client tools): {e}"))?;
        if !status.success() {
            return Err(format!("pg_dump exited with {status}"));
        }
        ("postgres", target)
    } else {
        let source = match SqliteLocation::parse(url) {
            Some(SqliteLocation::File(path)) => path,
            Some(SqliteLocation::Memory) => return Err("an in-memory database cannot be backed up".into()),
            None => return Err("DATABASE_URL: must start with sqlite:// or postgres://".into()),
        };
        let target = output.join("kalavpp.db");
        backup_file(&source, &target).await.map_err(|e| e.to_string())?;
        ("sqlite", target)
    };
    let files_source = settings.core.data_dir.join("files");
    let files = if files_source.is_dir() {
        copy_tree(&files_source, &output.join("files")).map_err(|e| format!("copying files: {e}"))?
    } else {
        0
    };
    let manifest = json!({
        "created_at": chrono::Utc::now(),
        "version": env!("CARGO_PKG_VERSION"),
        "backend": backend,
        "database": database.file_name().and_then(|n| n.to_str()),
        "files": files,
    });
    std::fs::write(output.join("backup.json"), format!("{manifest:#}\n")).map_err(|e| e.to_string())?;
    Ok(Written { database, files })
}

/// Copies the regular files under `from` to `to` (same layout); returns how many.
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<u64> {
    std::fs::create_dir_all(to)?;
    let mut copied = 0;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copied += copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
            copied += 1;
        }
    }
    Ok(copied)
}
