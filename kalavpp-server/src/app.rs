//! Builds the server: the marketplace, the router with its layers, and the bound listener.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::{HeaderValue, Method, header};
use kalavpp_core::mail::{Mailer, OutboxWorker, mailer_for};
use kalavpp_core::{Marketplace, Mode};
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::api;
use crate::http_error::not_found;
use crate::rate_limit::IpRateLimit;
use crate::settings::Settings;

/// How long shutdown waits for the outbox worker to finish the batch it is sending.
const MAIL_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Largest JSON body accepted (uploads get their own limits).
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What every handler can reach. Extractors and middleware clone it on every request, so it is
/// one `Arc` (a single reference-count increment) around the [`SharedState`].
#[derive(Clone)]
pub struct AppState(Arc<SharedState>);

impl std::ops::Deref for AppState {
    type Target = SharedState;

    fn deref(&self) -> &SharedState {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct SharedState {
    /// The embedded marketplace.
    pub market: Marketplace,
    /// The server settings.
    pub settings: Arc<Settings>,
    /// Builds public URLs of media files.
    pub media_urls: crate::api::catalog_dto::MediaUrls,
    /// Serialized hot catalog responses.
    pub responses: crate::response_cache::ResponseCache,
    /// Request counts and durations, rendered by `GET /metrics`.
    pub metrics: crate::metrics::Metrics,
    /// Bearer token `GET /metrics` requires, if any.
    pub metrics_token: Option<Arc<str>>,
    /// Ready HTML of anonymous storefront pages.
    pub pages: crate::storefront::PageCache,
}

impl FromRef<AppState> for Marketplace {
    fn from_ref(state: &AppState) -> Self {
        state.market.clone()
    }
}

/// A built server, bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    parts: Mountable,
}

/// The server's routes and background work over one marketplace, without a listener: what
/// [`Application`] serves, for mounting in another axum application (`examples/mount.rs`).
/// Serve the router with `into_make_service_with_connect_info::<SocketAddr>()` (the rate limits
/// read the client address) and keep [`Mountable::start_jobs`]'s jobs running beside it.
pub struct Mountable {
    /// The routes, without the layers every request passes ([`Front`], assembled by [`Mountable::service`]).
    routes: Router,
    front: Front,
    limits: [IpRateLimit; 2],
    market: Marketplace,
    mailer: Arc<dyn Mailer>,
    metrics: crate::metrics::Metrics,
    settings: Arc<Settings>,
}

impl Application {
    /// Opens the marketplace (running migrations), builds the router and binds the listener
    /// (`PORT=0` picks a free port; see [`Application::port`]).
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::new(settings.host, settings.port)).await?;
        // With `PORT=0` and no BACKEND_URL, links to our own pages must carry the real port.
        if settings.backend_url.ends_with(":0") {
            let port = listener.local_addr()?.port();
            settings.backend_url = format!("{}:{port}", settings.backend_url.trim_end_matches(":0"));
            settings.core.backend_url = settings.backend_url.clone();
            if settings.frontend_is_storefront {
                settings.core.frontend_url = settings.backend_url.clone();
            }
        }
        let market = Marketplace::open(settings.core.clone()).await?;
        let parts = Mountable::new(settings, market)?;
        Ok(Self { listener, parts })
    }

    /// Like [`Application::build`] over an already opened marketplace.
    pub async fn with_marketplace(settings: Settings, market: Marketplace) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::new(settings.host, settings.port)).await?;
        let parts = Mountable::new(settings, market)?;
        Ok(Self { listener, parts })
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or_default()
    }

    /// The marketplace this server wraps.
    pub fn marketplace(&self) -> &Marketplace {
        &self.parts.market
    }

    /// The mailer the outbox worker sends through.
    pub fn mailer(&self) -> &Arc<dyn Mailer> {
        &self.parts.mailer
    }

    /// Serves until SIGTERM or Ctrl-C, then finishes in-flight requests. Beside the server run
    /// the background jobs ([`Mountable::start_jobs`]); the outbox worker finishes the batch it is
    /// sending before stopping.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Like [`Application::run_until_stopped`], stopping when `stop` completes (e.g. a
    /// [`shutdown_signal`] made before the start-up banner, so a SIGTERM right after the banner is
    /// already a graceful stop).
    pub async fn run_until(self, stop: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let jobs = self.parts.start_jobs();
        // The layered routes as they are (no router around them), each request with the
        // client's address for the rate limits.
        let service = self.parts.service();
        let connections = tower::service_fn(move |incoming: axum::serve::IncomingStream<'_, TcpListener>| {
            let client = axum::extract::ConnectInfo(*incoming.remote_addr());
            std::future::ready(Ok::<_, std::convert::Infallible>(tower::Layer::layer(
                &axum::Extension(client),
                service.clone(),
            )))
        });
        let outcome = axum::serve(self.listener, connections).with_graceful_shutdown(stop).await;
        jobs.stop().await;
        tracing::info!("server stopped");
        outcome
    }
}

impl Mountable {
    /// Builds the routes and the mailer over `market` (already opened with `settings.core`).
    pub fn new(settings: Settings, market: Marketplace) -> anyhow::Result<Self> {
        // Built from the marketplace's own configuration, which is what the worker delivers for.
        let mail = &market.config().mail;
        let mailer = mailer_for(mail).map_err(|e| anyhow::anyhow!("email delivery: {e}"))?;
        if mail.smtp_url.is_none() && market.config().mode == Mode::Production {
            tracing::warn!(
                "no SMTP_URL or SENDGRID_API_KEY: emails are NOT delivered, only logged (recipient and subject) and marked sent"
            );
        }
        tracing::info!(mailer = %mailer.describe(), from = %mail.from_address, "email delivery configured");
        let general = IpRateLimit::new(settings.rate_limit_window, settings.rate_limit_max, settings.trust_proxy);
        let credentials = IpRateLimit::new(settings.rate_limit_window, settings.auth_rate_limit_max, settings.trust_proxy);
        let metrics = crate::metrics::Metrics::new();
        let state = AppState(Arc::new(SharedState {
            market: market.clone(),
            media_urls: crate::api::catalog_dto::MediaUrls::new(&settings.backend_url),
            responses: crate::response_cache::ResponseCache::new(settings.core.cache_max_bytes / 4),
            metrics: metrics.clone(),
            metrics_token: settings.metrics_token.as_deref().map(Arc::from),
            pages: crate::storefront::PageCache::new(settings.core.cache_max_bytes / 4),
            settings: Arc::new(settings),
        }));
        let settings = state.settings.clone();
        let front = Front::new(&settings, general.clone(), state.metrics.clone());
        let routes = routes(state, general.clone(), credentials.clone());
        Ok(Self {
            routes,
            front,
            limits: [general, credentials],
            market,
            mailer,
            metrics,
            settings,
        })
    }

    /// The routes with every layer (cheap to clone): nest them with `Router::nest` or serve them
    /// as they are.
    pub fn router(&self) -> Router {
        Router::new().fallback_service(self.service())
    }

    /// The routes inside every layer as one service, without a router around them: what
    /// [`Application`] serves (each request needs the client's `ConnectInfo<SocketAddr>`).
    pub fn service(
        &self,
    ) -> impl tower::Service<
        axum::extract::Request,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static {
        let front = &self.front;
        tower::ServiceBuilder::new()
            .layer(front.edge.clone())
            .layer(front.cors.clone())
            .layer(CompressionLayer::new().compress_when(WorthCompressing))
            .layer(crate::deadline::Deadline)
            .layer(crate::guard::Guard(front.gate.clone()))
            .layer(DefaultBodyLimit::max(BODY_LIMIT))
            .service(self.routes.clone())
    }

    /// The marketplace the routes serve.
    pub fn marketplace(&self) -> &Marketplace {
        &self.market
    }

    /// Starts the background jobs: metrics upkeep, the sweeper (idle rate-limit entries, stale
    /// unpaid orders, matured sales), the payment reconciler, scheduled backups (when
    /// `BACKUP_INTERVAL` is set) and the outbox worker (email delivery).
    pub fn start_jobs(&self) -> BackgroundJobs {
        let mut tasks = Vec::new();
        let metrics = self.metrics.clone();
        tasks.push(tokio::spawn(async move {
            // Request durations wait in memory until folded into their histogram buckets.
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            loop {
                tick.tick().await;
                metrics.run_upkeep();
            }
        }));
        let (limits, market) = (self.limits.clone(), self.market.clone());
        tasks.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_mins(1));
            loop {
                tick.tick().await;
                limits.iter().for_each(IpRateLimit::forget_idle);
                // Unpaid orders past the checkout lifetime give their stock back.
                if let Err(err) = market.orders().expire_stale().await {
                    tracing::warn!(error = %err, "expiring stale orders failed");
                }
                // Sales past their refund window become available for payouts.
                if let Err(err) = market.orders().release_matured_sales().await {
                    tracing::warn!(error = %err, "releasing matured sales failed");
                }
            }
        }));
        let market = self.market.clone();
        tasks.push(tokio::spawn(async move {
            // Refunds, automatic refunds of late payments and session expiries whose first
            // attempt failed or was cut short are retried until the provider confirms.
            let mut tick = tokio::time::interval(Duration::from_secs(10));
            loop {
                tick.tick().await;
                if let Err(err) = market.orders().reconcile_payments().await {
                    tracing::warn!(error = %err, "reconciling payment actions failed");
                }
            }
        }));
        if let Some(schedule) = self.settings.backups.clone() {
            let instance = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
            tasks.push(tokio::spawn(crate::backup_schedule::run(
                self.settings.clone(),
                self.market.clone(),
                schedule,
                instance,
            )));
        }
        let worker = OutboxWorker::for_marketplace(&self.market, self.mailer.clone());
        let (stop_mail, mail_stopped) = tokio::sync::oneshot::channel::<()>();
        let mail = tokio::spawn(async move {
            worker
                .run(async {
                    let _ = mail_stopped.await;
                })
                .await;
        });
        BackgroundJobs {
            tasks,
            stop_mail: Some(stop_mail),
            mail: Some(mail),
        }
    }
}

/// The running background jobs of a [`Mountable`]; dropping them aborts them at once,
/// [`BackgroundJobs::stop`] lets the outbox worker finish its batch first.
pub struct BackgroundJobs {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    stop_mail: Option<tokio::sync::oneshot::Sender<()>>,
    mail: Option<tokio::task::JoinHandle<()>>,
}

impl BackgroundJobs {
    /// Stops the jobs; the outbox worker gets a grace period to finish the batch it is sending.
    pub async fn stop(mut self) {
        self.tasks.iter().for_each(tokio::task::JoinHandle::abort);
        if let Some(stop) = self.stop_mail.take() {
            let _ = stop.send(());
        }
        if let Some(mail) = self.mail.take() {
            let abort = mail.abort_handle();
            if tokio::time::timeout(MAIL_SHUTDOWN_GRACE, mail).await.is_err() {
                // Messages still `sending` are claimed again once their lease runs out.
                tracing::warn!("the outbox worker did not finish its batch in time; stopping it");
                abort.abort();
            }
        }
    }
}

impl Drop for BackgroundJobs {
    fn drop(&mut self) {
        self.tasks.iter().for_each(tokio::task::JoinHandle::abort);
        if let Some(mail) = &self.mail {
            mail.abort();
        }
    }
}

/// Completes on SIGTERM or Ctrl-C; the handlers are installed when this is called, not when it is
/// first polled.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        let terminate = async {
            match terminate.as_mut() {
                Some(signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            () = terminate => {},
        }
        tracing::info!("shutdown signal received; finishing in-flight requests");
    }
}

/// The layers every request passes, outermost first: the [`Edge`](crate::edge::Edge) (request
/// id, trace span, bodies of bare errors, security headers), CORS, compression, the
/// [`Deadline`](crate::deadline::Deadline) (the 30 s timeout), the
/// [`EdgeGate`](crate::edge::EdgeGate) (NUL refusal, the `/api/v1` rate limit) and the JSON
/// body limit. They wrap the router once, as one service: layered onto the router itself, each
/// would be cloned into a boxed service and a boxed future on every route of every request.
#[derive(Clone)]
struct Front {
    edge: crate::edge::Edge,
    cors: CorsLayer,
    gate: crate::edge::EdgeGate,
}

impl Front {
    fn new(settings: &Settings, general: IpRateLimit, metrics: crate::metrics::Metrics) -> Self {
        let origins: Vec<HeaderValue> = settings.cors_origins.iter().filter_map(|o| o.parse().ok()).collect();
        // The origin list behind an `Arc` (a predicate) and no `Vary` list (the edge sets
        // `Vary: origin`): hyper clones the service stack per request, and lists would be copied.
        let cors = CorsLayer::new()
            .allow_origin(AllowOrigin::predicate(move |origin, _| origins.contains(origin)))
            .vary(Vec::<axum::http::HeaderName>::new())
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
                Method::OPTIONS,
            ])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT, crate::edge::REQUEST_ID])
            .expose_headers([header::RETRY_AFTER, crate::edge::REQUEST_ID])
            .max_age(Duration::from_hours(1));
        Self {
            edge: crate::edge::Edge::new(settings.storefront, settings.core.mode == Mode::Production),
            cors,
            gate: crate::edge::EdgeGate {
                api_limit: general,
                metrics,
            },
        }
    }
}

/// The application's routes (API, panel, studio, storefront) with their fallback.
fn routes(state: AppState, general: IpRateLimit, credentials: IpRateLimit) -> Router {
    let storefront = state.settings.storefront;
    api::router(state, general, credentials).fallback(move |request: axum::extract::Request| async move {
        let path = request.uri().path();
        if storefront && !crate::storefront::outside_storefront(path) {
            crate::storefront::not_found_page()
        } else {
            not_found().await
        }
    })
}

/// Which responses are compressed: bodies of at least 1 KiB (below that the gzip frame and the
/// work cost more than they save) that are not already compressed or opaque (images, audio,
/// video, fonts, archives, PDFs, digital downloads) and not streams. A unit type: cloned with the service stack on every request at no cost.
#[derive(Clone, Copy)]
struct WorthCompressing;

impl tower_http::compression::Predicate for WorthCompressing {
    fn should_compress<B: axum::body::HttpBody>(&self, response: &axum::http::Response<B>) -> bool {
        // Already compressed or opaque (digital downloads are served as octet streams), or streams.
        const ALREADY_COMPRESSED: &[&str] = &[
            "image/",
            "audio/",
            "video/",
            "font/",
            "application/zip",
            "application/gzip",
            "application/pdf",
            "application/octet-stream",
            "text/event-stream",
            "application/grpc",
        ];
        // A `HEAD` answer's body is already stripped (exactly 0): its `Content-Length` tells the
        // size of the `GET` it stands for, so both get the same encoding.
        let declared: Option<u64> = response
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let size = match response.body().size_hint().exact() {
            Some(0) => declared.or(Some(0)),
            exact => exact.or(declared),
        };
        let big_enough = size.is_none_or(|len| len >= 1024);
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let compressed = ALREADY_COMPRESSED.iter().any(|prefix| content_type.starts_with(prefix)) && !content_type.starts_with("image/svg");
        big_enough && !compressed
    }
}

#[cfg(test)]
mod tests {
    use tower_http::compression::Predicate;

    use super::WorthCompressing;

    fn response(content_type: &str, bytes: usize) -> axum::http::Response<axum::body::Body> {
        axum::http::Response::builder()
            .header(axum::http::header::CONTENT_TYPE, content_type)
            .body(axum::body::Body::from(vec![b'a'; bytes]))
            .unwrap()
    }

    #[test]
    fn only_big_compressible_bodies_are_compressed() {
        assert!(WorthCompressing.should_compress(&response("application/json", 4096)));
        assert!(WorthCompressing.should_compress(&response("text/html; charset=utf-8", 1024)));
        assert!(WorthCompressing.should_compress(&response("image/svg+xml", 4096)));
        assert!(!WorthCompressing.should_compress(&response("application/json", 1023)));
        assert!(!WorthCompressing.should_compress(&response("application/json", 0)));
        // A HEAD answer: no body left, the GET's length declared.
        let mut head = response("application/json", 0);
        head.headers_mut()
            .insert(axum::http::header::CONTENT_LENGTH, axum::http::HeaderValue::from_static("4096"));
        assert!(WorthCompressing.should_compress(&head));
        for opaque in [
            "image/png",
            "application/zip",
            "application/octet-stream",
            "application/pdf",
            "font/woff2",
            "video/mp4",
        ] {
            assert!(!WorthCompressing.should_compress(&response(opaque, 64 * 1024)), "{opaque}");
        }
    }
}
