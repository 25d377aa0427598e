//! Fake provider upstreams on loopback: an OpenAI-compatible image server and a submit-then-poll
//! server in one, whose behaviour a test switches at any time.

use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine as _;
use serde_json::{Value, json};

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

fn mode(shared: &Shared) -> Mode {
    *shared.mode.lock().unwrap()
}

async fn images(shared: web::Data<Shared>, body: web::Json<Value>) -> HttpResponse {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    match mode(&shared) {
        Mode::Ok => {
            let n = body["n"].as_u64().unwrap_or(1);
            let data: Vec<Value> = (0..n).map(|_| json!({ "b64_json": b64(&png()) })).collect();
            HttpResponse::Ok().json(json!({ "created": 1, "data": data }))
        }
        Mode::Fail | Mode::FailLater => HttpResponse::InternalServerError()
            .json(json!({ "error": { "message": "the GPU caught fire", "type": "server_error" } })),
        Mode::Garbage => HttpResponse::Ok()
            .content_type("application/json")
            .body("<html>oops"),
        Mode::Hold => {
            tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            HttpResponse::Ok().json(json!({ "data": [] }))
        }
    }
}

async fn submit(shared: web::Data<Shared>, body: web::Json<Value>) -> HttpResponse {
    let n = shared.requests.fetch_add(1, Ordering::SeqCst);
    *shared.last_submit.lock().unwrap() = body.into_inner();
    match mode(&shared) {
        Mode::Fail => HttpResponse::InternalServerError().json(json!({ "error": "down" })),
        _ => {
            HttpResponse::Created().json(json!({ "id": format!("pred_{n}"), "status": "starting" }))
        }
    }
}

async fn poll(shared: web::Data<Shared>, id: web::Path<String>) -> HttpResponse {
    shared.polls.fetch_add(1, Ordering::SeqCst);
    match mode(&shared) {
        Mode::Ok => HttpResponse::Ok().json(json!({
            "id": id.as_str(),
            "status": "succeeded",
            "output": [format!("data:image/png;base64,{}", b64(&png()))],
            "metrics": { "predict_time": 0.25 },
        })),
        Mode::Fail | Mode::FailLater => HttpResponse::Ok()
            .json(json!({ "id": id.as_str(), "status": "failed", "error": "out of memory" })),
        Mode::Garbage => HttpResponse::Ok().body("garbage"),
        Mode::Hold => HttpResponse::Ok().json(json!({ "id": id.as_str(), "status": "processing" })),
    }
}

async fn cancel(shared: web::Data<Shared>, id: web::Path<String>) -> HttpResponse {
    shared.cancels.fetch_add(1, Ordering::SeqCst);
    HttpResponse::Ok().json(json!({ "id": id.as_str(), "status": "canceled" }))
}

pub fn start(initial: Mode) -> Upstream {
    let shared = Shared {
        mode: Arc::new(Mutex::new(initial)),
        requests: Arc::new(AtomicUsize::new(0)),
        polls: Arc::new(AtomicUsize::new(0)),
        cancels: Arc::new(AtomicUsize::new(0)),
        last_submit: Arc::new(Mutex::new(Value::Null)),
    };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let data = web::Data::new(shared.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/v1/images/generations", web::post().to(images))
            .route("/predictions", web::post().to(submit))
            .route("/predictions/{id}", web::get().to(poll))
            .route("/predictions/{id}/cancel", web::post().to(cancel))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    Upstream { url, shared }
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
        alpha: start(Mode::Ok),
        beta: start(Mode::Ok),
        queue: start(Mode::Hold),
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
