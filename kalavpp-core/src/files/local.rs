//! [`LocalFileStore`]: files on the local disk, written to a temp file and renamed into place;
//! temp files left by a crash are swept when the store opens.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::{FileError, FileMeta, FileStore, FileStream, TEMP_DIR, io_error, validate_key};

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
