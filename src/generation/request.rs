//! A generate body checked against its model (generation.md §1), and the estimate maths
//! (v1-api.md §6).

use serde_json::{Map, Value};

use super::catalog::{FieldType, Model, ModelType, SpecificField};
use crate::domain::Money;

pub const MAX_PROMPT_CHARS: usize = 4000;
pub const MAX_INPUT_FILES: usize = 8;
const MAX_URL_LEN: usize = 2048;

/// A refused field: the name the client sent and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

fn invalid(field: &str, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

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

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProviderOrder {
    Model,
    Fastest,
    Listed(Vec<String>),
}

const COMMON: &[&str] = &[
    "generation_prompt",
    "generation_ratio",
    "generation_output_format",
    "generation_output_number",
    "generation_input_file",
    "generation_provider_order",
];
const VIDEO_ONLY: &[&str] = &[
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

fn string<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, Invalid> {
    match fields.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(invalid(name, format!("{name} must be a string."))),
    }
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

fn provider_order(fields: &Map<String, Value>, model: &Model) -> Result<ProviderOrder, Invalid> {
    let name = "generation_provider_order";
    let Some(order) = string(fields, name)? else {
        return Ok(ProviderOrder::Model);
    };
    if order.trim() == "fastest" {
        return Ok(ProviderOrder::Fastest);
    }
    let mut listed: Vec<String> = Vec::new();
    for p in order.split(',').map(str::trim) {
        if model.raw_model_id(p).is_none() {
            let served: Vec<&str> = model
                .providers
                .iter()
                .map(|p| p.provider.as_str())
                .collect();
            return Err(invalid(
                name,
                format!(
                    "{name} must be \"fastest\" or a comma list of providers serving {} ({}).",
                    model.identifier,
                    served.join(", ")
                ),
            ));
        }
        if listed.iter().any(|l| l == p) {
            return Err(invalid(name, format!("{name} names {p} twice.")));
        }
        listed.push(p.to_owned());
    }
    Ok(ProviderOrder::Listed(listed))
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

fn specific(
    fields: &Map<String, Value>,
    schema: &[SpecificField],
) -> Result<Map<String, Value>, Invalid> {
    let mut out = Map::new();
    for field in schema {
        let Some(value) = fields.get(&field.name) else {
            continue;
        };
        check_specific(field, value)?;
        out.insert(field.name.clone(), value.clone());
    }
    Ok(out)
}

fn check_specific(field: &SpecificField, value: &Value) -> Result<(), Invalid> {
    let name = field.name.as_str();
    let number = match (field.ty, value) {
        (FieldType::String, Value::String(s)) => {
            if !field.values.is_empty() && !field.values.contains(s) {
                return Err(invalid(
                    name,
                    format!("{name} must be one of {}.", field.values.join(", ")),
                ));
            }
            None
        }
        (FieldType::Boolean, Value::Bool(_)) => None,
        (FieldType::Integer, Value::Number(n)) if n.as_i64().is_some() || n.as_u64().is_some() => {
            n.as_f64()
        }
        (FieldType::Number, Value::Number(n)) => n.as_f64(),
        (ty, _) => {
            let ty = match ty {
                FieldType::String => "a string",
                FieldType::Integer => "a whole number",
                FieldType::Number => "a number",
                FieldType::Boolean => "a boolean",
            };
            return Err(invalid(name, format!("{name} must be {ty}.")));
        }
    };
    if let Some(n) = number
        && (field.min.is_some_and(|min| n < min) || field.max.is_some_and(|max| n > max))
    {
        let range = format!(
            "{}-{}",
            field.min.map_or("any".into(), |m| m.to_string()),
            field.max.map_or("any".into(), |m| m.to_string())
        );
        return Err(invalid(name, format!("{name} must be in {range}.")));
    }
    Ok(())
}

/// Providers to try, in order; `fastest` sorts by `score` = (recent success rate, mean latency).
pub fn resolve_order(
    order: &ProviderOrder,
    model: &Model,
    score: impl Fn(&str) -> (f64, f64),
) -> Vec<String> {
    let mut providers: Vec<String> = match order {
        ProviderOrder::Listed(list) => return list.clone(),
        _ => model.providers.iter().map(|p| p.provider.clone()).collect(),
    };
    if *order == ProviderOrder::Fastest {
        providers.sort_by(|a, b| {
            let (ra, la) = score(a);
            let (rb, lb) = score(b);
            rb.total_cmp(&ra).then(la.total_cmp(&lb))
        });
    }
    providers
}

/// What a generation (or `count` of them) costs (v1-api.md §6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    pub count: u32,
    pub cost_per_second: Option<Money>,
    pub duration: Option<u32>,
    pub resolution: Option<String>,
    pub per_generation: Money,
    pub total: Money,
}

/// Image: per generation = the model price. Video: per second = the price for the resolution
/// (and audio variant), per generation = per second × duration. Total = per generation × count.
pub fn estimate(
    model: &Model,
    count: u32,
    duration: Option<u32>,
    resolution: Option<&str>,
    audio: bool,
) -> Result<Estimate, Invalid> {
    if !model.is_video() {
        let price = model.unit_price(None, false).unwrap_or_default();
        return Ok(Estimate {
            count,
            cost_per_second: None,
            duration: None,
            resolution: None,
            per_generation: price,
            total: Money(price.thousandths() * i64::from(count)),
        });
    }
    let duration = duration
        .or_else(|| model.durations.first().copied())
        .unwrap_or(0);
    let resolution = model
        .resolution_or_default(resolution)
        .filter(|r| model.resolutions.contains(r))
        .ok_or_else(|| {
            invalid(
                "resolution",
                format!(
                    "resolution must be one of {}.",
                    model.resolutions.join(", ")
                ),
            )
        })?;
    let per_second = model
        .unit_price(Some(&resolution), audio)
        .ok_or_else(|| invalid("resolution", "No price is configured for this resolution."))?;
    let per_generation = Money(per_second.thousandths() * i64::from(duration));
    Ok(Estimate {
        count,
        cost_per_second: Some(per_second),
        duration: Some(duration),
        resolution: Some(resolution),
        per_generation,
        total: Money(per_generation.thousandths() * i64::from(count)),
    })
}

/// What a valid request costs: its outputs priced by the estimate maths.
pub fn cost_of(model: &Model, request: &GenerateRequest) -> Result<Money, Invalid> {
    estimate(
        model,
        request.output_number,
        request.duration,
        request.resolution.as_deref(),
        request.generate_audio.unwrap_or(false),
    )
    .map(|e| e.total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generation::Catalog;

    fn catalog() -> Catalog {
        Catalog::load(None).unwrap()
    }

    #[test]
    fn defaults_fill_in_and_unknown_fields_are_named() {
        let c = catalog();
        let m = c.model("tidegate/pattern-1").unwrap();
        let r = parse(
            br#"{"generation_prompt":"a lighthouse"}"#,
            m,
            ModelType::Image,
        )
        .unwrap();
        assert_eq!(
            (r.ratio.as_str(), r.output_format.as_str(), r.output_number),
            ("1:1", "png", 1)
        );
        let e = parse(
            br#"{"generation_prompt":"x","colour":"red"}"#,
            m,
            ModelType::Image,
        )
        .unwrap_err();
        assert_eq!(e.field, "colour");
        let e = parse(
            br#"{"generation_prompt":"x","generation_duration":2}"#,
            m,
            ModelType::Image,
        )
        .unwrap_err();
        assert_eq!(e.field, "generation_duration");
        let e = parse(br#"{"generation_prompt":"x"}"#, m, ModelType::Video).unwrap_err();
        assert_eq!(e.field, "model_identifier");
        let e = parse(
            br#"{"generation_prompt":"x","seed":-1}"#,
            m,
            ModelType::Image,
        )
        .unwrap_err();
        assert_eq!(e.field, "seed");
    }

    #[test]
    fn video_needs_a_duration_and_prices_per_second() {
        let c = catalog();
        let m = c.model("tidegate/motion-1").unwrap();
        let e = parse(br#"{"generation_prompt":"x"}"#, m, ModelType::Video).unwrap_err();
        assert_eq!(e.field, "generation_duration");
        let r = parse(
            br#"{"generation_prompt":"x","generation_duration":4,"generation_resolution":"360p"}"#,
            m,
            ModelType::Video,
        )
        .unwrap();
        assert_eq!(cost_of(m, &r), Ok(Money(80)));
        let est = estimate(m, 3, Some(2), None, false).unwrap();
        assert_eq!((est.per_generation, est.total), (Money(20), Money(60)));
    }
}
