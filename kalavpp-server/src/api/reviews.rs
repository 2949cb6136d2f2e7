//! `/products/{id}/reviews`, `/reviews/{id}` and `/admin/reviews/{id}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use kalavpp_core::Error;
use kalavpp_core::domain::Review;
use kalavpp_core::domain::ReviewId;
use kalavpp_core::services::{ReviewChanges, ReviewDraft};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::dto::ReviewPage;
use crate::app::AppState;
use crate::extract::{AdminUser, ApiJson, AuthUser, OptionalUser, Pagination, double_option};
use crate::http_error::{ApiResult, Problem};

/// The review routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_reviews, create_review))
        .routes(routes!(update_review, delete_review))
}

/// The admin routes of this resource (`/admin/...`), mounted behind the admin gate.
pub fn admin_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(moderate_review))
}

/// A product review.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewBody {
    /// Review id.
    pub id: String,
    /// The reviewed product.
    pub product_id: String,
    /// The product's vendor.
    pub vendor_id: String,
    /// The author.
    pub user_id: String,
    /// The author's display name.
    pub author_name: String,
    /// 1 to 5.
    pub rating: i32,
    /// Headline.
    pub title: Option<String>,
    /// Text, exactly as written (escape it when rendering HTML).
    pub body: String,
    /// Hidden by an admin (hidden reviews are not listed and do not count in ratings).
    pub hidden: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Review> for ReviewBody {
    fn from(r: Review) -> Self {
        Self {
            id: r.id.to_string(),
            product_id: r.product_id.to_string(),
            vendor_id: r.vendor_id.to_string(),
            user_id: r.user_id.to_string(),
            author_name: r.author_name,
            rating: r.rating,
            title: r.title,
            body: r.body,
            hidden: r.hidden,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A new review.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReviewRequest {
    /// 1 to 5.
    #[serde(deserialize_with = "crate::extract::whole_number")]
    #[schema(minimum = 1, maximum = 5)]
    pub rating: i64,
    /// Optional headline, up to 200 characters.
    pub title: Option<String>,
    /// 1 to 5000 characters.
    pub body: String,
}

/// The author's change to a review.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateReviewRequest {
    /// New rating, 1 to 5.
    #[serde(default, deserialize_with = "crate::extract::optional_whole_number")]
    #[schema(minimum = 1, maximum = 5)]
    pub rating: Option<i64>,
    /// New headline; `null` removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub title: Option<Option<String>>,
    /// New text.
    pub body: Option<String>,
}

/// An admin's moderation of a review.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModerateReviewRequest {
    /// `true` hides the review from lists and ratings, `false` shows it again.
    pub hidden: bool,
}

fn review_id(text: &str) -> Result<ReviewId, Error> {
    ReviewId::parse(text).ok_or_else(|| Error::not_found("review_not_found", "review not found"))
}

// The path parameter is named `id` like on the other `/products/{id}` routes (the router refuses two
// names for one segment). It takes an id or a slug.
#[utoipa::path(get, path = "/api/v1/products/{id}/reviews", tag = "reviews", security((), ("bearer" = [])),
    params(("id" = String, Path, description = "product id or slug"), ("page" = Option<u32>, Query), ("per_page" = Option<u32>, Query)),
    responses((status = 200, body = ReviewPage, description = "visible reviews, newest first"), (status = 404, body = Problem)))]
async fn list_reviews(
    State(state): State<AppState>,
    OptionalUser(actor): OptionalUser,
    Path(id_or_slug): Path<String>,
    Pagination(page): Pagination,
) -> ApiResult<Json<ReviewPage>> {
    let reviews = state.market.reviews().list(&actor, &id_or_slug, page).await?;
    Ok(Json(ReviewPage::from_page(reviews, ReviewBody::from)))
}

#[utoipa::path(post, path = "/api/v1/products/{id}/reviews", tag = "reviews", security(("bearer" = [])), request_body = CreateReviewRequest,
    params(("id" = String, Path, description = "product id or slug")),
    responses((status = 201, body = ReviewBody), (status = 401, body = Problem),
              (status = 403, body = Problem, description = "not a buyer (`not_a_buyer`) or the product's own vendor (`own_product`)"),
              (status = 404, body = Problem), (status = 409, body = Problem, description = "already reviewed"), (status = 422, body = Problem)))]
async fn create_review(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(id_or_slug): Path<String>,
    ApiJson(body): ApiJson<CreateReviewRequest>,
) -> ApiResult<(StatusCode, Json<ReviewBody>)> {
    let draft = ReviewDraft {
        rating: body.rating,
        title: body.title,
        body: body.body,
    };
    let review = state.market.reviews().create(&actor, &id_or_slug, draft).await?;
    Ok((StatusCode::CREATED, Json(review.into())))
}

#[utoipa::path(patch, path = "/api/v1/reviews/{id}", tag = "reviews", security(("bearer" = [])), request_body = UpdateReviewRequest,
    params(("id" = String, Path, description = "review id")),
    responses((status = 200, body = ReviewBody), (status = 401, body = Problem), (status = 403, body = Problem, description = "not the author"),
              (status = 404, body = Problem), (status = 422, body = Problem)))]
async fn update_review(
    State(state): State<AppState>,
    AuthUser(actor): AuthUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateReviewRequest>,
) -> ApiResult<Json<ReviewBody>> {
    let changes = ReviewChanges {
        rating: body.rating,
        title: body.title,
        body: body.body,
    };
    Ok(Json(state.market.reviews().update(&actor, review_id(&id)?, changes).await?.into()))
}

#[utoipa::path(delete, path = "/api/v1/reviews/{id}", tag = "reviews", security(("bearer" = [])),
    params(("id" = String, Path, description = "review id")),
    responses((status = 204, description = "deleted"), (status = 401, body = Problem),
              (status = 403, body = Problem, description = "neither the author nor an admin"), (status = 404, body = Problem)))]
async fn delete_review(State(state): State<AppState>, AuthUser(actor): AuthUser, Path(id): Path<String>) -> ApiResult<StatusCode> {
    state.market.reviews().delete(&actor, review_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(patch, path = "/api/v1/admin/reviews/{id}", tag = "admin", security(("bearer" = [])), request_body = ModerateReviewRequest,
    params(("id" = String, Path, description = "review id")),
    responses((status = 200, body = ReviewBody), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
              (status = 422, body = Problem)))]
async fn moderate_review(
    State(state): State<AppState>,
    AdminUser(actor): AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ModerateReviewRequest>,
) -> ApiResult<Json<ReviewBody>> {
    Ok(Json(
        state
            .market
            .reviews()
            .set_hidden(&actor, review_id(&id)?, body.hidden)
            .await?
            .into(),
    ))
}
