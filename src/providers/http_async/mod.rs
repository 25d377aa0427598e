//! The `http_async` adapter: an upstream that takes a prediction, works on it, and is polled until
//! it is done. The protocol is Tidegate's own, modelled on the common prediction APIs.
//!
//! Every request carries `Authorization: Bearer <secret>` when the provider has a secret.
//!
//! 1. Submit: `POST {base_url}/predictions` with
//!    `{ "model": "<provider's model id>", "input": { "prompt", "ratio", "output_format",
//!    "output_number", "duration"?, "resolution"?, "generate_audio"? (video), "input_files"?, "input_file_last_content"? (video),
//!    ...model-specific fields } }`. Any 2xx answer is a prediction:
//!    `{ "id": "...", "status": "starting" }` (ids are 1-128 of `A-Z a-z 0-9 . _ : -`).
//! 2. Poll: `GET {base_url}/predictions/{id}` answers
//!    `{ "id", "status": "starting" | "processing" | "succeeded" | "failed" | "canceled",
//!    "output": ["<url>" | "data:<mime>;base64,..."], "error": "..."?,
//!    "metrics": { "predict_time": <seconds> }? }`, every `poll_interval_ms` until the status is
//!    final. A submit answer that is already final is not polled. `output` URLs are http(s),
//!    absolute or relative to `base_url`; at least `output_number` of them.
//! 3. Cancel: `POST {base_url}/predictions/{id}/cancel`; any 2xx answer means accepted.
//!
//! Refusals are mapped as for every HTTP provider: 402, or an error code `insufficient_quota` /
//! `billing_hard_limit_reached`, means the credits are exhausted; other non-2xx answers are
//! errors with an excerpt of `error.message` (or `error`, `message`, `detail`).

use std::time::{Duration, Instant};

use reqwest::Client;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::job::{OutputFile, PredictionSlot, ProviderError, ProviderJob, ProviderOutput};
use super::spec::ProviderSpec;
use super::upstream::{Budget, Upstream, check_count, garbage, merge_specific, read_json};
use crate::domain::generation::ModelType;

/// Submits, polls and cancels are short; the whole attempt is bounded by the worker.
const LONGEST_REQUEST: Duration = Duration::from_secs(30);
/// Polls never come closer together than this, whatever the configuration says.
const SHORTEST_POLL: Duration = Duration::from_millis(10);
const LONGEST_ID: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Starting,
    Processing,
    Succeeded,
    Failed,
    #[serde(alias = "cancelled")]
    Canceled,
}

impl Status {
    fn is_final(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed | Status::Canceled)
    }
}

#[derive(Deserialize)]
struct Prediction {
    #[serde(default)]
    id: Option<String>,
    status: Status,
    #[serde(default)]
    output: Option<Output>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    metrics: Option<Metrics>,
}

/// A list of files; a single string is accepted as a list of one.
#[derive(Deserialize)]
#[serde(untagged)]
enum Output {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
struct Metrics {
    predict_time: Option<f64>,
}

/// An `http_async` provider.
#[derive(Debug)]
pub struct HttpAsync {
    upstream: Upstream,
    poll_interval: Duration,
}

impl HttpAsync {
    /// Fails when the spec's `base_url` is not an http(s) URL.
    pub fn new(spec: &ProviderSpec, client: Client) -> Result<Self, String> {
        Ok(HttpAsync {
            upstream: Upstream::new(spec, client, LONGEST_REQUEST)?,
            poll_interval: Duration::from_millis(spec.poll_interval_ms).max(SHORTEST_POLL),
        })
    }

    /// Submits the job, puts the upstream's prediction id in `slot` as soon as it is known, and
    /// polls until the prediction is final. Polls for ever: the caller bounds the attempt.
    pub async fn generate(
        &self,
        job: &ProviderJob,
        slot: &PredictionSlot,
    ) -> Result<ProviderOutput, ProviderError> {
        let started = Instant::now();
        let submitted = self.submit(job).await?;
        let id = submitted
            .id
            .clone()
            .filter(|id| valid_id(id))
            .ok_or_else(|| garbage("the submitted prediction has no usable id"))?;
        slot.set(&id);
        let finished = if submitted.status.is_final() {
            submitted
        } else {
            self.wait(&id).await?
        };
        self.outcome(finished, job.output_number, started).await
    }

    /// Asks the upstream to cancel a prediction; true when it answered 2xx.
    pub async fn cancel(&self, prediction_id: &str) -> bool {
        if !valid_id(prediction_id) {
            return false;
        }
        let url = self.upstream.url(&["predictions", prediction_id, "cancel"]);
        self.upstream.send(self.upstream.post(url)).await.is_ok()
    }

    async fn submit(&self, job: &ProviderJob) -> Result<Prediction, ProviderError> {
        let url = self.upstream.url(&["predictions"]);
        let request = self.upstream.post(url).json(&request_body(job));
        read_json(self.upstream.send(request).await?).await
    }

    async fn wait(&self, id: &str) -> Result<Prediction, ProviderError> {
        let url = self.upstream.url(&["predictions", id]);
        loop {
            tokio::time::sleep(self.poll_interval).await;
            let request = self.upstream.get(url.clone());
            let prediction: Prediction = read_json(self.upstream.send(request).await?).await?;
            if prediction.status.is_final() {
                return Ok(prediction);
            }
        }
    }

    async fn outcome(
        &self,
        prediction: Prediction,
        asked: u32,
        started: Instant,
    ) -> Result<ProviderOutput, ProviderError> {
        match prediction.status {
            Status::Succeeded => {
                let files = self.files(prediction.output, asked).await?;
                let reported = prediction.metrics.and_then(|m| m.predict_time);
                let predict_time = reported
                    .filter(|t| t.is_finite() && *t >= 0.0)
                    .unwrap_or_else(|| started.elapsed().as_secs_f64());
                Ok(ProviderOutput {
                    files,
                    predict_time: Some(predict_time),
                })
            }
            Status::Failed => Err(ProviderError::Failed(
                self.failure_reason(prediction.error.as_ref()),
            )),
            Status::Canceled => Err(ProviderError::Failed(
                "the upstream canceled the prediction".to_owned(),
            )),
            Status::Starting | Status::Processing => Err(garbage("the prediction is not done")),
        }
    }

    async fn files(
        &self,
        output: Option<Output>,
        asked: u32,
    ) -> Result<Vec<OutputFile>, ProviderError> {
        let references = match output {
            Some(Output::Many(list)) => list,
            Some(Output::One(one)) => vec![one],
            None => Vec::new(),
        };
        let wanted = check_count(references.len(), asked)?;
        let mut budget = Budget::new();
        let mut files = Vec::with_capacity(wanted);
        for reference in references.iter().take(wanted) {
            files.push(
                self.upstream
                    .file_from_reference(reference, &mut budget)
                    .await?,
            );
        }
        Ok(files)
    }

    fn failure_reason(&self, error: Option<&Value>) -> String {
        let message = error.and_then(|e| e.as_str().or_else(|| e.pointer("/message")?.as_str()));
        self.upstream.excerpt(message.unwrap_or("no reason given"))
    }
}

fn request_body(job: &ProviderJob) -> Value {
    let mut input = Map::new();
    input.insert("prompt".to_owned(), json!(job.prompt));
    input.insert("ratio".to_owned(), json!(job.ratio));
    input.insert("output_format".to_owned(), json!(job.output_format));
    input.insert("output_number".to_owned(), json!(job.output_number));
    if let Some(duration) = job.duration {
        input.insert("duration".to_owned(), json!(duration));
    }
    if let Some(resolution) = &job.resolution {
        input.insert("resolution".to_owned(), json!(resolution));
    }
    if job.model_type == ModelType::Video {
        input.insert("generate_audio".to_owned(), json!(job.generate_audio));
    }
    if let Some(frame) = &job.last_frame {
        input.insert("input_file_last_content".to_owned(), json!(frame));
    }
    if !job.input_files.is_empty() {
        input.insert("input_files".to_owned(), json!(job.input_files));
    }
    merge_specific(&mut input, &job.specific);
    json!({ "model": job.raw_model_id, "input": input })
}

/// Whether an upstream's prediction id is safe to keep and to put in a URL path.
fn valid_id(id: &str) -> bool {
    id.len() <= LONGEST_ID
        && id.bytes().any(|b| b.is_ascii_alphanumeric())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use actix_web::{HttpRequest, HttpResponse, web};
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::providers::ProviderKind;
    use crate::providers::upstream::client;
    use crate::providers::upstream::testing::{FakeUpstream, job, spec, tiny_png};

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

    /// A fake upstream answering the submit with `script[0]` and each poll with the next entry
    /// (the last one repeats). It knows prediction `p-1` only, and serves a PNG under `/files/`.
    fn fake(script: Vec<(u16, String)>, slot: PredictionSlot) -> (FakeUpstream, Log) {
        let seen = Log::default();
        let log = seen.clone();
        let upstream = FakeUpstream::start(move |cfg| {
            let (submit_log, poll_log, cancel_log) = (log.clone(), log.clone(), log.clone());
            let (submit_script, poll_script, slot) = (script.clone(), script.clone(), slot.clone());
            cfg.route(
                "/predictions",
                web::post().to(move |req: HttpRequest, body: web::Json<Value>| {
                    let mut seen = submit_log.lock().unwrap();
                    seen.auth = header(&req, "authorization");
                    seen.submitted = Some(body.into_inner());
                    answer(&submit_script[0])
                }),
            )
            .route(
                "/predictions/{id}",
                web::get().to(move |id: web::Path<String>| {
                    let mut seen = poll_log.lock().unwrap();
                    seen.polls += 1;
                    if seen.polls == 1 {
                        seen.slot_at_first_poll = slot.get();
                    }
                    let step = seen.polls.min(poll_script.len() - 1);
                    match id.as_str() {
                        "p-1" => answer(&poll_script[step]),
                        _ => answer(&(404, "{}".to_owned())),
                    }
                }),
            )
            .route(
                "/predictions/{id}/cancel",
                web::post().to(move |id: web::Path<String>| {
                    cancel_log.lock().unwrap().canceled.push(id.clone());
                    let status = if id.as_str() == "p-1" { 200 } else { 404 };
                    answer(&(status, "{}".to_owned()))
                }),
            )
            .route(
                "/files/{name}",
                web::get().to(|| async { HttpResponse::Ok().body(tiny_png()) }),
            );
        });
        (upstream, seen)
    }

    fn header(req: &HttpRequest, name: &str) -> Option<String> {
        Some(req.headers().get(name)?.to_str().ok()?.to_owned())
    }

    fn answer((status, body): &(u16, String)) -> std::future::Ready<HttpResponse> {
        let status = actix_web::http::StatusCode::from_u16(*status).unwrap();
        std::future::ready(
            HttpResponse::build(status)
                .content_type("application/json")
                .body(body.clone()),
        )
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

    fn adapter(fake: &FakeUpstream) -> HttpAsync {
        HttpAsync::new(
            &spec(ProviderKind::HttpAsync, &fake.base_url),
            client().unwrap(),
        )
        .unwrap()
    }

    #[actix_web::test]
    async fn a_prediction_is_submitted_polled_twice_and_its_files_returned() {
        let slot = PredictionSlot::default();
        let done = ok(json!({
            "id": "p-1", "status": "succeeded",
            "output": [png_data_url(), png_data_url()],
            "metrics": { "predict_time": 1.5 }
        }));
        let (fake, seen) = fake(vec![started(), processing(), done], slot.clone());
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

    #[actix_web::test]
    async fn the_prediction_id_reaches_the_slot_before_the_first_poll() {
        let slot = PredictionSlot::default();
        let done = ok(json!({ "id": "p-1", "status": "succeeded", "output": [png_data_url()] }));
        let (fake, seen) = fake(vec![started(), done], slot.clone());

        adapter(&fake).generate(&job(1), &slot).await.unwrap();

        assert_eq!(
            seen.lock().unwrap().slot_at_first_poll.as_deref(),
            Some("p-1")
        );
        assert_eq!(slot.get().as_deref(), Some("p-1"));
    }

    #[actix_web::test]
    async fn url_outputs_are_downloaded_and_a_final_submit_answer_is_not_polled() {
        let slot = PredictionSlot::default();
        let done = (
            201,
            json!({ "id": "p-1", "status": "succeeded", "output": "/files/out.png" }).to_string(),
        );
        let (fake, seen) = fake(vec![done], slot.clone());

        let output = adapter(&fake).generate(&job(1), &slot).await.unwrap();

        assert_eq!(output.files[0].bytes, tiny_png());
        assert_eq!(seen.lock().unwrap().polls, 0);
    }

    #[actix_web::test]
    async fn a_failed_prediction_is_a_failure_with_the_upstream_reason() {
        let slot = PredictionSlot::default();
        let failed = ok(json!({ "id": "p-1", "status": "failed", "error": "CUDA out of memory" }));
        let (fake, _) = fake(vec![started(), failed], slot.clone());

        let err = adapter(&fake).generate(&job(1), &slot).await.unwrap_err();

        assert_eq!(err, ProviderError::Failed("CUDA out of memory".to_owned()));
    }

    #[actix_web::test]
    async fn a_prediction_cut_off_by_the_caller_can_be_canceled_by_its_id() {
        let slot = PredictionSlot::default();
        let (fake, seen) = fake(vec![started(), processing()], slot.clone());
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

    #[actix_web::test]
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
            let (fake, _) = fake(script, slot.clone());
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
}
