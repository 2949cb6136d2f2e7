//! Where uploads are kept: local disk, or S3 when `AWS_S3_BUCKET` is set.

use kalavpp_core::config::{FileStorage, S3Config, Secret};

/// `AWS_S3_BUCKET` and its companions: S3 storage for uploads when the bucket is set.
pub(super) fn file_storage_settings(problems: &mut Vec<String>, get: &impl Fn(&str) -> Option<String>) -> FileStorage {
    let Some(bucket) = get("AWS_S3_BUCKET") else {
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"] {
            if get(name).is_some() {
                problems.push(format!("{name}: is set but AWS_S3_BUCKET is not (files would stay on local disk)"));
            }
        }
        return FileStorage::Local;
    };
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket.bytes().all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-'))
        && bucket.as_bytes()[0].is_ascii_alphanumeric()
        && bucket.as_bytes()[bucket.len() - 1].is_ascii_alphanumeric();
    if !valid_bucket {
        problems.push("AWS_S3_BUCKET: must be an S3 bucket name (3–63 lowercase letters, digits, dots or hyphens)".into());
    }
    let region = get("AWS_REGION").unwrap_or_else(|| "us-east-1".into());
    if !region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        problems.push("AWS_REGION: must be a region name such as eu-west-1".into());
    }
    let (access_key_id, secret_access_key) = (get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"));
    if access_key_id.is_some() != secret_access_key.is_some() {
        problems.push("AWS_ACCESS_KEY_ID: and AWS_SECRET_ACCESS_KEY must be set together (or neither, to use the instance's role)".into());
    }
    let endpoint = get("AWS_ENDPOINT_URL").map(|e| e.trim_end_matches('/').to_owned());
    if endpoint
        .as_deref()
        .is_some_and(|e| !(e.starts_with("http://") || e.starts_with("https://")) || e.len() < "http://x".len())
    {
        problems.push("AWS_ENDPOINT_URL: must be an http:// or https:// URL".into());
    }
    FileStorage::S3(S3Config {
        bucket,
        region,
        access_key_id,
        secret_access_key: secret_access_key.map(Secret::new),
        endpoint,
    })
}
