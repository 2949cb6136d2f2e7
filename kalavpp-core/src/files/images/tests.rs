//! Unit tests of the image checks with the `images` feature: formats by their bytes, metadata
//! dropped, orientation applied, truncated images and decompression bombs refused.

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
