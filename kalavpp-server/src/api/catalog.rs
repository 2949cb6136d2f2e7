//! `/categories`, `/products` (browse, detail, create, edit, archive, images, asset) and
//! `/admin/categories`.

use axum::Json;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kalavpp_core::Error;
use kalavpp_core::auth::Actor;
use kalavpp_core::domain::{CategoryId, ImageId, ProductId};
use kalavpp_core::services::{BrowseFilters, CategoryInput, MAX_IMAGE_BYTES, ProductDraft, ProductEdit};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::catalog_dto::{AssetBody, CategoryBody, ImageBody, ProductBody};
use super::dto::ProductPage;
use crate::app::AppState;
use crate::extract::{AdminUser, ApiJson, ApiQuery, AuthUser, OptionalUser, Pagination, double_option};
use crate::http_error::{ApiError, ApiResult, Problem};
use crate::response_cache::{json_bytes, key_part, search_key_part};

/// The catalog routes (JSON bodies; the 1 MiB limit applies).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_categories))
        .routes(routes!(browse, create_product))
        .routes(routes!(product_detail, update_product, archive_product))
        .routes(routes!(delete_image))
}

/// The admin routes of this resource (`/admin/...`), mounted behind the admin gate.
pub fn admin_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_category))
        .routes(routes!(update_category, delete_category))
}

/// Upload routes with their own body limits; image uploads take one of `image_slots`.
pub fn upload_routes(max_asset_bytes: u64, image_slots: std::sync::Arc<tokio::sync::Semaphore>) -> OpenApiRouter<AppState> {
    let asset_limit = usize::try_from(max_asset_bytes).unwrap_or(usize::MAX).saturating_add(64 * 1024);
    OpenApiRouter::new()
        .routes(routes!(upload_image))
        .layer(DefaultBodyLimit::max(MAX_IMAGE_BYTES + 64 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            image_slots,
            crate::upload_limits::one_image_upload_at_a_time,
        ))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(upload_asset))
                .layer(DefaultBodyLimit::max(asset_limit)),
        )
}

/// Filters of `GET /products`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BrowseQuery {
    /// Full-text search over title, description and tags.
    pub q: Option<String>,
    /// Category id or slug (sub-categories included).
    pub category: Option<String>,
    /// Vendor id or slug.
    pub vendor: Option<String>,
    /// `physical` or `digital`.
    #[param(value_type = Option<super::enums::ProductKind>)]
    pub kind: Option<String>,
    /// Lowest price in cents.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 9_223_372_036_854_775_807i64)]
    pub min_price: Option<String>,
    /// Highest price in cents.
    #[param(value_type = Option<i64>, minimum = 0, maximum = 9_223_372_036_854_775_807i64)]
    pub max_price: Option<String>,
    /// `newest` (default), `price_asc`, `price_desc`, `rating` or `popular`.
    #[param(value_type = Option<super::enums::ProductSort>)]
    pub sort: Option<String>,
    /// 1-based page.
    #[param(value_type = Option<i64>)]
    pub page: Option<String>,
    /// Page size, at most 100.
    #[param(value_type = Option<i64>)]
    pub per_page: Option<String>,
}

/// A `multipart/form-data` upload: one file in the field `file` (other fields are not read).
#[derive(ToSchema)]
#[expect(dead_code, reason = "read only by the OpenAPI document (IntoParams), never constructed")]
pub struct UploadForm {
    /// The file's bytes.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// A new product.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProductRequest {
    /// 1 to 200 characters.
    pub title: String,
    /// 1 to 20000 characters.
    pub description: String,
    /// `physical` or `digital`.
    #[schema(value_type = super::enums::ProductKind)]
    pub kind: String,
    /// Price in cents, 1 to 100000000.
    #[serde(deserialize_with = "crate::extract::whole_number")]
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub price_cents: i64,
    /// Required for physical products; absent for digital (unlimited).
    #[serde(default, deserialize_with = "crate::extract::optional_whole_number")]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub stock: Option<i64>,
    /// Category id or slug.
    pub category_id: String,
    /// Up to 20 tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// `draft` (default) or `published`.
    #[schema(value_type = Option<super::enums::NewProductStatus>)]
    pub status: Option<String>,
}

/// A partial product update.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProductRequest {
    /// New title.
    pub title: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New kind.
    #[schema(value_type = Option<super::enums::ProductKind>)]
    pub kind: Option<String>,
    /// New price in cents.
    #[serde(default, deserialize_with = "crate::extract::optional_whole_number")]
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub price_cents: Option<i64>,
    /// New stock (physical products).
    #[serde(default, deserialize_with = "crate::extract::optional_whole_number")]
    #[schema(minimum = 0, maximum = 1_000_000)]
    pub stock: Option<i64>,
    /// New category id or slug.
    pub category_id: Option<String>,
    /// New tags.
    pub tags: Option<Vec<String>>,
    /// `draft`, `published` or `archived`.
    #[schema(value_type = Option<super::enums::ProductStatus>)]
    pub status: Option<String>,
}

/// A category to create or change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryRequest {
    /// Display name.
    pub name: Option<String>,
    /// Slug (made from the name when absent on create).
    pub slug: Option<String>,
    /// Parent category id or slug; `null` makes it top-level.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<Option<String>>,
}

fn product_id(text: &str) -> Result<ProductId, Error> {
    ProductId::parse(text).ok_or_else(|| Error::not_found("product_not_found", "product not found"))
}

fn category_id(text: &str) -> Result<CategoryId, Error> {
    CategoryId::parse(text).ok_or_else(|| Error::not_found("category_not_found", "category not found"))
}

#[utoipa::path(get, path = "/api/v1/categories", tag = "catalog", responses((status = 200, body = Vec<CategoryBody>)))]
async fn list_categories(State(state): State<AppState>) -> ApiResult<Json<Vec<CategoryBody>>> {
    let categories = state.market.catalog().categories().await?;
    Ok(Json(categories.into_iter().map(CategoryBody::from).collect()))
}

#[utoipa::path(get, path = "/api/v1/products", tag = "catalog", params(BrowseQuery),
    responses((status = 200, body = ProductPage, description = "published products of approved vendors"), (status = 422, body = Problem, description = "an invalid filter, or `min_price` greater than `max_price`")))]
async fn browse(
    State(state): State<AppState>,
    Pagination(page): Pagination,
    ApiQuery(query): ApiQuery<BrowseQuery>,
) -> ApiResult<Response> {
    // The catalog is the same for everyone: serve ready bytes when nothing changed since.
    let generation = state.market.catalog_cache().generation();
    // The key holds the parsed filters and the clamped page only: junk parameters, their order
    // and spelling variants share one entry.
    let key = format!(
        "{generation}|list|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        search_key_part(query.q.as_deref()),
        key_part(query.category.as_deref()),
        key_part(query.vendor.as_deref()),
        key_part(query.kind.as_deref()),
        key_part(query.min_price.as_deref()),
        key_part(query.max_price.as_deref()),
        key_part(query.sort.as_deref()),
        page.page(),
        page.per_page()
    );
    if let Some(bytes) = state.responses.get(&key).await {
        return Ok(json_bytes(bytes));
    }
    let filters = BrowseFilters {
        q: query.q,
        category: query.category,
        vendor: query.vendor,
        kind: query.kind,
        min_price: query.min_price,
        max_price: query.max_price,
        sort: query.sort,
    };
    let products = state.market.catalog().browse(filters, page).await?;
    let currency = &state.market.config().currency;
    let body = ProductPage::from_page_ref(&products, |p| state.media_urls.product(p, currency));
    Ok(json_bytes(state.responses.store(key, &body).await?))
}

// The path parameter is named `id` like on the other `/products/{id}` routes: the router refuses two
// names for the same segment (and OpenAPI treats such paths as one). It takes an id or a slug.
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "catalog", security((), ("bearer" = [])), params(("id" = String, Path, description = "product id or slug")),
    responses((status = 200, body = ProductBody), (status = 404, body = Problem)))]
async fn product_detail(
    State(state): State<AppState>,
    OptionalUser(actor): OptionalUser,
    Path(id_or_slug): Path<String>,
) -> ApiResult<Response> {
    // Anonymous readers only ever get public products, so their answers can be shared.
    let anonymous = actor == Actor::Anonymous;
    let generation = state.market.catalog_cache().generation();
    let key = format!("{generation}|product/{}", id_or_slug.trim().to_lowercase());
    if anonymous && let Some(bytes) = state.responses.get(&key).await {
        return Ok(json_bytes(bytes));
    }
    let product = state.market.catalog().product(&actor, &id_or_slug).await?;
    let body = state.media_urls.product(&product, &state.market.config().currency);
    if anonymous {
        return Ok(json_bytes(state.responses.store(key, &body).await?));
    }
    Ok(Json(body).into_response())
}

#[utoipa::path(post, path = "/api/v1/products", tag = "catalog", security(("bearer" = [])), request_body = CreateProductRequest,
    responses((status = 201, body = ProductBody), (status = 401, body = Problem), (status = 403, body = Problem, description = "not an approved vendor"),
              (status = 422, body = Problem, description = "invalid fields, an unknown category, `stock` missing for a physical or given for a digital work")))]
async fn create_product(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    ApiJson(body): ApiJson<CreateProductRequest>,
) -> ApiResult<(StatusCode, Json<ProductBody>)> {
    let draft = ProductDraft {
        title: body.title,
        description: body.description,
        kind: body.kind,
        price_cents: body.price_cents,
        stock: body.stock,
        category_id: body.category_id,
        tags: body.tags,
        status: body.status,
    };
    let product = state.market.catalog().create_product(&actor, draft).await?;
    Ok((
        StatusCode::CREATED,
        Json(state.media_urls.product(&product, &state.market.config().currency)),
    ))
}

#[utoipa::path(patch, path = "/api/v1/products/{id}", tag = "catalog", security(("bearer" = [])), request_body = UpdateProductRequest,
    params(("id" = String, Path)),
    responses((status = 200, body = ProductBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem, description = "invalid fields, an unknown category, `stock` missing for a physical or given for a digital work")))]
async fn update_product(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateProductRequest>,
) -> ApiResult<Json<ProductBody>> {
    let edit = ProductEdit {
        title: body.title,
        description: body.description,
        kind: body.kind,
        price_cents: body.price_cents,
        stock: body.stock,
        category_id: body.category_id,
        tags: body.tags,
        status: body.status,
    };
    let product = state.market.catalog().update_product(&actor, product_id(&id)?, edit).await?;
    Ok(Json(state.media_urls.product(&product, &state.market.config().currency)))
}

#[utoipa::path(delete, path = "/api/v1/products/{id}", tag = "catalog", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204, description = "archived"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn archive_product(State(state): State<AppState>, AuthUser(actor): AuthUser, Path(id): Path<String>) -> ApiResult<StatusCode> {
    state.market.catalog().archive_product(&actor, product_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn multipart_error(err: MultipartError) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::Http(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", "the upload is too large".into())
    } else {
        ApiError::bad_request("malformed_multipart", err.body_text())
    }
}

fn multipart_rejection(rejection: MultipartRejection) -> ApiError {
    ApiError::bad_request("malformed_multipart", rejection.body_text())
}

fn missing_file() -> ApiError {
    Error::invalid("file", "send the file as the multipart field `file`").into()
}

#[utoipa::path(post, path = "/api/v1/products/{id}/images", tag = "catalog", security(("bearer" = [])), params(("id" = String, Path)),
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "field `file`: a JPEG, PNG or WebP image, at most 10 MiB and 40 megapixels"),
    responses((status = 201, body = ImageBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "10 images already"), (status = 413, body = Problem), (status = 415, body = Problem, description = "not a JPEG, PNG or WebP image"),
              (status = 422, body = Problem, description = "not a readable image, more than 40 megapixels, or no `file` field")))]
async fn upload_image(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<ImageBody>)> {
    let id = product_id(&id)?;
    let mut multipart = multipart.map_err(multipart_rejection)?;
    // Refuse before reading up to 10 MiB of someone else's upload into memory.
    state.market.media().may_upload(&actor, id).await?;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() == Some("file") {
            let bytes = field.bytes().await.map_err(multipart_error)?;
            let image = state.market.media().add_image(&actor, id, bytes).await?;
            return Ok((StatusCode::CREATED, Json(state.media_urls.image(&image))));
        }
    }
    Err(missing_file())
}

#[utoipa::path(delete, path = "/api/v1/products/{id}/images/{image_id}", tag = "catalog", security(("bearer" = [])),
    params(("id" = String, Path), ("image_id" = String, Path)),
    responses((status = 204, description = "removed"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_image(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path((id, image_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let image_id = ImageId::parse(&image_id).ok_or_else(|| Error::not_found("image_not_found", "image not found"))?;
    state.market.media().delete_image(&actor, product_id(&id)?, image_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/api/v1/products/{id}/asset", tag = "catalog", security(("bearer" = [])), params(("id" = String, Path)),
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "field `file`: the download of a digital product (at most MAX_ASSET_BYTES)"),
    responses((status = 201, body = AssetBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 413, body = Problem), (status = 422, body = Problem, description = "not a digital product, or no `file` field")))]
async fn upload_asset(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(id): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<(StatusCode, Json<AssetBody>)> {
    let id = product_id(&id)?;
    let mut multipart = multipart.map_err(multipart_rejection)?;
    state.market.media().may_upload(&actor, id).await?;
    let max = state.market.config().max_asset_bytes;
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() == Some("file") {
            let filename = field.file_name().unwrap_or("download").to_owned();
            let asset = state.market.media().upload_asset(&actor, id, &filename, field, max).await?;
            return Ok((StatusCode::CREATED, Json(asset.into())));
        }
    }
    Err(missing_file())
}

#[utoipa::path(post, path = "/api/v1/admin/categories", tag = "admin", security(("bearer" = [])), request_body = CategoryRequest,
    responses((status = 201, body = CategoryBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem),
              (status = 422, body = Problem, description = "invalid fields, an unknown `parent_id`, or no letter or digit to make a slug of")))]
async fn create_category(
    State(state): State<AppState>,
    AdminUser(actor): AdminUser,
    ApiJson(body): ApiJson<CategoryRequest>,
) -> ApiResult<(StatusCode, Json<CategoryBody>)> {
    let input = CategoryInput {
        name: body.name,
        slug: body.slug,
        parent: body.parent_id,
    };
    let category = state.market.catalog().create_category(&actor, input).await?;
    Ok((StatusCode::CREATED, Json(category.into())))
}

#[utoipa::path(patch, path = "/api/v1/admin/categories/{id}", tag = "admin", security(("bearer" = [])), request_body = CategoryRequest,
    params(("id" = String, Path)),
    responses((status = 200, body = CategoryBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem), (status = 422, body = Problem, description = "invalid fields, an unknown `parent_id`, or a parent inside this category")))]
async fn update_category(
    State(state): State<AppState>,
    AdminUser(actor): AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<CategoryRequest>,
) -> ApiResult<Json<CategoryBody>> {
    let input = CategoryInput {
        name: body.name,
        slug: body.slug,
        parent: body.parent_id,
    };
    Ok(Json(
        state
            .market
            .catalog()
            .update_category(&actor, category_id(&id)?, input)
            .await?
            .into(),
    ))
}

#[utoipa::path(delete, path = "/api/v1/admin/categories/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 409, body = Problem, description = "still has products or sub-categories")))]
async fn delete_category(State(state): State<AppState>, AdminUser(actor): AdminUser, Path(id): Path<String>) -> ApiResult<StatusCode> {
    state.market.catalog().delete_category(&actor, category_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
