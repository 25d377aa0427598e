//! Requests the HTTP layer cannot parse: an API path gets the error envelope (400 BSE2001 naming
//! the headers or the request line, 431 for a head over 128 KiB) with its `X-Request-Id`, after
//! the answers to the requests before it on the connection, and the connection closes; a page's
//! gets the HTTP layer's bare 400 as before (docs/api.md, "Envelopes").

use std::io::{Read, Write};
use std::time::Duration;

use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};

/// One response as it came over the wire.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The envelope of a refused malformed request: its code, its field, its request id in
    /// the header and the body.
    fn assert_refused(&self, status: u16, field: &str) {
        assert_eq!(self.status, status, "{}", self.head);
        assert_eq!(self.header("content-type"), Some("application/json"));
        assert_eq!(self.header("connection"), Some("close"));
        let body = self.json();
        assert_eq!(body["status"], "error", "{body}");
        assert_eq!(body["error"]["code"], "BSE2001", "{body}");
        assert_eq!(body["error"]["type"], "invalid_input", "{body}");
        assert_eq!(body["error"]["retryable"], false, "{body}");
        assert_eq!(body["error"]["details"]["field"], field, "{body}");
        let id = body["request_id"].as_str().unwrap();
        assert!(id.starts_with("req_") && id.len() == 36, "{id}");
        assert_eq!(self.header("x-request-id"), Some(id));
    }
}

/// Sends `bytes` on a new connection and reads every answer until the server closes it.
fn exchange(app: &TestApp, bytes: &[u8]) -> Vec<Answer> {
    let mut conn = std::net::TcpStream::connect(app.address.trim_start_matches("http://")).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(bytes).unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)
        .expect("the server closes the connection after a malformed request");
    let mut answers = Vec::new();
    let mut rest = &raw[..];
    while !rest.is_empty() {
        let end = rest
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(rest)));
        let head = String::from_utf8(rest[..end].to_vec()).unwrap();
        let status = head[9..12].parse().unwrap();
        let mut answer = Answer {
            status,
            head,
            body: Vec::new(),
        };
        let length: usize = answer
            .header("content-length")
            .map_or(0, |l| l.parse().unwrap());
        answer.body = rest[end + 4..end + 4 + length].to_vec();
        rest = &rest[end + 4 + length..];
        answers.push(answer);
    }
    answers
}

#[tokio::test]
async fn a_malformed_api_request_gets_the_error_envelope_and_a_page_the_bare_400() {
    let app = spawn_app().await;

    let answers = exchange(
        &app,
        b"GET /v1/status HTTP/1.1\r\nHost: tidegate\r\nX-Bad: a\x00b\r\n\r\n",
    );
    assert_eq!(answers.len(), 1);
    answers[0].assert_refused(400, "headers");
    let message = answers[0].json()["error"]["message"].clone();
    assert_eq!(message, "A request header is malformed.");

    // A broken request line on the management API; a target in absolute form counts by its path.
    for request in [
        &b"POST /api/v1/api-keys HTTP/9.9\r\nHost: tidegate\r\n\r\n"[..],
        b"GET http://tidegate/api/v1/api-keys HTT\x01/1.1\r\nHost: tidegate\r\n\r\n",
        b"\r\nGET /v1/generations?x=\x7f HTTP/1.1\r\nHost: tidegate\r\n\r\n",
    ] {
        let answers = exchange(&app, request);
        assert_eq!(answers.len(), 1, "{request:?}");
        answers[0].assert_refused(400, "request_line");
    }

    // Other machine paths (probes, metrics) answer in the envelope too.
    let answers = exchange(
        &app,
        b"GET /healthz HTTP/1.1\r\nHost: tide gate\x01\r\n\r\n",
    );
    answers[0].assert_refused(400, "headers");

    // A head over the HTTP layer's 128 KiB.
    let mut huge = b"GET /v1/status HTTP/1.1\r\nHost: tidegate\r\n".to_vec();
    for n in 0..200 {
        huge.extend_from_slice(format!("X-Filler-{n}: {}\r\n", "f".repeat(1000)).as_bytes());
    }
    huge.extend_from_slice(b"\r\n");
    let answers = exchange(&app, &huge);
    assert_eq!(answers.len(), 1);
    answers[0].assert_refused(431, "headers");

    // A page keeps the HTTP layer's own answer: a browser never sends such a request.
    let answers = exchange(
        &app,
        b"GET /login HTTP/1.1\r\nHost: tidegate\r\nX-Bad: \x00\r\n\r\n",
    );
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].status, 400);
    assert!(answers[0].body.is_empty());
    assert_eq!(answers[0].header("content-type"), None);
}

#[tokio::test]
async fn the_requests_before_a_malformed_one_on_a_connection_are_answered_first() {
    let app = spawn_app().await;
    let (_, key) = app.create_key(&[]);
    let manager = app.manager_key();

    // A GET, a key created with a body by length and one in chunks, each in full, then a
    // malformed request, all in one write: the bodies are read as bodies, not as requests.
    let body = r#"{"name":"by length","preset":"read_only"}"#;
    let chunked = r#"{"name":"in chunks","preset":"read_only"}"#;
    let (first, second) = chunked.split_at(10);
    let pipelined = format!(
        "GET /v1/status HTTP/1.1\r\nHost: tidegate\r\nAuthorization: Bearer {key}\r\n\r\n\
         POST /api/v1/api-keys HTTP/1.1\r\nHost: tidegate\r\nAuthorization: Bearer {manager}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}\
         POST /api/v1/api-keys HTTP/1.1\r\nHost: tidegate\r\nAuthorization: Bearer {manager}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n\
         {:x}\r\n{first}\r\n{:x}\r\n{second}\r\n0\r\n\r\n\
         GET /v1/status HTTP/1.1\r\nHost: tidegate\r\nX-Bad: \x00\r\n\r\n",
        body.len(),
        first.len(),
        second.len(),
    );
    let answers = exchange(&app, pipelined.as_bytes());
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [200, 200, 200, 400]);
    assert_eq!(
        answers[0].json()["data"]["account_id"],
        app.account_id.as_str()
    );
    assert_eq!(answers[1].json()["data"]["name"], "by length");
    assert_eq!(answers[2].json()["data"]["name"], "in chunks");
    answers[3].assert_refused(400, "headers");
    let ids: Vec<&str> = answers
        .iter()
        .map(|a| a.header("x-request-id").unwrap())
        .collect();
    assert_eq!(
        ids.iter().collect::<std::collections::HashSet<_>>().len(),
        4,
        "{ids:?}"
    );

    // Both keys exist: nothing of the malformed request ran, everything before it did.
    let (status, listed) = app.api("GET", "/api-keys", &manager, None).await;
    assert_eq!(status, 200);
    let names: Vec<&str> = listed["data"]["api_keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["name"].as_str())
        .collect();
    assert!(
        names.contains(&"by length") && names.contains(&"in chunks"),
        "{names:?}"
    );

    // A well-formed connection is kept open between requests, as before.
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let res = client
            .get(format!("{}/v1/status", app.address))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_ne!(
            res.headers().get("connection").map(|v| v.as_bytes()),
            Some(&b"close"[..])
        );
    }
}
