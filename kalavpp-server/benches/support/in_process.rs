//! The request path without sockets: the server's service stack (what `Application` serves) and the bare router called in a loop
//! on one thread (`tower::ServiceExt::oneshot`), so the figure is what the layers and the handler
//! cost per request, free of the kernel, hyper and the load generator that the HTTP runs share
//! the cores with. Run alone with `--router-only` (and under `perf record` for a profile).

use std::net::SocketAddr;
use std::time::Instant;

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use tower::ServiceExt;

/// Requests per measured loop.
const REQUESTS: u32 = 200_000;

/// Nanoseconds per request of `router` answering `GET path` (the body read to its end).
async fn per_request<S>(router: &S, path: &str, requests: u32) -> f64
where
    S: tower::Service<Request<Body>, Response = axum::response::Response, Error = Infallible> + Clone,
{
    let client: SocketAddr = ([127, 0, 0, 1], 40_000).into();
    let once = || async {
        let request = Request::get(path)
            .header("host", "127.0.0.1")
            .extension(ConnectInfo(client))
            .body(Body::empty())
            .expect("request");
        let response = router.clone().oneshot(request).await.expect("infallible");
        assert!(response.status().is_success(), "{path}: {}", response.status());
        axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body")
    };
    for _ in 0..requests / 10 {
        once().await;
    }
    let start = Instant::now();
    for _ in 0..requests {
        once().await;
    }
    start.elapsed().as_nanos() as f64 / f64::from(requests)
}

/// Prints ns per request of `ours` answering `GET path` and of `bare` answering `GET bare_path`,
/// and their ratio (bare / ours: the share of the bare throughput ours reaches).
pub fn compare<A, B>(ours: &A, bare: &B, name: &str, path: &str, bare_path: &str, quick: bool)
where
    A: tower::Service<Request<Body>, Response = axum::response::Response, Error = Infallible> + Clone,
    B: tower::Service<Request<Body>, Response = axum::response::Response, Error = Infallible> + Clone,
{
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let requests = if quick { REQUESTS / 4 } else { REQUESTS };
    let (ours_ns, bare_ns) = runtime.block_on(async {
        (
            per_request(ours, path, requests).await,
            per_request(bare, bare_path, requests).await,
        )
    });
    println!(
        "  {name:<32} ours {ours_ns:>8.0} ns/request   bare {bare_ns:>7.0} ns/request   ratio {:.2}   ({requests} requests, one thread, no sockets)",
        bare_ns / ours_ns
    );
}
