//! Uploaded files: where their bytes live ([`FileStore`]: [`LocalFileStore`], or an S3 bucket with
//! the `s3` feature) and how images are checked and re-encoded before they are stored ([`images`]).
//!
//! Stored files are always named by us ([`new_key`]), never by the client's file name. Keys are
//! still validated by every store method, so a bug elsewhere cannot write outside the store.

pub mod gate;
pub mod images;
mod local;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(test)]
mod tests;

pub use local::LocalFileStore;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::BoxStream;

/// Longest key a store accepts, in bytes.
pub const MAX_KEY_LEN: usize = 200;

/// Directory (inside the store root) holding temp files. `~` is not allowed in keys, so no key
/// can ever name it or anything in it.
const TEMP_DIR: &str = "~tmp";

/// What a [`FileStore`] call can fail with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// The key is not one a store accepts (see [`validate_key`]).
    #[error("invalid file key: {0:?}")]
    InvalidKey(String),
    /// The backing storage failed.
    #[error("file storage error: {0}")]
    Io(String),
}

/// Size and version of a stored file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// Length in bytes.
    pub size: u64,
    /// When the file was last written, when the store knows.
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
    /// An opaque version tag (S3's `ETag`), when the store has one.
    pub e_tag: Option<String>,
}

/// The bytes of a stored file (or part of one), read as they are sent.
pub type FileStream = BoxStream<'static, Result<Bytes, FileError>>;

/// Where uploaded files are kept, addressed by generated keys such as `products/3f2a….jpg`.
#[async_trait]
pub trait FileStore: Send + Sync + std::fmt::Debug {
    /// Stores `bytes` under `key` atomically, replacing any file already there.
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), FileError>;

    /// Moves the finished file at `local` into place under `key` (atomically, replacing any file
    /// already there). Meant for big streamed uploads written to a [`FileStore::temp_file`]; the
    /// file at `local` is consumed (renamed, or copied then removed).
    async fn put_file(&self, key: &str, local: &Path) -> Result<(), FileError>;

    /// Removes the file under `key`; a missing file is not an error.
    async fn delete(&self, key: &str) -> Result<(), FileError>;

    /// Whether a file is stored under `key`.
    async fn exists(&self, key: &str) -> Result<bool, FileError>;

    /// Size and version of the file under `key`; `None` when there is none.
    async fn meta(&self, key: &str) -> Result<Option<FileMeta>, FileError>;

    /// The bytes `range` (half-open, within the file's size) of the file under `key`, streamed.
    async fn read_range(&self, key: &str, range: std::ops::Range<u64>) -> Result<FileStream, FileError>;

    /// The path of the file under `key` on the local filesystem, when the store has one (so the
    /// server can serve it with range support); `None` for remote stores and invalid keys.
    fn local_path(&self, key: &str) -> Option<PathBuf>;

    /// A fresh, empty temp file inside the store (same filesystem, so [`FileStore::put_file`] can
    /// rename it). The caller owns it: hand it to `put_file`, or remove it when abandoning it.
    async fn temp_file(&self) -> Result<(PathBuf, tokio::fs::File), FileError>;
}

/// A fresh generated key: `"{prefix}/{uuid v4 simple}.{extension}"`.
///
/// `prefix` and `extension` are ours (e.g. `"products"`, `"jpg"`), never taken from the client.
pub fn new_key(prefix: &str, extension: &str) -> String {
    format!("{prefix}/{}.{extension}", uuid::Uuid::new_v4().simple())
}

/// Checks that `key` is one a store accepts: non-empty, at most [`MAX_KEY_LEN`] bytes, only
/// `[a-z0-9._/-]`, not starting with `/`, and no empty, `.` or `..` segment.
pub fn validate_key(key: &str) -> Result<(), FileError> {
    let invalid = || FileError::InvalidKey(key.chars().take(MAX_KEY_LEN).collect());
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(invalid());
    }
    if !key
        .bytes()
        .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'/' | b'-'))
    {
        return Err(invalid());
    }
    if key
        .split('/')
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(invalid());
    }
    Ok(())
}

pub(crate) fn io_error(context: &str, error: &std::io::Error) -> FileError {
    FileError::Io(format!("{context}: {error}"))
}
