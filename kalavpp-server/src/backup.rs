//! `kalavpp backup --output DIR`: a consistent copy of the database plus the uploaded files.
//!
//! - SQLite: `DIR/kalavpp.db`, written with `VACUUM INTO` (online: the server may keep running).
//! - PostgreSQL: `DIR/kalavpp.dump`, written by `pg_dump --format=custom` (restore with
//!   `pg_restore --clean --if-exists -d <database> DIR/kalavpp.dump`).
//! - Files: the local file store (`<data dir>/files`: public images and private downloads) is copied
//!   to `DIR/files`.
//! - `DIR/backup.json` says what was written and when, with the row count of every table (counted in
//!   the snapshot the copy was made from); it is written last, so a directory without it is an
//!   interrupted backup.
//!
//! `kalavpp restore DIR` puts a SQLite backup back into an empty data directory (it refuses a
//! database or files already there), after checking the manifest and `PRAGMA integrity_check`.
//! PostgreSQL backups are restored with `pg_restore` (the README has the command).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kalavpp_core::config::SqliteLocation;
use kalavpp_core::config::{DatabaseUrl, FileStorage, PostgresUrl};
use kalavpp_core::error::report;
use kalavpp_core::maintenance::{backup_file, dump_in_snapshot, integrity_check, table_row_counts};
use serde_json::json;

use crate::settings::Settings;

/// What a backup wrote.
#[derive(Debug)]
pub struct Written {
    /// The database copy (`kalavpp.db` or `kalavpp.dump`).
    pub database: PathBuf,
    /// How many uploaded files were copied.
    pub files: u64,
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

/// Writes a backup of the marketplace described by `settings` into `output` (new or empty): the
/// database (with the row count of every table, taken from the same snapshot), the local files and
/// `backup.json`. Safe while servers run on the same database.
pub async fn backup(settings: &Settings, output: &Path) -> Result<Written, String> {
    if output.exists() && std::fs::read_dir(output).map_err(|e| e.to_string())?.next().is_some() {
        return Err(format!("{} is not empty; choose a new directory", output.display()));
    }
    std::fs::create_dir_all(output).map_err(|e| format!("{}: {e}", output.display()))?;
    let (backend, database, rows) = match &settings.core.database_url {
        DatabaseUrl::Postgres(url) => {
            let target = output.join("kalavpp.dump");
            let (rows, dumped) = dump_in_snapshot(url.expose(), |snapshot| pg_dump(url, target.clone(), snapshot))
                .await
                .map_err(|e| report(&e))?;
            dumped?;
            ("postgres", target, rows)
        }
        DatabaseUrl::Sqlite(SqliteLocation::Memory) => return Err("an in-memory database cannot be backed up".into()),
        DatabaseUrl::Sqlite(SqliteLocation::File(source)) => {
            let target = output.join("kalavpp.db");
            backup_file(source, &target).await.map_err(|e| report(&e))?;
            let rows = table_row_counts(&target).await.map_err(|e| report(&e))?;
            ("sqlite", target, rows)
        }
    };
    let files_source = settings.core.data_dir.join("files");
    let files_target = output.join("files");
    let files = if matches!(settings.core.file_storage, FileStorage::Local) && files_source.is_dir() {
        tokio::task::spawn_blocking(move || copy_tree(&files_source, &files_target))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("copying files: {e}"))?
    } else {
        0
    };
    let file_storage = match &settings.core.file_storage {
        FileStorage::Local => "local".to_owned(),
        FileStorage::S3(s3) => format!("s3://{} (not copied: keep the bucket versioned or replicated)", s3.bucket),
    };
    let manifest = json!({
        "created_at": chrono::Utc::now(),
        "version": env!("CARGO_PKG_VERSION"),
        "backend": backend,
        "database": database.file_name().and_then(|n| n.to_str()),
        "rows": rows,
        "files": files,
        "file_storage": file_storage,
    });
    // The manifest is written last: a directory without one is an interrupted backup.
    let partial = output.join("backup.json.partial");
    std::fs::write(&partial, format!("{manifest:#}\n")).map_err(|e| e.to_string())?;
    std::fs::rename(&partial, output.join("backup.json")).map_err(|e| e.to_string())?;
    Ok(Written { database, files })
}

/// Runs `pg_dump` of the database at `url` into `target`, reading `snapshot`.
async fn pg_dump(url: &PostgresUrl, target: PathBuf, snapshot: String) -> Result<(), String> {
    // The password goes through the environment, never the command line.
    let (url_without_password, password) = url.split_password();
    tokio::task::spawn_blocking(move || {
        let mut pg_dump = std::process::Command::new("pg_dump");
        pg_dump
            .args(["--format=custom", "--no-owner", "--snapshot", &snapshot, "--file"])
            .arg(&target)
            .arg(&url_without_password);
        if let Some(password) = password {
            pg_dump.env("PGPASSWORD", password);
        }
        let status = pg_dump
            .status()
            .map_err(|e| format!("cannot run pg_dump (install the PostgreSQL client tools): {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("pg_dump exited with {status}"))
        }
    })
    .await
    .map_err(|e| e.to_string())?
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

/// Runs the restore; prints what it restored, or the problem.
pub async fn run_restore(settings: &Settings, from: &Path) -> ExitCode {
    match restore(settings, from).await {
        Ok((database, files)) => {
            println!("restored {} and {files} file(s) from {}", database.display(), from.display());
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("kalavpp: restore refused: {problem}");
            ExitCode::FAILURE
        }
    }
}

async fn restore(settings: &Settings, from: &Path) -> Result<(PathBuf, u64), String> {
    let manifest_path = from.join("backup.json");
    let manifest: serde_json::Value = std::fs::read_to_string(&manifest_path)
        .map_err(|e| format!("{}: {e} (is this a backup directory?)", manifest_path.display()))
        .and_then(|text| serde_json::from_str(&text).map_err(|e| format!("{}: not a backup manifest: {e}", manifest_path.display())))?;
    match manifest["backend"].as_str() {
        Some("sqlite") => {}
        Some("postgres") => {
            return Err(format!(
                "a PostgreSQL backup is restored with pg_restore: pg_restore --clean --if-exists --no-owner -d <database> {}",
                from.join("kalavpp.dump").display()
            ));
        }
        other => return Err(format!("the manifest names no known backend ({other:?})")),
    }
    let target = match &settings.core.database_url {
        DatabaseUrl::Sqlite(SqliteLocation::File(path)) => path.clone(),
        _ => return Err("restore needs DATABASE_URL to name a SQLite file (sqlite://path)".into()),
    };
    let source = from.join(manifest["database"].as_str().unwrap_or("kalavpp.db"));
    if !source.is_file() {
        return Err(format!("{} is missing", source.display()));
    }
    if target.exists() {
        return Err(format!(
            "{} already exists; restore only into an empty data directory",
            target.display()
        ));
    }
    let files_target = settings.core.data_dir.join("files");
    if count_files(&files_target) > 0 {
        return Err(format!(
            "{} is not empty; restore only into an empty data directory",
            files_target.display()
        ));
    }
    let files_source = from.join("files");
    let expected = manifest["files"].as_u64().unwrap_or(0);
    let present = count_files(&files_source);
    if present != expected {
        return Err(format!(
            "the manifest lists {expected} file(s) but {present} are in {}",
            files_source.display()
        ));
    }
    integrity_check(&source).await.map_err(|e| format!("{}: {e}", source.display()))?;
    if let Some(expected) = manifest.get("rows") {
        let counted = table_row_counts(&source).await.map_err(|e| format!("{}: {e}", source.display()))?;
        if serde_json::to_value(&counted).ok().as_ref() != Some(expected) {
            return Err(format!(
                "{} does not hold the rows the manifest lists (the backup is damaged or was altered)",
                source.display()
            ));
        }
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    // Copy under a temporary name first: an interrupted restore leaves no half database behind.
    let partial = target.with_extension("restoring");
    std::fs::copy(&source, &partial).map_err(|e| format!("copying the database: {e}"))?;
    std::fs::rename(&partial, &target).map_err(|e| format!("placing the database: {e}"))?;
    let files = if files_source.is_dir() {
        copy_tree(&files_source, &files_target).map_err(|e| format!("copying files: {e}"))?
    } else {
        0
    };
    Ok((target, files))
}

/// Regular files under `dir` (0 when it does not exist).
fn count_files(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => count_files(&entry.path()),
            Ok(kind) if kind.is_file() => 1,
            _ => 0,
        })
        .sum()
}
