//! The admin wall of `/api/v1`: function-level authorization of the admin API by structure rather than by path. The admin routes
//! (`/api/v1/admin/*`) are merged from their own router ([`admin_only`] as its `route_layer`),
//! so every request to one of them is authenticated and must come from an admin before any
//! handler, body or query is looked at: a customer or a vendor gets `403` (and an anonymous
//! caller `401`) from every admin route, whatever it sends. The handlers take
//! [`AdminUser`] as well, and the services obtain an
//! [`AdminCap`](kalavpp_core::auth::AdminCap) again (deny by default); this is the outer wall.

use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::extract::AdminUser;

/// `admin` with every route behind [`AdminUser`]: `401`/`403` problems for non-admins before the
/// handler runs (the authenticated actor stays in the request, so the handler's extractor does
/// not look it up again). Unknown paths and methods under `/admin` stay `404`/`405`.
pub fn admin_only(state: AppState, admin: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    admin.route_layer(axum::middleware::from_extractor_with_state::<AdminUser, AppState>(state))
}
