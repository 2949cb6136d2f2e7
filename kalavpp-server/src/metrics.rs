//! `GET /metrics`: Prometheus text. Each application owns its recorder (no process-global
//! recorder), so several servers in one process — tests, embedders — keep separate numbers.
//!
//! - `http_requests_total{method, route, status}` and `http_request_duration_seconds{method, route}`
//!   (a histogram) for every request, by matched route (never the raw path: ids would explode the
//!   label set);
//! - gauges read at scrape time: bytes held by each cache, catalog cache hits and misses, outbox messages by status, and
//!   the marketplace counts of the admin dashboard (users, vendors, products, orders, GMV, payouts).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kalavpp_core::Marketplace;
use kalavpp_core::auth::Actor;
use kalavpp_core::domain::EmailFilter;
use kalavpp_core::domain::PageRequest;
use metrics::{Key, Label, Metadata, Recorder};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

use crate::app::AppState;

const REQUESTS: &str = "http_requests_total";
const DURATION: &str = "http_request_duration_seconds";
/// Upper bounds of the request-duration histogram, in seconds.
const BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

fn metadata() -> Metadata<'static> {
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()))
}

/// The request counter and duration histogram of one (method, status) of a route.
type Series = (axum::http::Method, u16, metrics::Counter, metrics::Histogram);

/// One application's metrics (one `Arc`: the request path clones it per request).
#[derive(Clone)]
pub struct Metrics(Arc<Recorded>);

struct Recorded {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Registered series by route: the hot path finds its handles here without allocating.
    series: std::sync::RwLock<std::collections::HashMap<String, Vec<Series>>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh recorder.
    pub fn new() -> Self {
        let builder = PrometheusBuilder::new();
        // Buckets are static and valid: `set_buckets_for_metric` only fails on an empty list.
        let builder = builder
            .set_buckets_for_metric(Matcher::Full(DURATION.into()), BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        Self(Arc::new(Recorded {
            recorder,
            handle,
            series: std::sync::RwLock::default(),
        }))
    }

    /// Folds the recorded duration samples into their histogram buckets. Samples wait in memory
    /// until this runs, so the server runs it every few seconds (and before each scrape).
    pub fn run_upkeep(&self) {
        self.0.handle.run_upkeep();
    }

    /// Counts one request and records its duration.
    pub fn record_request(&self, method: &axum::http::Method, route: &str, status: u16, seconds: f64) {
        let known = {
            let series = self.0.series.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            series
                .get(route)
                .and_then(|list| list.iter().find(|(m, s, ..)| m == method && *s == status))
                .map(|(_, _, counter, histogram)| (counter.clone(), histogram.clone()))
        };
        let (counter, histogram) = match known {
            Some(handles) => handles,
            None => self.register(method, route, status),
        };
        counter.increment(1);
        histogram.record(seconds);
    }

    fn register(&self, method: &axum::http::Method, route: &str, status: u16) -> (metrics::Counter, metrics::Histogram) {
        let meta = metadata();
        let labels = vec![
            Label::new("method", method.as_str().to_owned()),
            Label::new("route", route.to_owned()),
            Label::new("status", status.to_string()),
        ];
        let counter = self.0.recorder.register_counter(&Key::from_parts(REQUESTS, labels), &meta);
        let labels = vec![
            Label::new("method", method.as_str().to_owned()),
            Label::new("route", route.to_owned()),
        ];
        let histogram = self.0.recorder.register_histogram(&Key::from_parts(DURATION, labels), &meta);
        let mut series = self.0.series.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        series
            .entry(route.to_owned())
            .or_default()
            .push((method.clone(), status, counter.clone(), histogram.clone()));
        (counter, histogram)
    }

    fn gauge(&self, name: &'static str, labels: &[(&'static str, &str)], value: f64) {
        let labels: Vec<Label> = labels.iter().map(|(k, v)| Label::new(*k, (*v).to_owned())).collect();
        self.0
            .recorder
            .register_gauge(&Key::from_parts(name, labels), &metadata())
            .set(value);
    }

    /// Reads the scrape-time gauges from the marketplace, then renders everything.
    pub async fn render(
        &self,
        market: &Marketplace,
        responses: &crate::response_cache::ResponseCache,
        pages: &crate::storefront::PageCache,
    ) -> String {
        self.gauge(
            "kalavpp_cache_bytes",
            &[("cache", "catalog")],
            market.catalog_cache().weighted_bytes().await as f64,
        );
        self.gauge(
            "kalavpp_cache_bytes",
            &[("cache", "responses")],
            responses.weighted_bytes().await as f64,
        );
        self.gauge("kalavpp_cache_bytes", &[("cache", "pages")], pages.weighted_bytes().await as f64);
        let cache = market.catalog_cache().stats();
        self.gauge("kalavpp_catalog_cache_hits", &[], cache.hits as f64);
        self.gauge("kalavpp_catalog_cache_misses", &[], cache.misses as f64);
        for status in ["queued", "sending", "sent", "failed"] {
            let filter = EmailFilter {
                status: Some(status.into()),
                ..EmailFilter::default()
            };
            match market.admin().list_emails(&Actor::System, filter, PageRequest::new(1, 1)).await {
                Ok(page) => self.gauge("kalavpp_outbox_messages", &[("status", status)], page.total as f64),
                Err(err) => tracing::warn!(error = %err, "metrics: reading the outbox failed"),
            }
        }
        match market.stats().marketplace(&Actor::System).await {
            Ok(t) => {
                for (role, n) in [("customer", t.customers), ("vendor", t.vendors), ("admin", t.admins)] {
                    self.gauge("kalavpp_users", &[("role", role)], n as f64);
                }
                for (status, n) in [
                    ("pending", t.vendors_pending),
                    ("approved", t.vendors_approved),
                    ("rejected", t.vendors_rejected),
                    ("suspended", t.vendors_suspended),
                ] {
                    self.gauge("kalavpp_vendors", &[("status", status)], n as f64);
                }
                self.gauge("kalavpp_products", &[("status", "published")], t.products_published as f64);
                self.gauge("kalavpp_products_total", &[], t.products_total as f64);
                for (status, n) in [
                    ("paid", t.orders_paid),
                    ("completed", t.orders_completed),
                    ("pending_payment", t.orders_pending_payment),
                    ("refunded", t.orders_refunded),
                ] {
                    self.gauge("kalavpp_orders", &[("status", status)], n as f64);
                }
                self.gauge("kalavpp_orders_total", &[], t.orders_total as f64);
                self.gauge("kalavpp_gmv_cents", &[], t.gmv.cents() as f64);
                self.gauge("kalavpp_commission_cents", &[], t.commission.cents() as f64);
                for (status, cents) in [
                    ("requested", t.payouts_requested),
                    ("approved", t.payouts_approved),
                    ("paid", t.payouts_paid),
                ] {
                    self.gauge("kalavpp_payouts_cents", &[("status", status)], cents.cents() as f64);
                }
            }
            Err(err) => tracing::warn!(error = %err, "metrics: reading the marketplace totals failed"),
        }
        self.0.handle.run_upkeep();
        self.0.handle.render()
    }
}

/// Layer: counts every request by method, matched route and status, with its duration. Applied
/// to the router's routes (where the matched route is known), with an unboxed future.
#[derive(Clone)]
pub struct Track(pub Metrics);

impl<S> tower::Layer<S> for Track {
    type Service = Tracked<S>;

    fn layer(&self, inner: S) -> Tracked<S> {
        Tracked {
            inner,
            metrics: self.0.clone(),
        }
    }
}

/// The service of [`Track`].
#[derive(Clone)]
pub struct Tracked<S> {
    inner: S,
    metrics: Metrics,
}

impl<S> tower::Service<Request> for Tracked<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TrackedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let method = request.method().clone();
        let route = request.extensions().get::<MatchedPath>().cloned();
        TrackedFuture {
            inner: self.inner.call(request),
            started: Instant::now(),
            seen: Some((method, route, self.metrics.clone())),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Tracked`]: records when the response is ready.
    pub struct TrackedFuture<F> {
        #[pin]
        inner: F,
        started: Instant,
        seen: Option<(axum::http::Method, Option<MatchedPath>, Metrics)>,
    }
}

impl<F, E> std::future::Future for TrackedFuture<F>
where
    F: std::future::Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<Self::Output> {
        let this = self.project();
        let outcome = std::task::ready!(this.inner.poll(cx));
        if let (Ok(response), Some((method, route, metrics))) = (&outcome, this.seen.take()) {
            let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
            metrics.record_request(&method, route, response.status().as_u16(), this.started.elapsed().as_secs_f64());
        }
        std::task::Poll::Ready(outcome)
    }
}

/// `GET /metrics`. With `METRICS_TOKEN` set, only `Authorization: Bearer <token>` may read it.
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = state.metrics_token.as_deref() {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
            return crate::http_error::ApiError::from(kalavpp_core::Error::unauthorized(
                "metrics_token_required",
                "send `Authorization: Bearer <METRICS_TOKEN>`",
            ))
            .into_response();
        }
    }
    let body = state.metrics.render(&state.market, &state.responses, &state.pages).await;
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
