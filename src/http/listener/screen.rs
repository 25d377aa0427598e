//! Requests actix-http cannot parse, answered in the APIs' error envelope.
//!
//! actix-http answers a request it cannot parse (a NUL byte in a header, a broken request line, a
//! head over 128 KiB) with a bare 400 or 431 and closes the connection, and it has no hook for
//! that answer. So every connection runs actix-http's own HTTP/1 decoder one step ahead of it, on
//! the same bytes. Bytes are handed on as they arrive; when a request cannot be parsed and its
//! target is an API path (not a page, see `page_error::is_page_path`), actix-http gets the bytes
//! before it and then the end of the stream. It answers the requests it has, closes, and the
//! envelope is written just before the connection shuts. A page's malformed request, and a body
//! that cannot be decoded (its handler is already reading it, and gets the error), are left to
//! actix-http as before.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::SystemTime;

use actix_codec::Decoder;
use actix_http::error::ParseError;
use actix_http::h1::{Codec, MessageType};
use actix_http::{ServiceConfig, StatusCode};
use actix_web::http::header::HttpDate;
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::http::error::ApiError;
use crate::http::page_error::is_page_path;
use crate::http::request_id::RequestId;

/// A connection whose requests are decoded a step ahead of actix-http.
pub(super) struct Screened<T> {
    io: T,
    peer: SocketAddr,
    state: State,
}

enum State {
    /// Decoding what arrives. `pending` holds what the decoder has not used yet: the start of
    /// the next request, or of a body's next chunk.
    Watching {
        codec: Box<Codec>,
        pending: BytesMut,
    },
    /// Handing bytes on unread: actix-http answers whatever comes.
    PassingOn,
    /// A request could not be parsed: actix-http reads the end of the stream, and `answer` is
    /// written before the connection shuts.
    Refusing { answer: Vec<u8>, written: usize },
}

enum Verdict {
    Fine,
    PassOn,
    /// `unparsed` bytes at the end of what arrived belong to the malformed request.
    Refuse {
        unparsed: usize,
        answer: Vec<u8>,
    },
}

impl<T> Screened<T> {
    /// `config` is the worker's: each one holds a clock task, so connections share it.
    pub(super) fn new(io: T, peer: SocketAddr, config: &ServiceConfig) -> Screened<T> {
        Screened {
            io,
            peer,
            state: State::Watching {
                codec: Box::new(Codec::new(config.clone())),
                pending: BytesMut::new(),
            },
        }
    }

    fn screen(&mut self, arrived: &[u8]) -> Verdict {
        let State::Watching { codec, pending } = &mut self.state else {
            return Verdict::Fine;
        };
        pending.extend_from_slice(arrived);
        loop {
            match codec.decode(pending) {
                Ok(Some(_)) => {}
                Ok(None) => return Verdict::Fine,
                // The decoder was in a body: its handler is reading it and gets the error.
                Err(_) if codec.message_type() != MessageType::None => return Verdict::PassOn,
                Err(error) => {
                    let path = request_path(pending);
                    if path.is_empty() || is_page_path(path) {
                        return Verdict::PassOn;
                    }
                    let (answer, request_id) = envelope(&error, pending);
                    tracing::debug!(peer = %self.peer, request_id, path, error = %error, "malformed request refused");
                    return Verdict::Refuse {
                        unparsed: pending.len(),
                        answer,
                    };
                }
            }
        }
    }
}

/// The path a request line names, or "" when there is none to read. A target in absolute form
/// (`http://host/v1/…`) gives its path.
fn request_path(head: &[u8]) -> &str {
    let target = request_line(head)
        .split(|&b| b == b' ')
        .nth(1)
        .unwrap_or(&[]);
    let target = std::str::from_utf8(target).unwrap_or("");
    match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => target,
    }
}

/// Whether the request line of `head` can be read: it is parsed alone, as a request with no
/// headers.
fn request_line_is_sound(head: &[u8]) -> bool {
    let mut line = request_line(head).to_vec();
    line.extend_from_slice(b"\n\r\n");
    httparse::Request::new(&mut []).parse(&line).is_ok()
}

/// The first line of `head` up to its `\n`, after the empty lines a client may send first.
fn request_line(head: &[u8]) -> &[u8] {
    let start = head
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(head.len());
    let line = &head[start..];
    line.split(|&b| b == b'\n').next().unwrap_or(line)
}

/// The whole answer to a request that could not be parsed, and its request id.
fn envelope(error: &ParseError, head: &[u8]) -> (Vec<u8>, String) {
    let refusal = if matches!(error, ParseError::TooLarge) {
        ApiError::invalid(
            "headers",
            "The request's head is larger than this server accepts (128 KiB).",
        )
        .with_status(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
    } else if request_line_is_sound(head) {
        ApiError::invalid("headers", "A request header is malformed.")
    } else {
        ApiError::invalid("request_line", "The request line is malformed.")
    };
    let request_id = RequestId::generate().0;
    let body = refusal.body(&request_id);
    let status = refusal.status;
    let mut answer = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         connection: close\r\nx-request-id: {request_id}\r\ndate: {}\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len(),
        HttpDate::from(SystemTime::now()),
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    (answer, request_id)
}

impl<T: AsyncRead + Unpin> AsyncRead for Screened<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.state {
            // The end of the stream: actix-http answers what it has and closes.
            State::Refusing { .. } => return Poll::Ready(Ok(())),
            State::PassingOn => return Pin::new(&mut this.io).poll_read(cx, buf),
            State::Watching { .. } => {}
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        let arrived = &buf.filled()[before..];
        if arrived.is_empty() {
            return Poll::Ready(Ok(()));
        }
        match this.screen(arrived) {
            Verdict::Fine => {}
            Verdict::PassOn => this.state = State::PassingOn,
            Verdict::Refuse { unparsed, answer } => {
                // What came before the malformed request is handed on; none of it is.
                let kept = arrived.len().saturating_sub(unparsed);
                buf.set_filled(before + kept);
                this.state = State::Refusing { answer, written: 0 };
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Screened<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    /// actix-http shuts the connection once it has answered the requests before a malformed
    /// one; the envelope goes out first.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let State::Refusing { answer, written } = &mut this.state {
            while *written < answer.len() {
                let n = ready!(Pin::new(&mut this.io).poll_write(cx, &answer[*written..]))?;
                if n == 0 {
                    return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                }
                *written += n;
            }
            ready!(Pin::new(&mut this.io).poll_flush(cx))?;
        }
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_read_from_the_request_line_whatever_follows() {
        assert_eq!(
            request_path(b"GET /v1/status HTTP/1.1\r\nX: \0\r\n"),
            "/v1/status"
        );
        assert_eq!(
            request_path(b"\r\nPOST /api/v1/keys?x=1 HTTP/1.1\r\n"),
            "/api/v1/keys?x=1"
        );
        assert_eq!(
            request_path(b"GET http://h:8080/v1/status HTTP/1.1\r\n"),
            "/v1/status"
        );
        assert_eq!(request_path(b"GET http://h HTTP/1.1\r\n"), "");
        assert_eq!(request_path(b"\x16\x03\x01\x02\x00"), "");
        assert_eq!(request_path(b"GET /v1/st\xffatus HTTP/1.1\r\n"), "");
    }

    #[test]
    fn the_envelope_is_a_whole_response_with_its_request_id() {
        let (answer, id) = envelope(&ParseError::TooLarge, b"GET / HTTP/1.1\r\n");
        let text = String::from_utf8(answer).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())));
        assert!(head.contains(&format!("x-request-id: {id}\r\n")));
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["request_id"], id.as_str());
        assert_eq!(body["error"]["code"], "BSE2001");
        assert_eq!(body["error"]["details"]["field"], "headers");
    }

    #[test]
    fn a_malformed_request_line_is_told_from_malformed_headers() {
        assert!(request_line_is_sound(b"GET /v1 HTTP/1.1\r\nX: \0\r\n\r\n"));
        assert!(request_line_is_sound(b"GET /v1 HTTP/1.1\r\nX-"));
        assert!(!request_line_is_sound(b"GET /v1 HTTP/9.9\r\n\r\n"));
        assert!(!request_line_is_sound(b"G\x01T /v1 HTTP/1.1\r\n\r\n"));
        assert!(!request_line_is_sound(b"GET /v1?\x7f HTTP/1.1\r\n\r\n"));
    }
}
