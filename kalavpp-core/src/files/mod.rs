//! Uploaded files: where their bytes live ([`FileStore`]: [`LocalFileStore`], or an S3 bucket with
//! the `s3` feature) and how images are checked and re-encoded before they are stored ([`images`]).
//!
//! Stored files are always named by us ([`new_key`]), never by the client's file name. Keys are
//! still validated by every store method, so a bug elsewhere cannot write outside the store.

pub mod gate;
pub mod images;
#[cfg(feature = "s3")]
pub mod s3;

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

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

/// A [`FileStore`] on the local filesystem, under one root directory.
#[derive(Debug, Clone)]
pub struct LocalFileStore {
    root: PathBuf,
}

impl LocalFileStore {
    /// A store rooted at `root`, creating the directory (and its temp directory) if needed.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, FileError> {
        let root = root.into();
        std::fs::create_dir_all(root.join(TEMP_DIR)).map_err(|e| io_error("creating the file store directory", &e))?;
        sweep_stale_temp_files(&root.join(TEMP_DIR), STALE_TEMP_AGE);
        Ok(Self { root })
    }

    /// The root directory of the store.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, FileError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    fn new_temp_path(&self) -> PathBuf {
        self.root.join(TEMP_DIR).join(format!("{}.part", uuid::Uuid::new_v4().simple()))
    }

    async fn create_temp(&self) -> Result<(PathBuf, tokio::fs::File), FileError> {
        let path = self.new_temp_path();
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(|e| io_error("creating a temp file", &e))?;
        Ok((path, file))
    }

    /// Renames the finished temp file `temp` to `dest`, creating parent directories; removes
    /// `temp` when that fails.
    async fn commit(&self, temp: &Path, dest: &Path) -> Result<(), FileError> {
        let result = async {
            if let Some(parent) = dest.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| io_error("creating a directory", &e))?;
            }
            tokio::fs::rename(temp, dest)
                .await
                .map_err(|e| io_error("moving a file into place", &e))
        }
        .await;
        if result.is_err() {
            let _ = tokio::fs::remove_file(temp).await;
        }
        result
    }

    /// Writes `bytes` to a new temp file, flushed to disk, and returns its path.
    async fn write_temp(&self, bytes: &[u8]) -> Result<PathBuf, FileError> {
        let (path, mut file) = self.create_temp().await?;
        let written = async {
            file.write_all(bytes).await?;
            file.sync_all().await
        }
        .await;
        drop(file);
        match written {
            Ok(()) => Ok(path),
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                Err(io_error("writing a temp file", &e))
            }
        }
    }

    /// Copies `local` to a new temp file, flushed to disk, and returns its path.
    async fn copy_to_temp(&self, local: &Path) -> Result<PathBuf, FileError> {
        let (path, mut file) = self.create_temp().await?;
        let copied = async {
            let mut source = tokio::fs::File::open(local).await?;
            tokio::io::copy(&mut source, &mut file).await?;
            file.sync_all().await
        }
        .await;
        drop(file);
        match copied {
            Ok(()) => Ok(path),
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                Err(io_error("copying a file into the store", &e))
            }
        }
    }
}

#[async_trait]
impl FileStore for LocalFileStore {
    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), FileError> {
        let dest = self.path_of(key)?;
        let temp = self.write_temp(&bytes).await?;
        self.commit(&temp, &dest).await
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn put_file(&self, key: &str, local: &Path) -> Result<(), FileError> {
        let dest = self.path_of(key)?;
        let source = tokio::fs::metadata(local)
            .await
            .map_err(|e| io_error("reading the uploaded file", &e))?;
        if !source.is_file() {
            return Err(FileError::Io("the uploaded file is not a regular file".into()));
        }
        if let Some(parent) = dest.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| io_error("creating a directory", &e))?;
        }
        match tokio::fs::rename(local, &dest).await {
            Ok(()) => Ok(()),
            Err(e) => {
                // Most likely another filesystem: copy into the store, then rename there.
                tracing::debug!(error = %e, "rename failed, copying instead");
                let temp = self.copy_to_temp(local).await?;
                self.commit(&temp, &dest).await?;
                if let Err(e) = tokio::fs::remove_file(local).await {
                    tracing::warn!(error = %e, "could not remove the source of a copied upload");
                }
                Ok(())
            }
        }
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn delete(&self, key: &str) -> Result<(), FileError> {
        let path = self.path_of(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("deleting a file", &e)),
        }
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn exists(&self, key: &str) -> Result<bool, FileError> {
        let path = self.path_of(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Ok(false),
            Err(e) => Err(io_error("checking a file", &e)),
        }
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn meta(&self, key: &str) -> Result<Option<FileMeta>, FileError> {
        let path = self.path_of(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some(FileMeta {
                size: meta.len(),
                last_modified: meta.modified().ok().map(chrono::DateTime::<chrono::Utc>::from),
                e_tag: None,
            })),
            Ok(_) => Ok(None),
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => Ok(None),
            Err(e) => Err(io_error("checking a file", &e)),
        }
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn read_range(&self, key: &str, range: std::ops::Range<u64>) -> Result<FileStream, FileError> {
        let path = self.path_of(key)?;
        let mut file = tokio::fs::File::open(&path).await.map_err(|e| io_error("opening a file", &e))?;
        file.seek(std::io::SeekFrom::Start(range.start))
            .await
            .map_err(|e| io_error("reading a file", &e))?;
        let body = tokio_util::io::ReaderStream::new(file.take(range.end.saturating_sub(range.start)));
        Ok(body.map(|chunk| chunk.map_err(|e| io_error("reading a file", &e))).boxed())
    }

    fn local_path(&self, key: &str) -> Option<PathBuf> {
        self.path_of(key).ok()
    }

    #[tracing::instrument(skip_all)]
    async fn temp_file(&self) -> Result<(PathBuf, tokio::fs::File), FileError> {
        // The temp directory may have been removed since `new` (e.g. by a cleanup job).
        tokio::fs::create_dir_all(self.root.join(TEMP_DIR))
            .await
            .map_err(|e| io_error("creating the temp directory", &e))?;
        self.create_temp().await
    }
}

/// Temporary files older than this are left-overs of uploads cut short by a crash.
const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_hours(1);

/// Removes files in `dir` not modified for `age` (uploads a crash or kill left behind); returns
/// how many were removed.
pub fn sweep_stale_temp_files(dir: &Path, age: std::time::Duration) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let stale = entry
            .metadata()
            .ok()
            .filter(std::fs::Metadata::is_file)
            .and_then(|m| m.modified().ok())
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|elapsed| elapsed >= age);
        if stale && std::fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed stale temporary uploads");
    }
    removed
}

pub(crate) fn io_error(context: &str, error: &std::io::Error) -> FileError {
    FileError::Io(format!("{context}: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, LocalFileStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFileStore::new(dir.path().join("files")).unwrap();
        (dir, store)
    }

    #[test]
    fn new_key_is_generated_and_valid() {
        let a = new_key("products", "jpg");
        let b = new_key("products", "jpg");
        assert_ne!(a, b);
        assert!(a.starts_with("products/") && std::path::Path::new(&a).extension().is_some_and(|ext| ext == "jpg"));
        assert_eq!(a.len(), "products/".len() + 32 + ".jpg".len());
        validate_key(&a).unwrap();
    }

    #[test]
    fn invalid_keys_are_refused() {
        let long = format!("a/{}", "b".repeat(MAX_KEY_LEN));
        for key in [
            "",
            "../etc/passwd",
            "a/../../etc/passwd",
            "..",
            "./a",
            "/abs",
            "a//b",
            "a/",
            "A.PNG",
            "a\\b",
            "a b",
            "a\0b",
            "é.png",
            "~tmp/x.part",
            long.as_str(),
        ] {
            assert!(matches!(validate_key(key), Err(FileError::InvalidKey(_))), "{key:?} accepted");
        }
        for key in ["a", "products/abc.jpg", "a-b/c.d/e_f", "x/y/z/1.webp"] {
            validate_key(key).unwrap();
        }
    }

    #[test]
    fn stale_temp_files_are_swept_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let temp = dir.path().join(TEMP_DIR);
        std::fs::create_dir_all(&temp).unwrap();
        std::fs::write(temp.join("old.part"), b"left by a crash").unwrap();
        assert_eq!(
            sweep_stale_temp_files(&temp, std::time::Duration::from_hours(1)),
            0,
            "fresh files stay"
        );
        assert_eq!(sweep_stale_temp_files(&temp, std::time::Duration::ZERO), 1);
        assert!(std::fs::read_dir(&temp).unwrap().next().is_none());
    }

    #[tokio::test]
    async fn put_exists_delete() {
        let (_dir, store) = store();
        let key = "products/ab/c.jpg";
        assert!(!store.exists(key).await.unwrap());
        store.put(key, Bytes::from_static(b"hello")).await.unwrap();
        assert!(store.exists(key).await.unwrap());
        let path = store.local_path(key).unwrap();
        assert!(path.starts_with(store.root()));
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");

        // Replacing is atomic and leaves no temp file behind.
        store.put(key, Bytes::from_static(b"again")).await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"again");
        assert_eq!(std::fs::read_dir(store.root().join(TEMP_DIR)).unwrap().count(), 0);

        store.delete(key).await.unwrap();
        assert!(!store.exists(key).await.unwrap());
        // Deleting a missing file is fine.
        store.delete(key).await.unwrap();
        store.delete("never/there.png").await.unwrap();
        // A directory is not a file.
        assert!(!store.exists("products").await.unwrap());
        // A key under a file is simply missing.
        store.put("f", Bytes::from_static(b"x")).await.unwrap();
        assert!(!store.exists("f/g").await.unwrap());
    }

    #[tokio::test]
    async fn meta_and_ranges_of_a_local_file() {
        let (_dir, store) = store();
        assert_eq!(store.meta("a/b.bin").await.unwrap(), None);
        store.put("a/b.bin", Bytes::from_static(b"0123456789")).await.unwrap();
        let meta = store.meta("a/b.bin").await.unwrap().expect("stored");
        assert_eq!(meta.size, 10);
        assert!(meta.last_modified.is_some());
        let read = |range| async {
            let chunks: Vec<_> = store.read_range("a/b.bin", range).await.unwrap().collect().await;
            chunks.into_iter().flat_map(Result::unwrap).collect::<Vec<u8>>()
        };
        assert_eq!(read(2..5).await, b"234");
        assert_eq!(read(0..10).await, b"0123456789");
        assert_eq!(store.meta("a").await.unwrap(), None, "a directory is no file");
        assert!(matches!(store.meta("../x").await, Err(FileError::InvalidKey(_))));
    }

    #[tokio::test]
    async fn temp_file_then_put_file() {
        let (_dir, store) = store();
        let (path, mut file) = store.temp_file().await.unwrap();
        assert!(path.starts_with(store.root()));
        file.write_all(b"streamed upload").await.unwrap();
        file.sync_all().await.unwrap();
        drop(file);

        let (other, _) = store.temp_file().await.unwrap();
        assert_ne!(path, other);
        tokio::fs::remove_file(&other).await.unwrap();

        store.put_file("assets/x/file.zip", &path).await.unwrap();
        assert!(!path.exists(), "the temp file is moved, not copied");
        assert!(store.exists("assets/x/file.zip").await.unwrap());
        assert_eq!(
            std::fs::read(store.local_path("assets/x/file.zip").unwrap()).unwrap(),
            b"streamed upload"
        );
    }

    #[tokio::test]
    async fn put_file_from_outside_the_store() {
        let (dir, store) = store();
        let outside = dir.path().join("outside.bin");
        std::fs::write(&outside, b"data").unwrap();
        store.put_file("a/b.bin", &outside).await.unwrap();
        assert_eq!(std::fs::read(store.local_path("a/b.bin").unwrap()).unwrap(), b"data");
        assert!(matches!(store.put_file("a/c.bin", &outside).await, Err(FileError::Io(_))));
        assert!(!store.exists("a/c.bin").await.unwrap());
    }

    #[tokio::test]
    async fn store_methods_refuse_invalid_keys() {
        let (dir, store) = store();
        let outside = dir.path().join("outside.bin");
        std::fs::write(&outside, b"data").unwrap();
        for key in ["../etc/passwd", "/abs", "a//b", "A.PNG", ""] {
            assert!(matches!(
                store.put(key, Bytes::from_static(b"x")).await,
                Err(FileError::InvalidKey(_))
            ));
            assert!(matches!(store.put_file(key, &outside).await, Err(FileError::InvalidKey(_))));
            assert!(matches!(store.delete(key).await, Err(FileError::InvalidKey(_))));
            assert!(matches!(store.exists(key).await, Err(FileError::InvalidKey(_))));
            assert!(store.local_path(key).is_none());
        }
        assert!(outside.exists());
        assert!(!dir.path().join("etc").exists());
    }
}
