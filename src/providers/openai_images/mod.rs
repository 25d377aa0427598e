//! The `openai_images` adapter: an upstream speaking OpenAI's `POST /v1/images/generations`,
//! such as OpenAI itself or a local inference server with the same API. `base_url` is the
//! server's root, without `/v1`.

use std::time::{Duration, Instant};

use reqwest::Client;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ProviderSpec;
use super::job::{OutputFile, ProviderError, ProviderJob, ProviderOutput};
use super::upstream::{Budget, Upstream, check_count, garbage, read_json, with_specific};
use crate::domain::generation::parse_ratio;

/// The one request is the whole generation, so it may take the provider's whole timeout.
const LONGEST_REQUEST: Duration = Duration::from_secs(3600);

/// The side every size keeps when the ratio is not square.
const SHORT_SIDE: u32 = 1024;

#[derive(Deserialize)]
struct ImagesAnswer {
    data: Vec<ImageData>,
}

#[derive(Deserialize)]
struct ImageData {
    b64_json: Option<String>,
    url: Option<String>,
}

/// An `openai_images` provider.
#[derive(Debug)]
pub struct OpenAiImages {
    upstream: Upstream,
}

impl OpenAiImages {
    /// Fails when the spec's `base_url` is not an http(s) URL.
    pub fn new(spec: &ProviderSpec, client: Client) -> Result<Self, String> {
        Ok(OpenAiImages {
            upstream: Upstream::new(spec, client, LONGEST_REQUEST)?,
        })
    }

    /// Asks for `job.output_number` images and returns them with their sniffed types.
    /// `predict_time` is the time the upstream took to answer.
    pub async fn generate(&self, job: &ProviderJob) -> Result<ProviderOutput, ProviderError> {
        let started = Instant::now();
        let url = self.upstream.url(&["v1", "images", "generations"]);
        let request = self.upstream.post(url).json(&request_body(job));
        let answer: ImagesAnswer = read_json(self.upstream.send(request).await?).await?;
        let predict_time = started.elapsed().as_secs_f64();
        let files = self.files(answer.data, job.output_number).await?;
        Ok(ProviderOutput {
            files,
            predict_time: Some(predict_time),
        })
    }

    async fn files(
        &self,
        data: Vec<ImageData>,
        asked: u32,
    ) -> Result<Vec<OutputFile>, ProviderError> {
        let wanted = check_count(data.len(), asked)?;
        let mut budget = Budget::new();
        let mut files = Vec::with_capacity(wanted);
        for item in data.into_iter().take(wanted) {
            let file = match (item.b64_json, item.url) {
                (Some(b64), _) => self.upstream.file_from_base64(&b64, &mut budget)?,
                (None, Some(url)) => self.upstream.file_from_reference(&url, &mut budget).await?,
                (None, None) => return Err(garbage("an image has neither b64_json nor url")),
            };
            files.push(file);
        }
        Ok(files)
    }
}

/// `POST /v1/images/generations`, before the model-specific fields join it.
#[derive(Serialize)]
struct ImagesRequest<'a> {
    model: &'a str,
    prompt: &'a str,
    n: u32,
    size: String,
    output_format: &'a str,
    response_format: &'static str,
}

fn request_body(job: &ProviderJob) -> Map<String, Value> {
    let request = ImagesRequest {
        model: &job.raw_model_id,
        prompt: &job.prompt,
        n: job.output_number,
        size: size_for_ratio(&job.ratio),
        output_format: output_format(&job.output_format),
        response_format: "b64_json",
    };
    with_specific(&request, &job.specific)
}

/// `WxH` for a `W:H` ratio: the short side 1024, the long side the nearest multiple of 64, which
/// gives OpenAI's own sizes for 1:1, 16:9, 9:16, 3:2 and 2:3.
fn size_for_ratio(ratio: &str) -> String {
    let (w, h) = parse_ratio(ratio).unwrap_or((1, 1));
    let long = |long: u32, short: u32| {
        let exact = f64::from(SHORT_SIDE) * f64::from(long) / f64::from(short);
        (exact / 64.0).round() as u32 * 64
    };
    if w >= h {
        format!("{}x{SHORT_SIDE}", long(w, h))
    } else {
        format!("{SHORT_SIDE}x{}", long(h, w))
    }
}

fn output_format(extension: &str) -> &'static str {
    match extension {
        "jpg" | "jpeg" => "jpeg",
        "webp" => "webp",
        _ => "png",
    }
}

#[cfg(test)]
mod tests;
