//! Reading what an upstream answered: bodies read up to a cap, JSON, error messages and
//! credit refusals, and produced files sent inline or as references.

use std::error::Error as _;

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use reqwest::{Response, Url};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::super::job::{OutputFile, ProviderError, sniff_extension};

/// Largest single produced file.
pub const MAX_FILE_BYTES: usize = 50 * 1024 * 1024;
/// Largest total of one generation's files, and largest JSON answer.
pub const MAX_TOTAL_BYTES: usize = 256 * 1024 * 1024;

/// Longest excerpt of an upstream message kept in an error.
pub(super) const EXCERPT_CHARS: usize = 200;
/// Error codes with which OpenAI-style upstreams say the account has no credit left.
const OUT_OF_CREDIT_CODES: [&str; 2] = ["insufficient_quota", "billing_hard_limit_reached"];

/// Upstreams may pad base64 or not.
pub(super) const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What is left of one generation's byte allowance.
#[derive(Debug)]
pub(crate) struct Budget(usize);

impl Budget {
    pub(crate) fn new() -> Self {
        Budget(MAX_TOTAL_BYTES)
    }

    /// Largest next file.
    pub(super) fn cap(&self) -> usize {
        self.0.min(MAX_FILE_BYTES)
    }

    pub(super) fn take(&mut self, bytes: usize) -> Result<(), ProviderError> {
        if bytes > self.cap() {
            return Err(too_large());
        }
        self.0 -= bytes;
        Ok(())
    }
}

/// A 2xx answer's JSON body as `T`; anything else is garbage.
pub(crate) async fn read_json<T: DeserializeOwned>(response: Response) -> Result<T, ProviderError> {
    let body = read_capped(response, MAX_TOTAL_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| {
        // serde's message can quote the body: keep it short.
        let reason: String = e.to_string().chars().take(EXCERPT_CHARS).collect();
        garbage(&format!("not the expected JSON ({reason})"))
    })
}

/// Fewer files than asked is a failed attempt; extra ones are dropped.
pub(crate) fn check_count(produced: usize, asked: u32) -> Result<usize, ProviderError> {
    let asked = usize::try_from(asked).unwrap_or(usize::MAX);
    if produced < asked {
        return Err(garbage(&format!("asked for {asked} files, got {produced}")));
    }
    Ok(asked)
}

/// Adds the model-specific fields to a request body; they never replace a field the adapter set.
/// The body `fields` serialize to, with the model-specific fields beside them (a field the
/// adapter sets itself keeps its value).
pub(crate) fn with_specific(
    fields: &impl serde::Serialize,
    specific: &Map<String, Value>,
) -> Map<String, Value> {
    let mut body = match serde_json::to_value(fields) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    for (name, value) in specific {
        body.entry(name.clone()).or_insert_with(|| value.clone());
    }
    body
}

pub(crate) fn garbage(reason: &str) -> ProviderError {
    ProviderError::Garbage(reason.to_owned())
}

pub(super) fn too_large() -> ProviderError {
    garbage("the answer is larger than allowed")
}

pub(super) fn is_web(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

pub(super) async fn read_capped(
    mut response: Response,
    cap: usize,
) -> Result<Vec<u8>, ProviderError> {
    if response
        .content_length()
        .is_some_and(|length| length > cap as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > cap {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A request that got no answer: timed out, or could not connect or finish. The URL is left out
/// of the message (it may carry a signed query).
pub(super) fn transport(error: reqwest::Error) -> ProviderError {
    if error.is_timeout() {
        return ProviderError::Timeout;
    }
    let error = error.without_url();
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ProviderError::Transport(message.chars().take(EXCERPT_CHARS).collect())
}

/// `error.message` (OpenAI), or a bare `error`, `message` or `detail` string.
pub(super) fn error_message(body: &Value) -> Option<&str> {
    ["/error/message", "/error", "/message", "/detail"]
        .iter()
        .find_map(|pointer| body.pointer(pointer).and_then(Value::as_str))
}

pub(super) fn says_out_of_credit(body: &Value) -> bool {
    ["/error/code", "/error/type", "/code"]
        .iter()
        .any(|pointer| {
            body.pointer(pointer)
                .and_then(Value::as_str)
                .is_some_and(|code| OUT_OF_CREDIT_CODES.contains(&code))
        })
}

pub(super) fn decode_base64(data: &str) -> Result<Vec<u8>, ProviderError> {
    let result = if data.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        BASE64.decode(compact)
    } else {
        BASE64.decode(data)
    };
    result.map_err(|_| garbage("an output file is not valid base64"))
}

pub(super) fn file_from_bytes(bytes: Vec<u8>) -> Result<OutputFile, ProviderError> {
    let extension = sniff_extension(&bytes)
        .ok_or_else(|| garbage("an output file is not a known image or video format"))?;
    Ok(OutputFile {
        bytes,
        extension: extension.to_owned(),
    })
}
