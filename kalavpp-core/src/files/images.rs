//! Checking and re-encoding uploaded images.
//!
//! The format is decided by the bytes alone (never the file name or `Content-Type`); only JPEG,
//! PNG and WebP are accepted. The dimensions are read from the header and checked before any
//! pixel is decoded, so a small file declaring a huge image (a pixel flood / decompression bomb)
//! is refused without allocating. Accepted images are decoded under [`image::Limits`] and
//! re-encoded, which drops every metadata chunk (EXIF with GPS, XMP, comments, trailing data):
//! images with an alpha channel become PNG, all others JPEG. The EXIF orientation is applied to
//! the pixels first, and an embedded ICC colour profile is kept so colours stay right.
//!
//! The decoding needs the cargo feature `images` (the `image` crate). Without it the types and
//! limits stay, and every image is refused with [`ImageError::NotSupported`], which the media
//! service reports as `415 Unsupported Media Type` (code `image_support_disabled`): nothing is
//! ever stored unchecked.

#[cfg(feature = "images")]
use std::io::Cursor;

#[cfg(feature = "images")]
use image::codecs::jpeg::JpegEncoder;
#[cfg(feature = "images")]
use image::codecs::png::PngEncoder;
#[cfg(feature = "images")]
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader, Limits};

/// Largest accepted image, in pixels (width × height).
pub const MAX_PIXELS: u64 = 40_000_000;

/// Longest accepted image edge, in pixels.
pub const MAX_EDGE: u32 = 20_000;

/// Thumbnails fit in a square of this many pixels per edge.
pub const THUMB_EDGE: u32 = 400;

/// Most memory the decoder may allocate for one image.
#[cfg(feature = "images")]
const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;

/// JPEG quality of re-encoded images and thumbnails.
#[cfg(feature = "images")]
const JPEG_QUALITY: u8 = 85;

/// An accepted image, re-encoded, and its thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessedImage {
    /// The re-encoded full-size image.
    pub full: Vec<u8>,
    /// The re-encoded thumbnail, fitting in [`THUMB_EDGE`] × [`THUMB_EDGE`].
    pub thumb: Vec<u8>,
    /// Width of `full`, in pixels (after applying the EXIF orientation).
    pub width: u32,
    /// Height of `full`, in pixels (after applying the EXIF orientation).
    pub height: u32,
    /// Width of `thumb`, in pixels.
    pub thumb_width: u32,
    /// Height of `thumb`, in pixels.
    pub thumb_height: u32,
    /// File extension of both `full` and `thumb`: `"png"` or `"jpg"`.
    pub extension: &'static str,
    /// Content type of both `full` and `thumb`: `"image/png"` or `"image/jpeg"`.
    pub content_type: &'static str,
}

/// Why an upload is not an acceptable image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// The bytes are not a JPEG, PNG or WebP image, whatever the name or `Content-Type` says.
    #[error("only JPEG, PNG and WebP images are accepted")]
    UnsupportedFormat,
    /// The image has more than [`MAX_PIXELS`] pixels or an edge longer than [`MAX_EDGE`].
    #[error("image is too large ({width}×{height} pixels)")]
    TooManyPixels {
        /// Declared width, in pixels.
        width: u32,
        /// Declared height, in pixels.
        height: u32,
    },
    /// The image could not be decoded (truncated, damaged, or declaring zero pixels).
    #[error("image could not be read: {0}")]
    Corrupt(String),
    /// This build cannot decode images (kalavpp-core without the cargo feature `images`).
    #[error("this build cannot process images; enable the `images` feature of kalavpp-core")]
    NotSupported,
}

/// Checks `bytes` and re-encodes them into a [`ProcessedImage`] (full image and thumbnail).
///
/// CPU-heavy and synchronous, and decoding may use up to a few hundred MiB for the largest images:
/// run it on the blocking pool ([`process_image_blocking`]) and bound how many run at once.
#[cfg(feature = "images")]
pub fn process_image(bytes: &[u8]) -> Result<ProcessedImage, ImageError> {
    let format = guess_format(bytes)?;

    // Dimensions first, from the header only: refuse pixel floods before decoding anything.
    // No edge limits on this probe: the decoder would refuse without saying the size.
    let mut probe = ImageReader::with_format(Cursor::new(bytes), format);
    probe.limits(Limits::default());
    let (width, height) = probe.into_dimensions().map_err(|e| from_decode_error(e, None))?;
    check_dimensions(width, height)?;

    let mut decoder = reader(bytes, format)
        .into_decoder()
        .map_err(|e| from_decode_error(e, Some((width, height))))?;
    let orientation = decoder.orientation().ok();
    let icc_profile = decoder.icc_profile().ok().flatten();
    let mut budget = limits();
    budget
        .reserve(decoder.total_bytes())
        .map_err(|e| from_decode_error(e, Some((width, height))))?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| from_decode_error(e, Some((width, height))))?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }

    let alpha = image.color().has_alpha();
    let full = encode(&image, alpha, icc_profile.as_deref())?;
    // `thumbnail` averages source pixels (good for downscaling); small images are never upscaled.
    let (thumb, thumb_width, thumb_height) = if image.width() <= THUMB_EDGE && image.height() <= THUMB_EDGE {
        (full.clone(), image.width(), image.height())
    } else {
        let small = image.thumbnail(THUMB_EDGE, THUMB_EDGE);
        (encode(&small, alpha, icc_profile.as_deref())?, small.width(), small.height())
    };
    let (extension, content_type) = if alpha { ("png", "image/png") } else { ("jpg", "image/jpeg") };
    Ok(ProcessedImage {
        full,
        thumb,
        width: image.width(),
        height: image.height(),
        thumb_width,
        thumb_height,
        extension,
        content_type,
    })
}

/// The width and height of an image, read from its header only (nothing is decoded); refuses
/// unsupported formats and pixel floods like [`process_image`].
#[cfg(feature = "images")]
pub fn probe_dimensions(bytes: &[u8]) -> Result<(u32, u32), ImageError> {
    let format = guess_format(bytes)?;
    let mut probe = ImageReader::with_format(Cursor::new(bytes), format);
    probe.limits(Limits::default());
    let (width, height) = probe.into_dimensions().map_err(|e| from_decode_error(e, None))?;
    check_dimensions(width, height)?;
    Ok((width, height))
}

/// [`process_image`] on tokio's blocking pool.
///
/// `permit` (from the decode gate) is held by the blocking task itself, so a request that is
/// cancelled mid-decode keeps its place in the gate until the decode really ends.
#[cfg(feature = "images")]
pub async fn process_image_blocking(bytes: bytes::Bytes, permit: super::gate::DecodePermit) -> Result<ProcessedImage, ImageError> {
    match tokio::task::spawn_blocking(move || {
        let _permit = permit;
        process_image(&bytes)
    })
    .await
    {
        Ok(result) => result,
        Err(e) => {
            // A decoder panic on hostile input: the upload is refused, the server goes on.
            tracing::error!(error = %e, "image processing task failed");
            Err(ImageError::Corrupt("image processing failed".into()))
        }
    }
}

#[cfg(feature = "images")]
fn guess_format(bytes: &[u8]) -> Result<ImageFormat, ImageError> {
    let guessed = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| ImageError::Corrupt(e.to_string()))?
        .format();
    match guessed {
        Some(format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => Ok(format),
        _ => Err(ImageError::UnsupportedFormat),
    }
}

#[cfg(feature = "images")]
fn limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_EDGE);
    limits.max_image_height = Some(MAX_EDGE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    limits
}

#[cfg(feature = "images")]
fn reader(bytes: &[u8], format: ImageFormat) -> ImageReader<Cursor<&[u8]>> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits());
    reader
}

#[cfg(feature = "images")]
fn check_dimensions(width: u32, height: u32) -> Result<(), ImageError> {
    if width == 0 || height == 0 {
        return Err(ImageError::Corrupt(format!("image declares {width}×{height} pixels")));
    }
    if u64::from(width) * u64::from(height) > MAX_PIXELS || width > MAX_EDGE || height > MAX_EDGE {
        return Err(ImageError::TooManyPixels { width, height });
    }
    Ok(())
}

/// Maps a decoding failure; `dimensions` are the declared ones, when already known.
#[cfg(feature = "images")]
fn from_decode_error(error: image::ImageError, dimensions: Option<(u32, u32)>) -> ImageError {
    match error {
        image::ImageError::Limits(_) => match dimensions {
            Some((width, height)) => ImageError::TooManyPixels { width, height },
            None => ImageError::Corrupt(format!("image exceeds decoding limits: {error}")),
        },
        image::ImageError::Unsupported(_) => ImageError::UnsupportedFormat,
        other => ImageError::Corrupt(other.to_string()),
    }
}

/// Encodes `image` as PNG (RGBA8) when `alpha`, else as JPEG (RGB8, quality 85).
#[cfg(feature = "images")]
fn encode(image: &DynamicImage, alpha: bool, icc_profile: Option<&[u8]>) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    let result = if alpha {
        let rgba = image.to_rgba8();
        let mut encoder = PngEncoder::new(&mut out);
        if let Some(icc) = icc_profile {
            let _ = encoder.set_icc_profile(icc.to_vec());
        }
        encoder.write_image(rgba.as_raw(), rgba.width(), rgba.height(), image::ExtendedColorType::Rgba8)
    } else {
        let rgb = image.to_rgb8();
        let mut encoder = JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY);
        if let Some(icc) = icc_profile {
            let _ = encoder.set_icc_profile(icc.to_vec());
        }
        encoder.write_image(rgb.as_raw(), rgb.width(), rgb.height(), image::ExtendedColorType::Rgb8)
    };
    result.map_err(|e| ImageError::Corrupt(format!("re-encoding failed: {e}")))?;
    Ok(out)
}

/// Without the `images` feature: refuses every image (see the module documentation).
#[cfg(not(feature = "images"))]
pub fn process_image(_bytes: &[u8]) -> Result<ProcessedImage, ImageError> {
    Err(ImageError::NotSupported)
}

/// Without the `images` feature: refuses every image (see the module documentation).
#[cfg(not(feature = "images"))]
pub fn probe_dimensions(_bytes: &[u8]) -> Result<(u32, u32), ImageError> {
    Err(ImageError::NotSupported)
}

/// Without the `images` feature: refuses every image (see the module documentation).
#[cfg(not(feature = "images"))]
pub async fn process_image_blocking(_bytes: bytes::Bytes, _permit: super::gate::DecodePermit) -> Result<ProcessedImage, ImageError> {
    Err(ImageError::NotSupported)
}

#[cfg(all(test, not(feature = "images")))]
mod disabled_tests {
    use super::*;

    #[test]
    fn every_image_is_refused_without_the_feature() {
        // A PNG signature and header: a real image, still refused.
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
        assert_eq!(probe_dimensions(png), Err(ImageError::NotSupported));
        assert_eq!(process_image(png), Err(ImageError::NotSupported));
        assert!(ImageError::NotSupported.to_string().contains("`images` feature"));
    }
}

#[cfg(all(test, feature = "images"))]
mod tests;
