//! What a provider is asked to do and what it answers; shared by every adapter.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::domain::generation::ModelType;

/// One generation as a provider sees it: the unified fields, already validated against the model.
#[derive(Clone, Debug)]
pub struct ProviderJob {
    pub generation_id: String,
    pub model_identifier: String,
    pub model_type: ModelType,
    /// The provider's own id for the model (`[[models.providers]] model`).
    pub raw_model_id: String,
    pub prompt: String,
    /// `W:H`, one of the model's ratios.
    pub ratio: String,
    /// File extension: `png`, `jpg`, `webp`, `mp4`, `gif`, ...
    pub output_format: String,
    pub output_number: u32,
    pub input_files: Vec<String>,
    /// Video only: the end frame's URL.
    pub last_frame: Option<String>,
    /// Video only: seconds.
    pub duration: Option<u32>,
    /// Video only: e.g. `360p`.
    pub resolution: Option<String>,
    pub generate_audio: bool,
    /// Model-specific fields, as sent.
    pub specific: Map<String, Value>,
}

pub use crate::domain::generation::OutputFile;

#[derive(Clone, Debug)]
pub struct ProviderOutput {
    pub files: Vec<OutputFile>,
    /// Seconds the provider reports (or we measured) for the prediction itself.
    pub predict_time: Option<f64>,
}

/// The prediction id an asynchronous upstream assigns on submit; a cancel uses it, and the record
/// keeps it when the attempt succeeds.
#[derive(Clone, Debug, Default)]
pub struct PredictionSlot(Arc<Mutex<Option<String>>>);

impl PredictionSlot {
    pub fn set(&self, id: &str) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(id.to_owned());
        }
    }

    pub fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }
}

/// Why an attempt failed. The message never carries a secret or an upstream body verbatim beyond
/// a short excerpt.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("the provider did not answer in time")]
    Timeout,
    #[error("the provider answered HTTP {status}: {message}")]
    Status { status: u16, message: String },
    #[error("the provider sent an unusable answer: {0}")]
    Garbage(String),
    #[error("the provider could not be reached: {0}")]
    Transport(String),
    #[error("the provider reported the generation failed: {0}")]
    Failed(String),
    #[error("the provider's credits are exhausted")]
    CreditsExhausted,
    #[error("the provider is unavailable (circuit open)")]
    Unavailable,
}

impl ProviderError {
    /// The BSE4xxx code a failed attempt maps to.
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::Timeout => "BSE4002",
            ProviderError::CreditsExhausted => "BSE4004",
            ProviderError::Unavailable => "BSE4005",
            ProviderError::Status { .. }
            | ProviderError::Garbage(_)
            | ProviderError::Transport(_)
            | ProviderError::Failed(_) => "BSE4001",
        }
    }
}

/// The file extension of `bytes` from its magic number, for upstream output.
pub fn sniff_extension(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("jpg")
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("webp")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some("gif")
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        Some("mp4")
    } else if bytes.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        Some("webm")
    } else {
        None
    }
}
