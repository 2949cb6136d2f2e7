//! The studio's file uploads: images of a work and the download file of a digital work. The
//! forms post `multipart/form-data` straight here with the session's CSRF token in the query
//! string, so the token and the artist's ownership of the work are checked before one byte of the
//! body is read. Images are read whole (at most 10 MiB, a few at a time); download files stream
//! to storage up to `MAX_ASSET_BYTES`.

use axum::extract::multipart::MultipartError;
use axum::extract::{Multipart, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use kalavpp_core::Error;
use kalavpp_core::domain::ProductKind;

use super::done;
use super::works::{own_work_for_upload, work_path};
use crate::app::AppState;
use crate::storefront::session::{Shopper, csrf_refused};
use crate::storefront::{ShopError, ShopResult, error_page};
use crate::web::query_map;

fn multipart_refusal(err: &MultipartError) -> Response {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        error_page(
            StatusCode::PAYLOAD_TOO_LARGE,
            "That file is larger than the studio accepts.",
            vec![],
        )
    } else {
        error_page(
            StatusCode::BAD_REQUEST,
            "The upload could not be read. Choose the file again and send the form once more.",
            vec![],
        )
    }
}

/// How many form fields before `file` an upload may send.
const MAX_FIELDS: usize = 8;
/// How long the studio waits for the next part of an upload's form (the file's own bytes are
/// guarded by the core's minimum transfer rate).
const FIELD_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The next part of the form; `Err(None)` when the client sent nothing for [`FIELD_WAIT`].
async fn next_field(multipart: &mut Multipart) -> Result<Option<axum::extract::multipart::Field<'_>>, Option<MultipartError>> {
    match tokio::time::timeout(FIELD_WAIT, multipart.next_field()).await {
        Ok(result) => result.map_err(Some),
        Err(_) => Err(None),
    }
}

fn stalled() -> Response {
    error_page(
        StatusCode::REQUEST_TIMEOUT,
        "The upload stopped arriving. Check your connection and send the form again.",
        vec![],
    )
}

fn not_multipart() -> ShopError {
    Error::BadRequest {
        code: "not_multipart",
        message: "send the form as multipart/form-data with a file".into(),
    }
    .into()
}

fn no_file() -> ShopError {
    Error::invalid("file", "choose a file to upload").into()
}

/// The `403` page when the query string lacks this session's CSRF token.
fn csrf_refusal(state: &AppState, shopper: &Shopper, raw: Option<&str>) -> Option<Response> {
    let valid = query_map(raw).is_ok_and(|query| shopper.csrf_valid(state, query.get("csrf")));
    (!valid).then(csrf_refused)
}

/// `POST /studio/works/{id}/images?csrf=`: field `file`.
pub async fn image(
    State(state): State<AppState>,
    shopper: Shopper,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ShopResult {
    if let Some(page) = csrf_refusal(&state, &shopper, raw.as_deref()) {
        return Ok(page);
    }
    let (id, _) = own_work_for_upload(&state, &shopper.actor, &id).await?;
    state.market.media().may_upload(&shopper.actor, id).await?;
    let Ok(mut multipart) = multipart else {
        return Err(not_multipart());
    };
    for _ in 0..MAX_FIELDS {
        match next_field(&mut multipart).await {
            Ok(Some(field)) if field.name() == Some("file") => {
                let bytes = match field.bytes().await {
                    Ok(bytes) => bytes,
                    Err(err) => return Ok(multipart_refusal(&err)),
                };
                if bytes.is_empty() {
                    return Err(no_file());
                }
                state.market.media().add_image(&shopper.actor, id, bytes).await?;
                return Ok(done(&work_path(id), "image-added"));
            }
            Ok(Some(_)) => {}
            Ok(None) => return Err(no_file()),
            Err(Some(err)) => return Ok(multipart_refusal(&err)),
            Err(None) => return Ok(stalled()),
        }
    }
    Err(no_file())
}

/// `POST /studio/works/{id}/file?csrf=`: field `file`, streamed to storage.
pub async fn file(
    State(state): State<AppState>,
    shopper: Shopper,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ShopResult {
    if let Some(page) = csrf_refusal(&state, &shopper, raw.as_deref()) {
        return Ok(page);
    }
    let (id, kind) = own_work_for_upload(&state, &shopper.actor, &id).await?;
    if kind != ProductKind::Digital {
        return Err(Error::conflict("not_digital", "only digital works have a download file").into());
    }
    state.market.media().may_upload(&shopper.actor, id).await?;
    let Ok(mut multipart) = multipart else {
        return Err(not_multipart());
    };
    let max = state.market.config().max_asset_bytes;
    for _ in 0..MAX_FIELDS {
        match next_field(&mut multipart).await {
            Ok(Some(field)) if field.name() == Some("file") => {
                let filename = field.file_name().unwrap_or("download").to_owned();
                if filename.is_empty() {
                    return Err(no_file());
                }
                state.market.media().upload_asset(&shopper.actor, id, &filename, field, max).await?;
                return Ok(done(&work_path(id), "file-uploaded"));
            }
            Ok(Some(_)) => {}
            Ok(None) => return Err(no_file()),
            Err(Some(err)) => return Ok(multipart_refusal(&err)),
            Err(None) => return Ok(stalled()),
        }
    }
    Err(no_file())
}
