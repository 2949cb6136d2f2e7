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

fn no_file() -> ShopError {
    Error::invalid("file", "choose a file to upload").into()
}

/// Checks the CSRF token of the query string; `Err` holds the `403` page.
fn check_csrf(state: &AppState, shopper: &Shopper, raw: Option<&str>) -> Result<(), Response> {
    let query = query_map(raw).map_err(|_| csrf_refused())?;
    if shopper.csrf_valid(state, query.get("csrf")) {
        Ok(())
    } else {
        Err(csrf_refused())
    }
}

/// `POST /studio/works/{id}/images?csrf=`: field `file`.
pub async fn image(
    State(state): State<AppState>,
    shopper: Shopper,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ShopResult {
    if let Err(page) = check_csrf(&state, &shopper, raw.as_deref()) {
        return Ok(page);
    }
    let id = own_work_for_upload(&state, &shopper.actor, &id).await?;
    state.market.media().may_upload(&shopper.actor, id).await?;
    let Ok(mut multipart) = multipart else {
        return Err(Error::invalid("file", "send the form as multipart/form-data with a file").into());
    };
    loop {
        match multipart.next_field().await {
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
            Err(err) => return Ok(multipart_refusal(&err)),
        }
    }
}

/// `POST /studio/works/{id}/file?csrf=`: field `file`, streamed to storage.
pub async fn file(
    State(state): State<AppState>,
    shopper: Shopper,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ShopResult {
    if let Err(page) = check_csrf(&state, &shopper, raw.as_deref()) {
        return Ok(page);
    }
    let id = own_work_for_upload(&state, &shopper.actor, &id).await?;
    state.market.media().may_upload(&shopper.actor, id).await?;
    let Ok(mut multipart) = multipart else {
        return Err(Error::invalid("file", "send the form as multipart/form-data with a file").into());
    };
    let max = state.market.config().max_asset_bytes;
    loop {
        match multipart.next_field().await {
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
            Err(err) => return Ok(multipart_refusal(&err)),
        }
    }
}
