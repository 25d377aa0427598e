//! A generation as the product records it: what was asked, of which providers, and what came of
//! it.

use std::fmt;

use serde_json::{Map, Value};

use super::ModelType;
use crate::domain::{Environment, Money, Timestamp};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenerationStatus {
    Pending,
    Processing,
    Succeeded,
    Failed,
    Canceled,
}

impl GenerationStatus {
    pub const ALL: [GenerationStatus; 5] = [
        GenerationStatus::Pending,
        GenerationStatus::Processing,
        GenerationStatus::Succeeded,
        GenerationStatus::Failed,
        GenerationStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GenerationStatus::Pending => "pending",
            GenerationStatus::Processing => "processing",
            GenerationStatus::Succeeded => "succeeded",
            GenerationStatus::Failed => "failed",
            GenerationStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<GenerationStatus> {
        GenerationStatus::ALL.into_iter().find(|g| g.as_str() == s)
    }

    pub fn in_flight(self) -> bool {
        matches!(
            self,
            GenerationStatus::Pending | GenerationStatus::Processing
        )
    }
}

impl fmt::Display for GenerationStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug)]
pub struct Generation {
    pub id: String,
    pub account_id: String,
    pub key_id: Option<String>,
    pub environment: Environment,
    pub model_identifier: String,
    pub model_type: ModelType,
    pub provider_order: Vec<String>,
    pub provider_used: Option<String>,
    pub prediction_id: Option<String>,
    pub status: GenerationStatus,
    pub prompt: String,
    pub ratio: String,
    pub output_format: String,
    pub output_number: u32,
    pub input_files: Option<Vec<String>>,
    /// Video: the end frame's URL (`generation_input_file_last_content`).
    pub last_frame: Option<String>,
    /// File names under `media/<id>/`.
    pub output_files: Option<Vec<String>>,
    pub duration: Option<u32>,
    pub resolution: Option<String>,
    pub generate_audio: Option<bool>,
    pub specific: Map<String, Value>,
    pub cost: Money,
    pub error: Option<String>,
    pub error_code: Option<String>,
    pub files_removed: bool,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub completed_at: Option<Timestamp>,
    pub predict_ms: Option<i64>,
    /// The origin the client called to create it (webhook media URLs are absolute under it).
    pub origin: Option<String>,
}

impl Generation {
    pub fn is_video(&self) -> bool {
        self.model_type == ModelType::Video
    }

    /// Absolute URLs of the generated files under `origin`; none once they were removed.
    pub fn output_urls(&self, origin: &str) -> Option<Vec<String>> {
        if self.files_removed {
            return None;
        }
        self.output_files.as_ref().map(|names| {
            names
                .iter()
                .map(|n| format!("{origin}/media/{}/{n}", self.id))
                .collect()
        })
    }

    /// From creation to completion, in milliseconds.
    pub fn total_ms(&self) -> Option<i64> {
        self.completed_at
            .map(|c| c.millis() - self.created_at.millis())
    }
}

/// What became of one provider attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// It produced the generation's files.
    Used,
    Failed,
    /// The generation was canceled while it ran.
    Cancelled,
    /// It produced files that were not kept (the generation ended meanwhile, or storing failed).
    Discarded,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Used => "used",
            AttemptOutcome::Failed => "failed",
            AttemptOutcome::Cancelled => "cancelled",
            AttemptOutcome::Discarded => "discarded",
        }
    }
}

/// One generated file.
#[derive(Clone, Debug)]
pub struct OutputFile {
    pub bytes: Vec<u8>,
    /// File extension of what `bytes` really is (sniffed for upstream output).
    pub extension: String,
}
