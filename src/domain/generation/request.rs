//! A generate body checked against its model (docs/generation.md, "Accepting a generation"): every
//! refusal names its field, and what is absent gets the model's default.

use serde_json::{Map, Value};

pub use super::field::Invalid;
use super::field::{invalid, string};
use super::model::{Model, ModelType};
use super::order::{ProviderOrder, provider_order};
use super::specific::specific;

pub const MAX_PROMPT_CHARS: usize = 4000;
pub const MAX_INPUT_FILES: usize = 8;
const MAX_URL_LEN: usize = 2048;

/// A valid generate request, with the model's defaults filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateRequest {
    pub prompt: String,
    pub ratio: String,
    pub output_format: String,
    pub output_number: u32,
    pub input_files: Option<Vec<String>>,
    /// `None` = the model's own provider order.
    pub provider_order: ProviderOrder,
    pub duration: Option<u32>,
    pub resolution: Option<String>,
    pub generate_audio: Option<bool>,
    pub last_frame: Option<String>,
    pub specific: Map<String, Value>,
}

/// The fields every generate body may have.
pub const COMMON: &[&str] = &[
    "generation_prompt",
    "generation_ratio",
    "generation_output_format",
    "generation_output_number",
    "generation_input_file",
    "generation_provider_order",
];
/// The fields only a video body may have.
pub const VIDEO_ONLY: &[&str] = &[
    "generation_duration",
    "generation_resolution",
    "generation_generate_audio",
    "generation_input_file_last_content",
];

/// Checks `body` against `model` for the route's `route_type`; every problem names its field.
pub fn parse(
    body: &[u8],
    model: &Model,
    route_type: ModelType,
) -> Result<GenerateRequest, Invalid> {
    if model.model_type != route_type {
        return Err(invalid(
            "model_identifier",
            format!(
                "{} is a {} model; use POST /v1/generate/{}/{}.",
                model.identifier,
                model.model_type.as_str(),
                model.model_type.as_str(),
                model.identifier
            ),
        ));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| invalid("body", "The body must be a JSON object."))?;
    let Value::Object(fields) = value else {
        return Err(invalid("body", "The body must be a JSON object."));
    };
    let fields: Map<String, Value> = fields.into_iter().filter(|(_, v)| !v.is_null()).collect();
    for name in fields.keys() {
        let known = COMMON.contains(&name.as_str())
            || (model.is_video() && VIDEO_ONLY.contains(&name.as_str()))
            || model.specific.iter().any(|f| &f.name == name);
        if !known {
            return Err(invalid(
                name,
                format!("{name} is not a field of {}.", model.identifier),
            ));
        }
    }
    let video = model.is_video();
    Ok(GenerateRequest {
        prompt: prompt(&fields)?,
        ratio: one_of(&fields, "generation_ratio", &model.ratios)?,
        output_format: output_format(&fields, model)?,
        output_number: output_number(&fields, model)?,
        input_files: input_files(&fields, model)?,
        provider_order: provider_order(&fields, model)?,
        duration: if video {
            Some(duration(&fields, model)?)
        } else {
            None
        },
        resolution: if video {
            Some(
                one_of(&fields, "generation_resolution", &model.resolutions).map(|r| {
                    if fields.contains_key("generation_resolution") {
                        r
                    } else {
                        model.resolution_or_default(None).unwrap_or(r)
                    }
                })?,
            )
        } else {
            None
        },
        generate_audio: if video {
            Some(audio(&fields, model)?)
        } else {
            None
        },
        last_frame: last_frame(&fields, model)?,
        specific: specific(&fields, &model.specific)?,
    })
}

fn prompt(fields: &Map<String, Value>) -> Result<String, Invalid> {
    let name = "generation_prompt";
    let p = string(fields, name)?.ok_or_else(|| invalid(name, "generation_prompt is required."))?;
    let chars = p.chars().count();
    if p.trim().is_empty() || chars > MAX_PROMPT_CHARS {
        return Err(invalid(
            name,
            format!("generation_prompt must be 1-{MAX_PROMPT_CHARS} characters."),
        ));
    }
    Ok(p.to_owned())
}

/// The value of `name` if it is one of `allowed`, or the first allowed value when absent.
fn one_of(fields: &Map<String, Value>, name: &str, allowed: &[String]) -> Result<String, Invalid> {
    match string(fields, name)? {
        None => Ok(allowed.first().cloned().unwrap_or_default()),
        Some(v) if allowed.iter().any(|a| a == v) => Ok(v.to_owned()),
        Some(_) => Err(invalid(
            name,
            format!("{name} must be one of {}.", allowed.join(", ")),
        )),
    }
}

fn output_format(fields: &Map<String, Value>, model: &Model) -> Result<String, Invalid> {
    let name = "generation_output_format";
    let asked = string(fields, name)?.map(|f| if f == "jpeg" { "jpg" } else { f });
    match asked {
        None => Ok(model.formats.first().cloned().unwrap_or_default()),
        Some(f) if model.formats.iter().any(|a| a == f) => Ok(f.to_owned()),
        Some(_) => Err(invalid(
            name,
            format!("{name} must be one of {}.", model.formats.join(", ")),
        )),
    }
}

fn integer(fields: &Map<String, Value>, name: &str) -> Result<Option<i64>, Invalid> {
    match fields.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| invalid(name, format!("{name} must be a whole number."))),
        Some(_) => Err(invalid(name, format!("{name} must be a number."))),
    }
}

fn output_number(fields: &Map<String, Value>, model: &Model) -> Result<u32, Invalid> {
    let name = "generation_output_number";
    let max = model.max_outputs;
    match integer(fields, name)? {
        None => Ok(1),
        Some(n) if (1..=i64::from(max)).contains(&n) => Ok(n as u32),
        Some(_) => Err(invalid(name, format!("{name} must be 1-{max}."))),
    }
}

fn url(name: &str, value: &str) -> Result<String, Invalid> {
    let ok = (value.starts_with("https://") || value.starts_with("http://"))
        && value.len() <= MAX_URL_LEN
        && value.len() > "https://".len()
        && !value.chars().any(char::is_whitespace);
    if ok {
        Ok(value.to_owned())
    } else {
        Err(invalid(name, format!("{name} must hold http(s) URLs.")))
    }
}

fn input_files(fields: &Map<String, Value>, model: &Model) -> Result<Option<Vec<String>>, Invalid> {
    let name = "generation_input_file";
    let Some(value) = fields.get(name) else {
        return Ok(None);
    };
    if !model.input_file {
        return Err(invalid(
            name,
            format!("{} does not accept input files.", model.identifier),
        ));
    }
    let Value::Array(items) = value else {
        return Err(invalid(name, format!("{name} must be an array of URLs.")));
    };
    if items.len() > MAX_INPUT_FILES {
        return Err(invalid(
            name,
            format!("{name} holds at most {MAX_INPUT_FILES} URLs."),
        ));
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(s) => url(name, s),
            _ => Err(invalid(name, format!("{name} must be an array of URLs."))),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

fn last_frame(fields: &Map<String, Value>, model: &Model) -> Result<Option<String>, Invalid> {
    let name = "generation_input_file_last_content";
    let Some(v) = string(fields, name)? else {
        return Ok(None);
    };
    if !model.input_file {
        return Err(invalid(
            name,
            format!("{} does not accept input files.", model.identifier),
        ));
    }
    url(name, v).map(Some)
}

fn duration(fields: &Map<String, Value>, model: &Model) -> Result<u32, Invalid> {
    let name = "generation_duration";
    integer(fields, name)
        .ok()
        .flatten()
        .and_then(|d| allowed_duration(model, d as f64))
        .ok_or_else(|| {
            invalid(
                name,
                format!(
                    "{name} is required for video and must be one of {}.",
                    durations_text(model)
                ),
            )
        })
}

/// `seconds` when it is one of the model's durations.
pub fn allowed_duration(model: &Model, seconds: f64) -> Option<u32> {
    model
        .durations
        .iter()
        .copied()
        .find(|d| f64::from(*d) == seconds)
}

/// The model's durations, for messages.
pub fn durations_text(model: &Model) -> String {
    let all: Vec<String> = model.durations.iter().map(u32::to_string).collect();
    all.join(", ")
}

fn audio(fields: &Map<String, Value>, model: &Model) -> Result<bool, Invalid> {
    let name = "generation_generate_audio";
    match fields.get(name) {
        None => Ok(false),
        Some(Value::Bool(wanted)) => allowed_audio(model, name, *wanted),
        Some(_) => Err(invalid(name, format!("{name} must be a boolean."))),
    }
}

/// `wanted` unless it asks for audio from a model without it (refused, naming `field`).
pub fn allowed_audio(model: &Model, field: &str, wanted: bool) -> Result<bool, Invalid> {
    if wanted && !model.audio {
        return Err(invalid(
            field,
            format!("{} cannot generate audio.", model.identifier),
        ));
    }
    Ok(wanted)
}
