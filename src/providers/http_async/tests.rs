use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::*;
use crate::providers::ProviderKind;
use crate::providers::upstream::client;
use crate::providers::upstream::testing::{fake_upstream, job, spec, tiny_png};
use serde_json::json;

/// What the fake upstream saw.
#[derive(Default)]
struct Seen {
    auth: Option<String>,
    submitted: Option<Value>,
    polls: usize,
    /// What the worker's slot held when the first poll arrived.
    slot_at_first_poll: Option<String>,
    canceled: Vec<String>,
}

type Log = Arc<Mutex<Seen>>;

/// One status and body per step: the submit's, then each poll's (the last one repeats).
type Script = Vec<(u16, String)>;

/// The fake upstream's prediction routes.
struct Predictions {
    seen: Log,
    script: Script,
    slot: PredictionSlot,
    route: Route,
}

enum Route {
    Submit,
    Poll,
    Cancel,
}

impl Respond for Predictions {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut seen = self.seen.lock().unwrap();
        let id = request.url.path_segments().and_then(|mut s| s.nth(1));
        match self.route {
            Route::Submit => {
                seen.auth = header(request, "authorization");
                seen.submitted = request.body_json().ok();
                answer(&self.script[0])
            }
            Route::Poll => {
                seen.polls += 1;
                if seen.polls == 1 {
                    seen.slot_at_first_poll = self.slot.get();
                }
                let step = seen.polls.min(self.script.len() - 1);
                match id {
                    Some("p-1") => answer(&self.script[step]),
                    _ => answer(&(404, "{}".to_owned())),
                }
            }
            Route::Cancel => {
                let id = id.unwrap_or_default().to_owned();
                let status = if id == "p-1" { 200 } else { 404 };
                seen.canceled.push(id);
                answer(&(status, "{}".to_owned()))
            }
        }
    }
}

/// A fake upstream answering the submit with `script[0]` and each poll with the next entry
/// (the last one repeats). It knows prediction `p-1` only, and serves a PNG under `/files/`.
async fn fake(script: Script, slot: PredictionSlot) -> (MockServer, Log) {
    let seen = Log::default();
    let upstream = fake_upstream().await;
    let routes = [
        (Route::Submit, "POST", "^/predictions$"),
        (Route::Poll, "GET", "^/predictions/[^/]+$"),
        (Route::Cancel, "POST", "^/predictions/[^/]+/cancel$"),
    ];
    for (route, verb, pattern) in routes {
        let predictions = Predictions {
            seen: seen.clone(),
            script: script.clone(),
            slot: slot.clone(),
            route,
        };
        Mock::given(method(verb))
            .and(path_regex(pattern))
            .respond_with(predictions)
            .mount(&upstream)
            .await;
    }
    Mock::given(method("GET"))
        .and(path_regex("^/files/[^/]+$"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(tiny_png()))
        .mount(&upstream)
        .await;
    (upstream, seen)
}

fn header(request: &Request, name: &str) -> Option<String> {
    Some(request.headers.get(name)?.to_str().ok()?.to_owned())
}

fn answer((status, body): &(u16, String)) -> ResponseTemplate {
    ResponseTemplate::new(*status).set_body_raw(body.clone(), "application/json")
}

fn ok(body: Value) -> (u16, String) {
    (200, body.to_string())
}

fn started() -> (u16, String) {
    (
        201,
        json!({ "id": "p-1", "status": "starting" }).to_string(),
    )
}

fn processing() -> (u16, String) {
    ok(json!({ "id": "p-1", "status": "processing" }))
}

fn png_data_url() -> String {
    format!("data:image/png;base64,{}", STANDARD.encode(tiny_png()))
}

fn adapter(fake: &MockServer) -> HttpAsync {
    HttpAsync::new(
        &spec(ProviderKind::HttpAsync, &fake.uri()),
        client().unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn a_prediction_is_submitted_polled_twice_and_its_files_returned() {
    let slot = PredictionSlot::default();
    let done = ok(json!({
        "id": "p-1", "status": "succeeded",
        "output": [png_data_url(), png_data_url()],
        "metrics": { "predict_time": 1.5 }
    }));
    let (fake, seen) = fake(vec![started(), processing(), done], slot.clone()).await;
    let mut job = job(2);
    job.specific.insert("seed".to_owned(), json!(7));

    let output = adapter(&fake).generate(&job, &slot).await.unwrap();

    assert_eq!(output.files.len(), 2);
    assert!(output.files.iter().all(|f| f.extension == "png"));
    assert_eq!(output.predict_time, Some(1.5));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.polls, 2);
    assert_eq!(seen.auth.as_deref(), Some("Bearer sk-test-secret"));
    assert_eq!(
        seen.submitted,
        Some(json!({
            "model": "painter-v2",
            "input": {
                "prompt": "a lighthouse at dusk", "ratio": "16:9", "output_format": "png",
                "output_number": 2, "seed": 7
            }
        }))
    );
}

#[tokio::test]
async fn the_prediction_id_reaches_the_slot_before_the_first_poll() {
    let slot = PredictionSlot::default();
    let done = ok(json!({ "id": "p-1", "status": "succeeded", "output": [png_data_url()] }));
    let (fake, seen) = fake(vec![started(), done], slot.clone()).await;

    adapter(&fake).generate(&job(1), &slot).await.unwrap();

    assert_eq!(
        seen.lock().unwrap().slot_at_first_poll.as_deref(),
        Some("p-1")
    );
    assert_eq!(slot.get().as_deref(), Some("p-1"));
}

#[tokio::test]
async fn url_outputs_are_downloaded_and_a_final_submit_answer_is_not_polled() {
    let slot = PredictionSlot::default();
    let done = (
        201,
        json!({ "id": "p-1", "status": "succeeded", "output": "/files/out.png" }).to_string(),
    );
    let (fake, seen) = fake(vec![done], slot.clone()).await;

    let output = adapter(&fake).generate(&job(1), &slot).await.unwrap();

    assert_eq!(output.files[0].bytes, tiny_png());
    assert_eq!(seen.lock().unwrap().polls, 0);
}

#[tokio::test]
async fn a_failed_prediction_is_a_failure_with_the_upstream_reason() {
    let slot = PredictionSlot::default();
    let failed = ok(json!({ "id": "p-1", "status": "failed", "error": "CUDA out of memory" }));
    let (fake, _) = fake(vec![started(), failed], slot.clone()).await;

    let err = adapter(&fake).generate(&job(1), &slot).await.unwrap_err();

    assert_eq!(err, ProviderError::Failed("CUDA out of memory".to_owned()));
}

#[tokio::test]
async fn a_prediction_cut_off_by_the_caller_can_be_canceled_by_its_id() {
    let slot = PredictionSlot::default();
    let (fake, seen) = fake(vec![started(), processing()], slot.clone()).await;
    let adapter = adapter(&fake);
    let job = job(1);

    let outcome =
        tokio::time::timeout(Duration::from_millis(300), adapter.generate(&job, &slot)).await;
    assert!(outcome.is_err());
    let id = slot.get().unwrap();

    assert!(adapter.cancel(&id).await);
    assert!(!adapter.cancel("p-unknown").await);
    assert!(!adapter.cancel("../p-1").await);
    assert_eq!(seen.lock().unwrap().canceled, ["p-1", "p-unknown"]);
}

#[tokio::test]
async fn refusals_map_to_status_credits_and_garbage() {
    let cases = [
        (
            vec![(500, json!({ "error": "boom" }).to_string())],
            "status",
        ),
        (vec![(402, "{}".to_owned())], "credits"),
        (vec![started(), (200, "<html>".to_owned())], "garbage"),
        (
            vec![started(), ok(json!({ "id": "p-1", "status": "dreaming" }))],
            "garbage",
        ),
        (vec![ok(json!({ "status": "starting" }))], "garbage"),
        (
            vec![
                started(),
                ok(json!({ "id": "p-1", "status": "succeeded", "output": [] })),
            ],
            "garbage",
        ),
    ];
    for (script, expected) in cases {
        let slot = PredictionSlot::default();
        let (fake, _) = fake(script, slot.clone()).await;
        let err = adapter(&fake).generate(&job(1), &slot).await.unwrap_err();
        let kind = match err {
            ProviderError::Status {
                status: 500,
                ref message,
            } if message == "boom" => "status",
            ProviderError::CreditsExhausted => "credits",
            ProviderError::Garbage(_) => "garbage",
            _ => "other",
        };
        assert_eq!(kind, expected, "{err:?}");
    }
}

#[test]
fn video_jobs_send_their_video_fields() {
    let mut job = job(1);
    job.model_type = ModelType::Video;
    job.duration = Some(4);
    job.resolution = Some("720p".to_owned());
    job.generate_audio = true;
    job.input_files = vec!["https://example.com/a.png".to_owned()];

    let input = request_body(&job)["input"].clone();

    assert_eq!(input["duration"], 4);
    assert_eq!(input["resolution"], "720p");
    assert_eq!(input["generate_audio"], true);
    assert_eq!(input["input_files"], json!(["https://example.com/a.png"]));
}

#[test]
fn prediction_ids_that_could_escape_the_path_are_refused() {
    for id in ["p-1", "0a1b2c", "run:42", "v1.abc_d"] {
        assert!(valid_id(id), "{id}");
    }
    for id in ["", "..", "a/b", "a b", "a?b", &"x".repeat(129)] {
        assert!(!valid_id(id), "{id}");
    }
}
