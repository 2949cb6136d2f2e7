//! The request deadline: every request but an asset upload (which keeps a minimum rate instead)
//! is answered within [`REQUEST_TIMEOUT`], or with a bare `408` that the edge gives a body. It
//! sits inside CORS, so a browser on an allowed origin can read the `408`. The timer is armed
//! only when the inner future is still pending after its first poll: a request answered at once
//! (a cached read, a health probe) never touches the timer wheel.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::upload_limits::{REQUEST_TIMEOUT, is_asset_upload};

/// The deadline layer (see the module documentation).
#[derive(Clone, Copy, Default)]
pub struct Deadline;

impl<S> Layer<S> for Deadline {
    type Service = Bounded<S>;

    fn layer(&self, inner: S) -> Bounded<S> {
        Bounded { inner }
    }
}

/// The service of [`Deadline`].
#[derive(Clone)]
pub struct Bounded<S> {
    inner: S,
}

impl<S> Service<Request> for Bounded<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoundedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let bounded = !is_asset_upload(request.method(), request.uri().path());
        BoundedFuture {
            started: Instant::now(),
            bounded,
            inner: self.inner.call(request),
            timer: None,
            done: false,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Bounded`] (not boxed).
    pub struct BoundedFuture<F> {
        #[pin]
        inner: F,
        #[pin]
        timer: Option<tokio::time::Sleep>,
        started: Instant,
        bounded: bool,
        done: bool,
    }
}

impl<F> std::future::Future for BoundedFuture<F>
where
    F: std::future::Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if *this.done {
            // Polled again after it completed: never ready again (the inner future is spent).
            return Poll::Pending;
        }
        if let Poll::Ready(answered) = this.inner.as_mut().poll(cx) {
            *this.done = true;
            return Poll::Ready(answered);
        }
        if !*this.bounded {
            return Poll::Pending;
        }
        if this.timer.is_none() {
            let at = tokio::time::Instant::from_std(*this.started + REQUEST_TIMEOUT);
            this.timer.set(Some(tokio::time::sleep_until(at)));
        }
        match this.timer.as_mut().as_pin_mut() {
            Some(timer) => std::task::ready!(timer.poll(cx)),
            None => return Poll::Pending,
        }
        *this.done = true;
        Poll::Ready(Ok(StatusCode::REQUEST_TIMEOUT.into_response()))
    }
}
