//! Product images (decoded, re-encoded, thumbnailed) and digital assets (streamed, hashed).

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tracing::instrument;

use crate::auth::Actor;
use crate::domain::{ImageId, ProductId, ProductKind, now};
use crate::domain::{Product, ProductAsset, ProductImage};
use crate::error::{Error, Result};
use crate::files::images::{ImageError, probe_dimensions, process_image_blocking};
use crate::files::new_key;
use crate::marketplace::Inner;
use crate::storage::Conflict;
use crate::storage::StoreError;

/// Most images a product may have.
pub const MAX_IMAGES_PER_PRODUCT: i64 = 10;
/// Largest image upload in bytes (10 MiB).
pub const MAX_IMAGE_BYTES: usize = 10 * 1024 * 1024;

/// Image and asset services; get one from [`crate::Marketplace::media`].
pub struct Media<'a> {
    inner: &'a Inner,
}

fn files_error(err: crate::files::FileError) -> Error {
    Error::Internal(format!("file store: {err}"))
}

/// A download name safe for headers and file systems: the base name, letters, digits and `._-()`
/// and spaces, at most 120 characters.
pub fn sanitize_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-() ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(120)
        .collect();
    let cleaned = cleaned.trim_matches(|c: char| c == '.' || c == ' ').to_owned();
    if cleaned.is_empty() { "download".to_owned() } else { cleaned }
}

impl<'a> Media<'a> {
    pub(crate) fn new(inner: &'a Inner) -> Self {
        Self { inner }
    }

    /// The product if the actor is its owning, approved vendor.
    async fn owned(&self, actor: &Actor, product_id: ProductId) -> Result<Product> {
        let (product, admin) = super::Catalog::new(self.inner).editable_product(actor, product_id).await?;
        // Uploads are the vendor's own work; admins manage products, they do not upload to them.
        if admin.is_some() {
            return Err(Error::forbidden("not_product_owner", "only the product's vendor may upload files"));
        }
        Ok(product)
    }

    /// Checks, before any upload is read, that the actor may upload files to the product (its
    /// owning vendor, with the current role and an approved shop).
    #[instrument(skip_all)]
    pub async fn may_upload(&self, actor: &Actor, product_id: ProductId) -> Result<()> {
        self.owned(actor, product_id).await.map(|_| ())
    }

    /// Adds an image to a product: the bytes must decode as JPEG, PNG or WebP (whatever the
    /// file is called), at most 10 MiB and 40 megapixels; it is re-encoded and thumbnailed.
    #[instrument(skip_all)]
    pub async fn add_image(&self, actor: &Actor, product_id: ProductId, bytes: Bytes) -> Result<ProductImage> {
        let product = self.owned(actor, product_id).await?;
        if bytes.len() > MAX_IMAGE_BYTES {
            return Err(Error::TooLarge {
                code: "image_too_large",
                message: "images may be at most 10 MiB".into(),
            });
        }
        if product.images.len() as i64 >= MAX_IMAGES_PER_PRODUCT {
            return Err(too_many_images());
        }
        // Header first (cheap), then wait for room in the decode gate: a burst of large uploads
        // queues here instead of decoding all at once.
        let image_error = |e: ImageError| match e {
            ImageError::UnsupportedFormat => Error::UnsupportedMedia {
                code: "unsupported_image_type",
                message: "the file is not a JPEG, PNG or WebP image".into(),
            },
            ImageError::TooManyPixels { width, height } => Error::invalid(
                "file",
                format!("the image is {width}×{height} pixels; at most 40 megapixels are accepted"),
            ),
            ImageError::Corrupt(_) => Error::invalid("file", "the image could not be decoded"),
            // kalavpp-core built without the `images` feature: images are refused, never stored unchecked.
            ImageError::NotSupported => Error::UnsupportedMedia {
                code: "image_support_disabled",
                message: "this server cannot accept images (built without image support)".into(),
            },
        };
        let (width, height) = probe_dimensions(&bytes).map_err(image_error)?;
        let permit = self.inner.images.enter(width, height).await;
        let processed = process_image_blocking(bytes, permit).await;
        let processed = processed.map_err(image_error)?;
        let key = new_key("media/products", processed.extension);
        let thumb_key = key.replace(&format!(".{}", processed.extension), &format!("-thumb.{}", processed.extension));
        let files = &self.inner.files;
        files.put(&key, Bytes::from(processed.full)).await.map_err(files_error)?;
        files.put(&thumb_key, Bytes::from(processed.thumb)).await.map_err(files_error)?;
        let image = ProductImage {
            id: ImageId::new(),
            product_id,
            position: 0,
            key: key.clone(),
            thumb_key: thumb_key.clone(),
            width: i32::try_from(processed.width).unwrap_or(i32::MAX),
            height: i32::try_from(processed.height).unwrap_or(i32::MAX),
            created_at: now(),
        };
        match self.inner.store.add_product_image(image, MAX_IMAGES_PER_PRODUCT).await {
            Ok(stored) => {
                self.inner.cache.invalidate();
                Ok(stored)
            }
            Err(err) => {
                let _ = files.delete(&key).await;
                let _ = files.delete(&thumb_key).await;
                Err(match err {
                    StoreError::Conflict(Conflict::TooManyImages) => too_many_images(),
                    StoreError::NotFound => Error::not_found("product_not_found", "product not found"),
                    other => other.into(),
                })
            }
        }
    }

    /// Removes an image (owning vendor or admin) and its files.
    #[instrument(skip_all)]
    pub async fn delete_image(&self, actor: &Actor, product_id: ProductId, image_id: ImageId) -> Result<()> {
        let (_, admin) = super::Catalog::new(self.inner).editable_product(actor, product_id).await?;
        let audit = admin.map(|admin| {
            super::catalog::audit(
                &admin,
                "product.image_delete",
                "product",
                product_id.to_string(),
                serde_json::json!({ "image_id": image_id }),
            )
        });
        let removed = self
            .inner
            .store
            .delete_product_image(product_id, image_id, audit)
            .await?
            .ok_or_else(|| Error::not_found("image_not_found", "image not found"))?;
        self.inner.cache.invalidate();
        let _ = self.inner.files.delete(&removed.key).await;
        let _ = self.inner.files.delete(&removed.thumb_key).await;
        Ok(())
    }

    /// Moves an image of a product (owning vendor or admin) to `position` among its images (0 is
    /// the cover; past the end means last). `404` when the image is not the product's.
    #[instrument(skip_all)]
    pub async fn move_image(&self, actor: &Actor, product_id: ProductId, image_id: ImageId, position: usize) -> Result<()> {
        let (_, admin) = super::Catalog::new(self.inner).editable_product(actor, product_id).await?;
        let audit = admin.map(|admin| {
            super::catalog::audit(
                &admin,
                "product.image_move",
                "product",
                product_id.to_string(),
                serde_json::json!({ "image_id": image_id, "position": position }),
            )
        });
        if !self.inner.store.move_product_image(product_id, image_id, position, audit).await? {
            return Err(Error::not_found("image_not_found", "image not found"));
        }
        self.inner.cache.invalidate();
        Ok(())
    }

    /// Stores the downloadable file of a digital product, streaming `body` to storage (never
    /// whole in memory), refusing more than `max_bytes`, recording its SHA-256. Replaces any
    /// earlier asset.
    #[instrument(skip_all)]
    pub async fn upload_asset<S, E>(
        &self,
        actor: &Actor,
        product_id: ProductId,
        filename: &str,
        mut body: S,
        max_bytes: u64,
    ) -> Result<ProductAsset>
    where
        S: Stream<Item = std::result::Result<Bytes, E>> + Unpin + Send,
        E: std::fmt::Display,
    {
        let product = self.owned(actor, product_id).await?;
        if product.kind != ProductKind::Digital {
            return Err(Error::invalid("file", "only digital products have a downloadable asset"));
        }
        let files = &self.inner.files;
        let (temp_path, mut temp) = files.temp_file().await.map_err(files_error)?;
        // Removed on every path: success, refusal, or the request dropped mid-upload.
        let _guard = TempFileGuard(temp_path.clone());
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let started = std::time::Instant::now();
        let outcome: Result<()> = async {
            loop {
                // No request timeout applies to asset uploads; a minimum transfer rate does.
                let Ok(next) = tokio::time::timeout(UPLOAD_STALL, body.next()).await else {
                    return Err(too_slow());
                };
                let Some(chunk) = next else { break };
                let chunk = chunk.map_err(|e| Error::invalid("file", format!("the upload was interrupted: {e}")))?;
                let elapsed = started.elapsed();
                if elapsed > UPLOAD_GRACE && (size as f64) < MIN_UPLOAD_BYTES_PER_SEC * elapsed.as_secs_f64() {
                    return Err(too_slow());
                }
                size += chunk.len() as u64;
                if size > max_bytes {
                    return Err(Error::TooLarge {
                        code: "asset_too_large",
                        message: format!("digital assets may be at most {max_bytes} bytes"),
                    });
                }
                hasher.update(&chunk);
                temp.write_all(&chunk)
                    .await
                    .map_err(|e| Error::Internal(format!("writing the upload: {e}")))?;
            }
            temp.flush().await.map_err(|e| Error::Internal(e.to_string()))?;
            if size == 0 {
                return Err(Error::invalid("file", "the file is empty"));
            }
            Ok(())
        }
        .await;
        drop(temp);
        outcome?;
        let key = new_key("assets", "bin");
        files.put_file(&key, &temp_path).await.map_err(files_error)?;
        let asset = ProductAsset {
            product_id,
            filename: sanitize_filename(filename),
            key,
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            sha256: hex::encode(hasher.finalize()),
            created_at: now(),
        };
        let replaced = match self.inner.store.set_product_asset(asset.clone()).await {
            Ok(replaced) => replaced,
            Err(err) => {
                // The file would belong to nothing.
                let _ = files.delete(&asset.key).await;
                return Err(err.into());
            }
        };
        if let Some(old) = replaced {
            let _ = files.delete(&old.key).await;
        }
        self.inner.cache.invalidate();
        Ok(asset)
    }
}

/// The longest wait for the next chunk of an asset upload.
const UPLOAD_STALL: std::time::Duration = std::time::Duration::from_secs(30);
/// Uploads may start slowly; after this the average rate must reach [`MIN_UPLOAD_BYTES_PER_SEC`].
const UPLOAD_GRACE: std::time::Duration = std::time::Duration::from_secs(30);
/// The slowest average transfer an asset upload may keep (8 KiB/s).
const MIN_UPLOAD_BYTES_PER_SEC: f64 = 8.0 * 1024.0;

fn too_slow() -> Error {
    Error::BadRequest {
        code: "upload_too_slow",
        message: "the upload stalled or is slower than 8 KiB/s; try again on a better connection".into(),
    }
}

/// Removes a temporary upload file when dropped.
struct TempFileGuard(std::path::PathBuf);

impl Drop for TempFileGuard {
    fn drop(&mut self) {
        if let Err(err) = std::fs::remove_file(&self.0)
            && err.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(error = %err, path = %self.0.display(), "could not remove a temporary upload");
        }
    }
}

fn too_many_images() -> Error {
    Error::conflict(
        "too_many_images",
        format!("a product may have at most {MAX_IMAGES_PER_PRODUCT} images"),
    )
}

#[cfg(test)]
mod tests {
    use super::sanitize_filename;

    #[test]
    fn file_names_are_made_safe() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_filename("C:\\Users\\me\\Sunset (final).zip"), "Sunset (final).zip");
        assert_eq!(sanitize_filename("ünïcode\r\n\".pdf"), "_n_code___.pdf");
        assert_eq!(sanitize_filename(".."), "download");
    }
}
