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
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ProviderSpec;
use super::job::{OutputFile, PredictionSlot, ProviderError, ProviderJob, ProviderOutput};
use super::upstream::{Budget, Upstream, check_count, garbage, read_json, with_specific};
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

/// `POST /predictions`: the upstream's model and what to make.
#[derive(Serialize)]
struct PredictionRequest<'a> {
    model: &'a str,
    input: Map<String, Value>,
}

/// The prediction's `input`, before the model-specific fields join it.
#[derive(Serialize)]
struct Input<'a> {
    prompt: &'a str,
    ratio: &'a str,
    output_format: &'a str,
    output_number: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    duration: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolution: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    generate_audio: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_file_last_content: Option<&'a str>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    input_files: &'a [String],
}

fn request_body(job: &ProviderJob) -> Value {
    let input = Input {
        prompt: &job.prompt,
        ratio: &job.ratio,
        output_format: &job.output_format,
        output_number: job.output_number,
        duration: job.duration,
        resolution: job.resolution.as_deref(),
        generate_audio: (job.model_type == ModelType::Video).then_some(job.generate_audio),
        input_file_last_content: job.last_frame.as_deref(),
        input_files: &job.input_files,
    };
    let request = PredictionRequest {
        model: &job.raw_model_id,
        input: with_specific(&input, &job.specific),
    };
    serde_json::to_value(request).unwrap_or(Value::Null)
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
mod tests;
