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
mod tests {
    use image::codecs::webp::WebPEncoder;
    use image::{Rgb, RgbImage, Rgba, RgbaImage};

    use super::*;

    fn rgba(width: u32, height: u32) -> RgbaImage {
        RgbaImage::from_fn(width, height, |x, y| {
            Rgba([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8, (x % 200) as u8 + 55])
        })
    }

    fn rgb(width: u32, height: u32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 256) as u8]))
    }

    fn png_rgba(width: u32, height: u32) -> Vec<u8> {
        let image = rgba(width, height);
        let mut out = Vec::new();
        PngEncoder::new(&mut out)
            .write_image(image.as_raw(), width, height, image::ExtendedColorType::Rgba8)
            .unwrap();
        out
    }

    fn png_rgb(width: u32, height: u32) -> Vec<u8> {
        let image = rgb(width, height);
        let mut out = Vec::new();
        PngEncoder::new(&mut out)
            .write_image(image.as_raw(), width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let image = rgb(width, height);
        let mut out = Vec::new();
        JpegEncoder::new_with_quality(&mut out, 90)
            .write_image(image.as_raw(), width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    fn webp_lossless(width: u32, height: u32) -> Vec<u8> {
        let image = rgb(width, height);
        let mut out = Vec::new();
        WebPEncoder::new_lossless(&mut out)
            .write_image(image.as_raw(), width, height, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    /// Decodes `bytes` again (format from content) and checks format and dimensions.
    fn assert_decodes(bytes: &[u8], format: ImageFormat, width: u32, height: u32) {
        let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().unwrap();
        assert_eq!(reader.format(), Some(format));
        let image = reader.decode().unwrap();
        assert_eq!((image.width(), image.height()), (width, height));
    }

    fn assert_thumb(processed: &ProcessedImage) {
        let (w, h, tw, th) = (processed.width, processed.height, processed.thumb_width, processed.thumb_height);
        assert!(tw <= THUMB_EDGE && th <= THUMB_EDGE, "thumb {tw}×{th}");
        assert!(tw <= w && th <= h, "thumb {tw}×{th} upscaled from {w}×{h}");
        assert!(tw == THUMB_EDGE || th == THUMB_EDGE || (tw, th) == (w, h));
        let (aspect, thumb_aspect) = (f64::from(w) / f64::from(h), f64::from(tw) / f64::from(th));
        assert!(
            (aspect - thumb_aspect).abs() / aspect < 0.01,
            "aspect {aspect} became {thumb_aspect}"
        );
    }

    fn check(processed: &ProcessedImage, format: ImageFormat) {
        assert_decodes(&processed.full, format, processed.width, processed.height);
        assert_decodes(&processed.thumb, format, processed.thumb_width, processed.thumb_height);
        assert_thumb(processed);
    }

    /// A PNG chunk with its length and CRC.
    #[expect(
        clippy::trivially_copy_pass_by_ref,
        reason = "reads like the literal chunk names it is called with"
    )]
    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
        out
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    /// A PNG that declares `width`×`height` 8-bit RGB pixels but only carries a tiny IDAT.
    fn png_declaring(width: u32, height: u32) -> Vec<u8> {
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // bit depth 8, RGB, deflate, adaptive, no interlace
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", &ihdr));
        // zlib stream of a few zero bytes; a real bomb would carry megabytes of them.
        png.extend(chunk(b"IDAT", &[0x78, 0x9c, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01]));
        png.extend(chunk(b"IEND", &[]));
        png
    }

    #[test]
    fn crc32_matches_the_reference() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn png_with_alpha_stays_png() {
        let processed = process_image(&png_rgba(800, 600)).unwrap();
        assert_eq!((processed.width, processed.height), (800, 600));
        assert_eq!((processed.thumb_width, processed.thumb_height), (400, 300));
        assert_eq!((processed.extension, processed.content_type), ("png", "image/png"));
        check(&processed, ImageFormat::Png);
        let decoded = image::load_from_memory(&processed.full).unwrap();
        assert!(decoded.color().has_alpha());
        assert_eq!(decoded.to_rgba8(), rgba(800, 600), "PNG re-encoding is lossless");
    }

    #[test]
    fn png_without_alpha_becomes_jpeg() {
        let processed = process_image(&png_rgb(300, 900)).unwrap();
        assert_eq!((processed.extension, processed.content_type), ("jpg", "image/jpeg"));
        assert_eq!((processed.thumb_width, processed.thumb_height), (133, 400));
        check(&processed, ImageFormat::Jpeg);
    }

    #[test]
    fn jpeg_is_accepted() {
        let processed = process_image(&jpeg(1000, 500)).unwrap();
        assert_eq!((processed.width, processed.height), (1000, 500));
        assert_eq!((processed.thumb_width, processed.thumb_height), (400, 200));
        assert_eq!((processed.extension, processed.content_type), ("jpg", "image/jpeg"));
        check(&processed, ImageFormat::Jpeg);
    }

    #[test]
    fn webp_is_accepted_and_small_images_are_not_upscaled() {
        let processed = process_image(&webp_lossless(300, 200)).unwrap();
        assert_eq!((processed.width, processed.height), (300, 200));
        assert_eq!((processed.thumb_width, processed.thumb_height), (300, 200));
        assert_eq!(processed.extension, "jpg");
        check(&processed, ImageFormat::Jpeg);
    }

    #[test]
    fn extreme_aspect_ratio_keeps_a_thumbnail_pixel() {
        let processed = process_image(&png_rgb(4000, 3)).unwrap();
        assert_eq!((processed.thumb_width, processed.thumb_height), (400, 1));
        assert_decodes(&processed.thumb, ImageFormat::Jpeg, 400, 1);
    }

    /// A big-endian EXIF (TIFF) block: orientation 6 (rotate 90° clockwise) and a description.
    fn exif_rotate_90() -> Vec<u8> {
        let mut exif = b"MM\0\x2a\0\0\0\x08".to_vec();
        exif.extend_from_slice(&2u16.to_be_bytes());
        // ImageDescription, ASCII, 11 bytes at offset 38 (after this two-entry IFD).
        exif.extend_from_slice(&[0x01, 0x0E, 0, 2, 0, 0, 0, 11, 0, 0, 0, 38]);
        // Orientation, SHORT, 1 value: 6.
        exif.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
        exif.extend_from_slice(&[0, 0, 0, 0]);
        exif.extend_from_slice(b"SECRET-GPS\0");
        exif
    }

    #[test]
    fn exif_orientation_is_applied_and_exif_dropped() {
        let image = rgb(100, 50);
        let mut bytes = Vec::new();
        let mut encoder = JpegEncoder::new_with_quality(&mut bytes, 90);
        encoder.set_exif_metadata(exif_rotate_90()).unwrap();
        encoder
            .write_image(image.as_raw(), 100, 50, image::ExtendedColorType::Rgb8)
            .unwrap();
        assert!(bytes.windows(10).any(|w| w == b"SECRET-GPS"));

        let processed = process_image(&bytes).unwrap();
        assert_eq!((processed.width, processed.height), (50, 100));
        check(&processed, ImageFormat::Jpeg);
        for output in [&processed.full, &processed.thumb] {
            assert!(!output.windows(10).any(|w| w == b"SECRET-GPS"));
            assert!(!output.windows(4).any(|w| w == b"Exif"));
        }
    }

    #[test]
    fn trailing_data_and_metadata_are_dropped() {
        let mut bytes = jpeg(64, 64);
        bytes.extend_from_slice(b"<?php system($_GET['c']); ?>");
        let processed = process_image(&bytes).unwrap();
        assert!(!processed.full.windows(5).any(|w| w == b"<?php"));
    }

    #[test]
    fn scripts_are_refused_whatever_their_name() {
        for bytes in [
            &b"<?php echo 1; ?>"[..],
            b"<script>alert(1)</script>",
            b"#!/bin/sh\nrm -rf /\n",
            b"",
            b"\x89PN",
        ] {
            assert_eq!(process_image(bytes), Err(ImageError::UnsupportedFormat), "{bytes:?}");
        }
    }

    #[test]
    fn other_image_formats_are_refused() {
        let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
        assert_eq!(process_image(gif), Err(ImageError::UnsupportedFormat));
        let bmp = b"BM\x3a\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x00\x01\x00\x18\x00";
        assert_eq!(process_image(bmp), Err(ImageError::UnsupportedFormat));
        assert_eq!(
            process_image(b"II*\x00\x08\x00\x00\x00"),
            Err(ImageError::UnsupportedFormat),
            "TIFF"
        );
        assert_eq!(
            process_image(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"),
            Err(ImageError::UnsupportedFormat)
        );
    }

    #[test]
    fn truncated_images_are_corrupt() {
        let png = png_rgba(200, 200);
        for len in [png.len() / 2, 40, 20, 9] {
            assert!(
                matches!(process_image(&png[..len]), Err(ImageError::Corrupt(_))),
                "PNG cut at {len}"
            );
        }
        let jpeg = jpeg(200, 200);
        assert!(
            matches!(process_image(&jpeg[..20]), Err(ImageError::Corrupt(_))),
            "JPEG cut in its header"
        );
        // The JPEG decoder, like browsers, fills in a scan cut short: still a valid, re-encoded image.
        let cut = process_image(&jpeg[..jpeg.len() / 3]).unwrap();
        assert_decodes(&cut.full, ImageFormat::Jpeg, 200, 200);
        let webp = webp_lossless(200, 200);
        assert!(matches!(process_image(&webp[..webp.len() / 2]), Err(ImageError::Corrupt(_))));
    }

    #[test]
    fn decompression_bombs_are_refused_before_decoding() {
        assert_eq!(
            process_image(&png_declaring(100_000, 100_000)),
            Err(ImageError::TooManyPixels {
                width: 100_000,
                height: 100_000
            })
        );
        // Under MAX_EDGE on both sides, but over MAX_PIXELS.
        assert_eq!(
            process_image(&png_declaring(7_000, 7_000)),
            Err(ImageError::TooManyPixels {
                width: 7_000,
                height: 7_000
            })
        );
        // Few pixels, but an edge over MAX_EDGE.
        assert_eq!(
            process_image(&png_declaring(30_000, 10)),
            Err(ImageError::TooManyPixels { width: 30_000, height: 10 })
        );
        // Within limits: decoding starts and finds the pixel data missing.
        assert!(matches!(process_image(&png_declaring(1_000, 1_000)), Err(ImageError::Corrupt(_))));
        assert!(matches!(process_image(&png_declaring(0, 10)), Err(ImageError::Corrupt(_))));
    }

    #[tokio::test]
    async fn blocking_wrapper() {
        let gate = super::super::gate::ImageGate::new(1, 80);
        let permit = gate.enter(500, 500).await;
        let processed = process_image_blocking(bytes::Bytes::from(jpeg(500, 500)), permit).await.unwrap();
        assert_eq!((processed.thumb_width, processed.thumb_height), (400, 400));
        assert_eq!(gate.free_decodes(), 1, "the permit ends with the decode");
        let permit = gate.enter(1, 1).await;
        assert_eq!(
            process_image_blocking(bytes::Bytes::from_static(b"<script>"), permit).await,
            Err(ImageError::UnsupportedFormat)
        );
    }
}
