//! Fake provider upstreams on loopback: an OpenAI-compatible image server and a submit-then-poll
//! server in one, whose behaviour a test switches at any time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::{TestApp, spawn_app_in};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answers at once with valid PNG output.
    Ok,
    /// HTTP 500 with an error body.
    Fail,
    /// HTTP 200 with a body that is not JSON.
    Garbage,
    /// Takes 30 s (image route) or stays `processing` (predictions).
    Hold,
    /// Predictions are accepted, then reported `failed` (the image route answers as `Fail`).
    FailLater,
}

#[derive(Clone)]
struct Shared {
    mode: Arc<Mutex<Mode>>,
    requests: Arc<AtomicUsize>,
    polls: Arc<AtomicUsize>,
    cancels: Arc<AtomicUsize>,
    last_submit: Arc<Mutex<Value>>,
}

pub struct Upstream {
    pub url: String,
    shared: Shared,
    /// Serves until dropped.
    _server: MockServer,
}

impl Upstream {
    pub fn set(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    /// Generation requests received (image calls and prediction submits).
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Polls of predictions received. The worker knows a prediction's id before its first poll,
    /// so from then on a cancel reaches the upstream.
    pub fn polls(&self) -> usize {
        self.shared.polls.load(Ordering::SeqCst)
    }

    pub fn cancels(&self) -> usize {
        self.shared.cancels.load(Ordering::SeqCst)
    }

    /// The body of the last prediction submitted.
    pub fn last_submit(&self) -> Value {
        self.shared.last_submit.lock().unwrap().clone()
    }
}

pub fn png() -> Vec<u8> {
    let img = image::RgbImage::from_fn(16, 16, |x, y| image::Rgb([x as u8 * 16, y as u8 * 16, 99]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// The prediction id in `/predictions/{id}[/cancel]`.
fn prediction_id(request: &Request) -> String {
    let id = request.url.path_segments().and_then(|mut s| s.nth(1));
    id.unwrap_or_default().to_owned()
}

/// How a route answers, given the fake's state.
type Answer = fn(&Shared, &Request) -> ResponseTemplate;

/// One route of the fake, answering by the mode of the moment.
struct Route {
    shared: Shared,
    answer: Answer,
}

impl Respond for Route {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        (self.answer)(&self.shared, request)
    }
}

fn mode(shared: &Shared) -> Mode {
    *shared.mode.lock().unwrap()
}

fn images(shared: &Shared, request: &Request) -> ResponseTemplate {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    match mode(shared) {
        Mode::Ok => {
            let body: Value = request.body_json().unwrap_or(Value::Null);
            let n = body["n"].as_u64().unwrap_or(1);
            let data: Vec<Value> = (0..n).map(|_| json!({ "b64_json": b64(&png()) })).collect();
            ok(json!({ "created": 1, "data": data }))
        }
        Mode::Fail | Mode::FailLater => ResponseTemplate::new(500).set_body_json(
            json!({ "error": { "message": "the GPU caught fire", "type": "server_error" } }),
        ),
        Mode::Garbage => ResponseTemplate::new(200).set_body_raw("<html>oops", "application/json"),
        Mode::Hold => ok(json!({ "data": [] })).set_delay(Duration::from_secs(30)),
    }
}

fn submit(shared: &Shared, request: &Request) -> ResponseTemplate {
    let n = shared.requests.fetch_add(1, Ordering::SeqCst);
    *shared.last_submit.lock().unwrap() = request.body_json().unwrap_or(Value::Null);
    match mode(shared) {
        Mode::Fail => ResponseTemplate::new(500).set_body_json(json!({ "error": "down" })),
        _ => ResponseTemplate::new(201)
            .set_body_json(json!({ "id": format!("pred_{n}"), "status": "starting" })),
    }
}

fn poll(shared: &Shared, request: &Request) -> ResponseTemplate {
    shared.polls.fetch_add(1, Ordering::SeqCst);
    let id = prediction_id(request);
    match mode(shared) {
        Mode::Ok => ok(json!({
            "id": id,
            "status": "succeeded",
            "output": [format!("data:image/png;base64,{}", b64(&png()))],
            "metrics": { "predict_time": 0.25 },
        })),
        Mode::Fail | Mode::FailLater => {
            ok(json!({ "id": id, "status": "failed", "error": "out of memory" }))
        }
        Mode::Garbage => ResponseTemplate::new(200).set_body_string("garbage"),
        Mode::Hold => ok(json!({ "id": id, "status": "processing" })),
    }
}

fn cancel(shared: &Shared, request: &Request) -> ResponseTemplate {
    shared.cancels.fetch_add(1, Ordering::SeqCst);
    ok(json!({ "id": prediction_id(request), "status": "canceled" }))
}

pub async fn start(initial: Mode) -> Upstream {
    let shared = Shared {
        mode: Arc::new(Mutex::new(initial)),
        requests: Arc::new(AtomicUsize::new(0)),
        polls: Arc::new(AtomicUsize::new(0)),
        cancels: Arc::new(AtomicUsize::new(0)),
        last_submit: Arc::new(Mutex::new(Value::Null)),
    };
    // Its own server, not one from wiremock's pool: nothing of an earlier test reaches it.
    let server = MockServer::builder().start().await;
    let routes: [(&str, &str, Answer); 4] = [
        ("POST", "^/v1/images/generations$", images),
        ("POST", "^/predictions$", submit),
        ("GET", "^/predictions/[^/]+$", poll),
        ("POST", "^/predictions/[^/]+/cancel$", cancel),
    ];
    for (verb, pattern, answer) in routes {
        let route = Route {
            shared: shared.clone(),
            answer,
        };
        Mock::given(method(verb))
            .and(path_regex(pattern))
            .respond_with(route)
            .mount(&server)
            .await;
    }
    Upstream {
        url: server.uri(),
        shared,
        _server: server,
    }
}

/// The embedded catalog plus HTTP providers: `alpha` and `beta` (openai_images) serving
/// `remote/painter` in that order, and `queue` (http_async) serving `remote/slow` and the video
/// model `remote/clip`.
pub fn catalog(alpha: &str, beta: &str, queue: &str) -> String {
    format!(
        r#"{base}
[[providers]]
id = "alpha"
name = "Alpha"
kind = "openai_images"
base_url = "{alpha}"
secret = "sk-alpha-secret"
timeout_seconds = 1.5
breaker = {{ window_seconds = 600, min_attempts = 3, failure_rate = 0.5, cooldown_seconds = 3600 }}

[[providers]]
id = "beta"
name = "Beta"
kind = "openai_images"
base_url = "{beta}"
timeout_seconds = 5

[[providers]]
id = "queue"
name = "Queue"
kind = "http_async"
base_url = "{queue}"
timeout_seconds = 60
poll_interval_ms = 20

[[models]]
identifier = "remote/painter"
type = "image"
pricing = 0.050
ratios = ["1:1", "16:9"]
formats = ["png", "webp"]
max_outputs = 2
input_file = true
providers = [{{ provider = "alpha", model = "paint-v1" }}, {{ provider = "beta", model = "paint-v2" }}]

[[models]]
identifier = "remote/slow"
type = "image"
pricing = 0.020
ratios = ["1:1"]
formats = ["png"]
max_outputs = 1
providers = [{{ provider = "queue", model = "slow-v1" }}]

[[models]]
identifier = "remote/clip"
type = "video"
pricing = 0.010
ratios = ["16:9"]
formats = ["mp4"]
max_outputs = 1
input_file = true
durations = [2]
resolutions = ["720p"]
providers = [{{ provider = "queue", model = "clip-v1" }}]
"#,
        base = include_str!("../../config/models.toml")
    )
}

pub struct Fakes {
    pub alpha: Upstream,
    pub beta: Upstream,
    pub queue: Upstream,
}

/// A server whose catalog adds the fake upstreams, and the upstreams.
pub async fn app_with_fakes(extra: &[(&str, Value)]) -> (TestApp, Fakes) {
    let (mut app, fakes) = app_with_fakes_in(tempfile::tempdir().unwrap(), extra).await;
    let account = app.cli_json(&["accounts", "create", "--name", "Acme"]);
    app.account_id = account["id"].as_str().unwrap().to_owned();
    (app, fakes)
}

/// The same on a given data directory; `account_id` is left empty.
pub async fn app_with_fakes_in(
    data_dir: tempfile::TempDir,
    extra: &[(&str, Value)],
) -> (TestApp, Fakes) {
    let fakes = Fakes {
        alpha: start(Mode::Ok).await,
        beta: start(Mode::Ok).await,
        queue: start(Mode::Hold).await,
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("models.toml");
    std::fs::write(
        &path,
        catalog(&fakes.alpha.url, &fakes.beta.url, &fakes.queue.url),
    )
    .unwrap();
    let mut overrides = vec![("generation.catalog", json!(path))];
    overrides.extend(extra.iter().cloned());
    // The catalog is read once, at start-up; the file may go afterwards.
    let app = spawn_app_in(data_dir, &overrides).await;
    (app, fakes)
}
