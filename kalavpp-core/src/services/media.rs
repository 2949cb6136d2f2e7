//! Product images (decoded, re-encoded, thumbnailed) and digital assets (streamed, hashed).

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tracing::instrument;

use crate::auth::Actor;
use crate::domain::{ImageId, ProductId, ProductKind, now};
use crate::error::{Error, Result};
use crate::files::images::{ImageError, process_image_blocking};
use crate::files::new_key;
use crate::marketplace::Inner;
use crate::storage::{Product, ProductAsset, ProductImage, StoreError};

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
        let processed = process_image_blocking(bytes).await.map_err(|e| match e {
            ImageError::UnsupportedFormat => Error::UnsupportedMedia {
                code: "unsupported_image_type",
                message: "the file is not a JPEG, PNG or WebP image".into(),
            },
            ImageError::TooManyPixels { width, height } => Error::invalid(
                "file",
                format!("the image is {width}×{height} pixels; at most 40 megapixels are accepted"),
            ),
            ImageError::Corrupt(_) => Error::invalid("file", "the image could not be decoded"),
        })?;
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
                    StoreError::Conflict(_) => too_many_images(),
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
                Some(admin),
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
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        let outcome: Result<()> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| Error::invalid("file", format!("the upload was interrupted: {e}")))?;
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
        if let Err(err) = outcome {
            let _ = tokio::fs::remove_file(&temp_path).await;
            return Err(err);
        }
        let key = new_key("assets", "bin");
        let stored = files.put_file(&key, &temp_path).await.map_err(files_error);
        let _ = tokio::fs::remove_file(&temp_path).await;
        stored?;
        let asset = ProductAsset {
            product_id,
            filename: sanitize_filename(filename),
            key,
            size_bytes: i64::try_from(size).unwrap_or(i64::MAX),
            sha256: hex::encode(hasher.finalize()),
            created_at: now(),
        };
        let replaced = self.inner.store.set_product_asset(asset.clone()).await?;
        if let Some(old) = replaced {
            let _ = files.delete(&old.key).await;
        }
        self.inner.cache.invalidate();
        Ok(asset)
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
