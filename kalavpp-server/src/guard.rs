//! Cheap per-route guards: a check that either answers the request itself (a rate limit's
//! `429`, say) or lets it through, as a tower layer whose future is never boxed (a `from_fn`
//! middleware boxes a future and clones its boxed `Next` on every request).

use axum::extract::Request;
use axum::response::Response;
use futures_util::future::Either;
use std::future::{Ready, ready};
use std::task::{Context, Poll};
use tower::{Layer, Service};

/// What a [`Guard`] asks of every request.
pub trait Check: Clone + Send + Sync + 'static {
    /// `Some(response)` answers the request here; `None` lets it through.
    fn refuse(&self, request: &Request) -> Option<Response>;
}

/// A layer running `C` before the routes it wraps.
#[derive(Clone)]
pub struct Guard<C>(pub C);

impl<S, C: Clone> Layer<S> for Guard<C> {
    type Service = Guarded<S, C>;

    fn layer(&self, inner: S) -> Guarded<S, C> {
        Guarded {
            inner,
            check: self.0.clone(),
        }
    }
}

/// The service of a [`Guard`].
#[derive(Clone)]
pub struct Guarded<S, C> {
    inner: S,
    check: C,
}

impl<S, C> Service<Request> for Guarded<S, C>
where
    S: Service<Request, Response = Response>,
    C: Check,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match self.check.refuse(&request) {
            Some(refused) => Either::Left(ready(Ok(refused))),
            None => Either::Right(self.inner.call(request)),
        }
    }
}
