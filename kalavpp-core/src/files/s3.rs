//! [`S3FileStore`]: images and digital assets in an S3 bucket (or an S3-compatible service such as
//! MinIO) through `object_store`.
//!
//! Keys are the same as in a [`LocalFileStore`] (`media/products/….jpg`, `assets/….bin`) and become
//! object names in the bucket. Streamed uploads are first written to a temp file on local disk
//! (the `~tmp` directory of the local store root), then sent to the bucket; big files go up as a
//! multipart upload in 8 MiB parts, so memory stays bounded whatever the file size.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, RetryConfig, WriteMultipart};
use tokio::io::AsyncReadExt;

use super::{FileError, FileMeta, FileStore, FileStream, LocalFileStore, io_error, validate_key};
use crate::config::S3Config;

/// Files up to this size are sent in one `PUT`; bigger ones as a multipart upload.
const SINGLE_PUT_MAX: u64 = 8 * 1024 * 1024;

/// Size of each part of a multipart upload (S3 wants at least 5 MiB).
const PART_SIZE: usize = 8 * 1024 * 1024;

/// How many parts may be in flight at once during a multipart upload.
const PARTS_IN_FLIGHT: usize = 2;

/// A [`FileStore`] over one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3FileStore {
    bucket: String,
    objects: Arc<dyn ObjectStore>,
    /// Local scratch space for streamed uploads (its temp directory only).
    scratch: LocalFileStore,
}

impl S3FileStore {
    /// Connects to the bucket of `config` and checks that it can be listed, so a missing bucket,
    /// wrong credentials or an unreachable endpoint stop start-up with a clear message instead of
    /// failing the first upload. `scratch_root` is a local directory for temp files of uploads.
    pub async fn connect(config: &S3Config, scratch_root: impl Into<PathBuf>) -> Result<Self, FileError> {
        let bucket = config.bucket.clone();
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&bucket)
            .with_region(&config.region)
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(15),
                ..RetryConfig::default()
            })
            // A download may stream for a long time to a slow client; connecting may not.
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_timeout(Duration::from_hours(1)),
            );
        if let (Some(id), Some(secret)) = (&config.access_key_id, &config.secret_access_key) {
            builder = builder.with_access_key_id(id).with_secret_access_key(secret.expose());
        }
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        let objects = builder.build().map_err(|e| FileError::Io(format!("S3 bucket {bucket:?}: {e}")))?;
        objects
            .list_with_delimiter(Some(&ObjectPath::from("media")))
            .await
            .map_err(|e| FileError::Io(format!("S3 bucket {bucket:?} cannot be used: {}", describe(&e))))?;
        let scratch = LocalFileStore::new(scratch_root)?;
        tracing::info!(bucket = %bucket, endpoint = config.endpoint.as_deref().unwrap_or("AWS"), "files are stored in S3");
        Ok(Self {
            bucket,
            objects: Arc::new(objects),
            scratch,
        })
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn object(key: &str) -> Result<ObjectPath, FileError> {
        validate_key(key)?;
        Ok(ObjectPath::from(key))
    }

    fn failed(&self, action: &str, key: &str, error: &object_store::Error) -> FileError {
        FileError::Io(format!("S3 {action} of {key} in bucket {:?}: {}", self.bucket, describe(error)))
    }

    async fn upload_in_parts(&self, object: &ObjectPath, key: &str, mut file: tokio::fs::File) -> Result<(), FileError> {
        let upload = self
            .objects
            .put_multipart(object)
            .await
            .map_err(|e| self.failed("upload", key, &e))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut buffer = vec![0u8; 1024 * 1024];
        loop {
            let read = match file.read(&mut buffer).await {
                Ok(0) => break,
                Ok(read) => read,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(io_error("reading the uploaded file", &e));
                }
            };
            if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                return Err(self.failed("upload", key, &e));
            }
            writer.write(&buffer[..read]);
        }
        writer.finish().await.map_err(|e| self.failed("upload", key, &e))?;
        Ok(())
    }
}

#[async_trait]
impl FileStore for S3FileStore {
    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn put(&self, key: &str, bytes: Bytes) -> Result<(), FileError> {
        let object = Self::object(key)?;
        self.objects
            .put(&object, bytes.into())
            .await
            .map_err(|e| self.failed("upload", key, &e))?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn put_file(&self, key: &str, local: &Path) -> Result<(), FileError> {
        let object = Self::object(key)?;
        let meta = tokio::fs::metadata(local)
            .await
            .map_err(|e| io_error("reading the uploaded file", &e))?;
        if !meta.is_file() {
            return Err(FileError::Io("the uploaded file is not a regular file".into()));
        }
        let result = if meta.len() <= SINGLE_PUT_MAX {
            let bytes = tokio::fs::read(local)
                .await
                .map_err(|e| io_error("reading the uploaded file", &e))?;
            self.put(key, Bytes::from(bytes)).await
        } else {
            let file = tokio::fs::File::open(local)
                .await
                .map_err(|e| io_error("reading the uploaded file", &e))?;
            self.upload_in_parts(&object, key, file).await
        };
        // The local file is consumed either way (as a local store's rename would).
        if result.is_ok()
            && let Err(e) = tokio::fs::remove_file(local).await
        {
            tracing::warn!(error = %e, "could not remove the temp file of an upload sent to S3");
        }
        result
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn delete(&self, key: &str) -> Result<(), FileError> {
        let object = Self::object(key)?;
        match self.objects.delete(&object).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.failed("delete", key, &e)),
        }
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn exists(&self, key: &str) -> Result<bool, FileError> {
        Ok(self.meta(key).await?.is_some())
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn meta(&self, key: &str) -> Result<Option<FileMeta>, FileError> {
        let object = Self::object(key)?;
        match self.objects.head(&object).await {
            Ok(meta) => Ok(Some(FileMeta {
                size: meta.size,
                last_modified: Some(meta.last_modified),
                e_tag: meta.e_tag,
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.failed("lookup", key, &e)),
        }
    }

    #[tracing::instrument(skip_all, fields(key = %key))]
    async fn read_range(&self, key: &str, range: std::ops::Range<u64>) -> Result<FileStream, FileError> {
        let object = Self::object(key)?;
        let options = GetOptions {
            range: Some(GetRange::Bounded(range)),
            ..GetOptions::default()
        };
        let result = self
            .objects
            .get_opts(&object, options)
            .await
            .map_err(|e| self.failed("read", key, &e))?;
        let bucket = self.bucket.clone();
        let key = key.to_owned();
        Ok(result
            .into_stream()
            .map(move |chunk| chunk.map_err(|e| FileError::Io(format!("S3 read of {key} in bucket {bucket:?}: {}", describe(&e)))))
            .boxed())
    }

    fn local_path(&self, _key: &str) -> Option<PathBuf> {
        None
    }

    async fn temp_file(&self) -> Result<(PathBuf, tokio::fs::File), FileError> {
        self.scratch.temp_file().await
    }
}

/// An `object_store` error in one line, with its causes (the top level alone often says only
/// "Generic S3 error").
fn describe(error: &object_store::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
