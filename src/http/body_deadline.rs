//! A deadline for request bodies: a client that sends its body slowly (one byte a second, say)
//! would otherwise hold its connection, and the worker's memory for it, for as long as it likes.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::dev::{Payload, ServiceRequest};
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::web::Bytes;
use futures_core::Stream;

/// Set once the body of a request has missed its deadline.
#[derive(Clone, Default)]
pub struct Missed(Rc<Cell<bool>>);

impl Missed {
    pub fn get(&self) -> bool {
        self.0.get()
    }
}

/// The error a body read gets once its deadline has passed.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct TooSlow;

/// Whether a body read failed because the body missed its deadline.
pub fn is_too_slow(error: &PayloadError) -> bool {
    matches!(error, PayloadError::Io(e) if e.get_ref().is_some_and(|inner| inner.is::<TooSlow>()))
}

/// Whether the request says a body follows its head.
pub fn announced(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    headers
        .get(CONTENT_LENGTH)
        .is_some_and(|len| len.as_bytes() != b"0")
        || headers.contains_key(TRANSFER_ENCODING)
}

/// Gives the request's body `timeout` from now to arrive.
pub fn limit(req: &mut ServiceRequest, timeout: Duration) -> Missed {
    let missed = Missed::default();
    let body = Deadline {
        inner: req.take_payload(),
        timer: Box::pin(tokio::time::sleep(timeout)),
        missed: missed.clone(),
    };
    req.set_payload(Payload::Stream {
        payload: Box::pin(body),
    });
    missed
}

struct Deadline {
    inner: Payload,
    timer: Pin<Box<tokio::time::Sleep>>,
    missed: Missed,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.missed.get() {
            return Poll::Ready(None);
        }
        if let Poll::Ready(chunk) = Pin::new(&mut this.inner).poll_next(cx) {
            return Poll::Ready(chunk);
        }
        if this.timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.missed.0.set(true);
        let error = std::io::Error::new(std::io::ErrorKind::TimedOut, TooSlow);
        Poll::Ready(Some(Err(PayloadError::Io(error))))
    }
}
