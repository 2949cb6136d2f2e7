//! Serving a stored file that has no local path (an S3 bucket): `HEAD`, one `Range`,
//! `ETag` / `If-None-Match` and `Last-Modified`, with the body streamed from the store.
//!
//! Files in a local store are served by `tower_http`'s `ServeFile` instead (see
//! [`serve_stored`]); both answer the same way to the requests clients make.

use std::ops::Range;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kalavpp_core::files::{FileError, FileStore};
use tower::ServiceExt;
use tower_http::services::ServeFile;

/// What serving a stored file came to.
pub enum Served {
    /// The response to send (200, 206, 304, 416 or a `HEAD` answer).
    Response(Response),
    /// No file is stored under the key.
    Missing,
}

/// Serves the file under `key` for `request` from whichever store `files` is; `content_type`
/// replaces a guessed type when given.
///
/// # Panics
/// Never: the header values it builds are digits.
pub async fn serve_stored(
    files: &Arc<dyn FileStore>,
    key: &str,
    request: Request,
    content_type: Option<HeaderValue>,
) -> Result<Served, FileError> {
    if let Some(local) = files.local_path(key) {
        // Directories (e.g. `/media/products`) are not files to serve.
        if !tokio::fs::metadata(&local).await.is_ok_and(|m| m.is_file()) {
            return Ok(Served::Missing);
        }
        let response = match ServeFile::new(local).oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(Served::Missing);
        }
        let mut response = response.into_response();
        if let Some(content_type) = content_type {
            response.headers_mut().insert(header::CONTENT_TYPE, content_type);
        }
        return Ok(Served::Response(response));
    }
    let Some(meta) = files.meta(key).await? else {
        return Ok(Served::Missing);
    };
    let content_type = content_type.unwrap_or_else(|| guess_content_type(key));
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(header::CONTENT_TYPE, content_type);
    let etag = meta.e_tag.as_deref().and_then(|tag| HeaderValue::from_str(&quoted(tag)).ok());
    if let Some(etag) = &etag {
        headers.insert(header::ETAG, etag.clone());
    }
    if let Some(modified) = meta.last_modified {
        let date = modified.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        if let Ok(value) = HeaderValue::from_str(&date) {
            headers.insert(header::LAST_MODIFIED, value);
        }
    }
    if etag.as_ref().is_some_and(|etag| none_match(request.headers(), etag)) {
        return Ok(Served::Response((StatusCode::NOT_MODIFIED, headers).into_response()));
    }
    let range = if if_range_allows(request.headers(), etag.as_ref()) {
        requested_range(request.headers().get(header::RANGE).and_then(|v| v.to_str().ok()), meta.size)
    } else {
        Ask::Whole
    };
    let (status, range) = match range {
        Ask::Whole => (StatusCode::OK, 0..meta.size),
        Ask::Part(range) => {
            let value = format!("bytes {}-{}/{}", range.start, range.end - 1, meta.size);
            headers.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&value).expect("digits are a header value"),
            );
            (StatusCode::PARTIAL_CONTENT, range)
        }
        Ask::Unsatisfiable => {
            let value = format!("bytes */{}", meta.size);
            headers.insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&value).expect("digits are a header value"),
            );
            return Ok(Served::Response((StatusCode::RANGE_NOT_SATISFIABLE, headers).into_response()));
        }
    };
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(range.end - range.start));
    if request.method() == Method::HEAD || range.is_empty() {
        return Ok(Served::Response((status, headers).into_response()));
    }
    let stream = files.read_range(key, range).await?;
    Ok(Served::Response((status, headers, Body::from_stream(stream)).into_response()))
}

fn quoted(tag: &str) -> String {
    if tag.starts_with('"') || tag.starts_with("W/") {
        tag.to_owned()
    } else {
        format!("\"{tag}\"")
    }
}

/// Whether `If-None-Match` names `etag` (or `*`).
fn none_match(headers: &HeaderMap, etag: &HeaderValue) -> bool {
    let Some(value) = headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let ours = etag.to_str().unwrap_or_default().trim_start_matches("W/");
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == ours)
}

/// Whether a `Range` may be honoured: no `If-Range`, or one naming the current `etag`.
fn if_range_allows(headers: &HeaderMap, etag: Option<&HeaderValue>) -> bool {
    match headers.get(header::IF_RANGE) {
        None => true,
        Some(value) => etag.is_some_and(|etag| etag == value),
    }
}

/// What a `Range` header asks of a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Ask {
    /// No range, an unparsable one, or several (the whole file is sent, as RFC 9110 allows).
    Whole,
    /// One satisfiable range (half-open).
    Part(Range<u64>),
    /// A range beyond the end of the file.
    Unsatisfiable,
}

fn requested_range(value: Option<&str>, size: u64) -> Ask {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Ask::Whole;
    };
    if spec.contains(',') {
        return Ask::Whole;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return Ask::Whole;
    };
    let (start, end) = (start.trim(), end.trim());
    let parse = |s: &str| {
        if s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse::<u64>().ok()
        } else {
            None
        }
    };
    if start.is_empty() {
        // A suffix: the last `n` bytes.
        return match parse(end) {
            Some(0) => Ask::Unsatisfiable,
            Some(n) if size > 0 => Ask::Part(size - n.min(size)..size),
            Some(_) => Ask::Unsatisfiable,
            None => Ask::Whole,
        };
    }
    let Some(start) = parse(start) else {
        return Ask::Whole;
    };
    let end = if end.is_empty() {
        None
    } else {
        match parse(end) {
            Some(end) if end >= start => Some(end),
            _ => return Ask::Whole,
        }
    };
    if start >= size {
        return Ask::Unsatisfiable;
    }
    Ask::Part(start..end.map_or(size, |end| end.saturating_add(1).min(size)))
}

fn guess_content_type(key: &str) -> HeaderValue {
    let value = match key.rsplit('.').next() {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("webp") => "image/webp",
        _ => "application/octet-stream",
    };
    HeaderValue::from_static(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(requested_range(None, 10), Ask::Whole);
        assert_eq!(requested_range(Some("bytes=0-4"), 10), Ask::Part(0..5));
        assert_eq!(requested_range(Some("bytes=5-"), 10), Ask::Part(5..10));
        assert_eq!(requested_range(Some("bytes=5-100"), 10), Ask::Part(5..10));
        assert_eq!(requested_range(Some("bytes=-3"), 10), Ask::Part(7..10));
        assert_eq!(requested_range(Some("bytes=-30"), 10), Ask::Part(0..10));
        assert_eq!(requested_range(Some("bytes=10-"), 10), Ask::Unsatisfiable);
        assert_eq!(requested_range(Some("bytes=-0"), 10), Ask::Unsatisfiable);
        assert_eq!(requested_range(Some("bytes=0-0"), 0), Ask::Unsatisfiable);
        for ignored in ["bytes=4-2", "bytes=a-b", "bytes=0-1,3-4", "items=0-1", "bytes=+1-2", "bytes=1"] {
            assert_eq!(requested_range(Some(ignored), 10), Ask::Whole, "{ignored}");
        }
        assert_eq!(requested_range(Some("bytes=0-18446744073709551615"), 10), Ask::Part(0..10));
    }

    #[test]
    fn etags_match_strong_and_weak_forms() {
        let etag = HeaderValue::from_static("\"abc\"");
        let mut headers = HeaderMap::new();
        assert!(!none_match(&headers, &etag));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"x\", W/\"abc\""));
        assert!(none_match(&headers, &etag));
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(none_match(&headers, &etag));
        assert_eq!(quoted("abc"), "\"abc\"");
        assert_eq!(quoted("\"abc\""), "\"abc\"");
    }
}
