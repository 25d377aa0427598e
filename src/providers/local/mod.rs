//! The built-in offline `local` provider: procedural images (PNG, JPEG, WebP) and short looping
//! videos (H.264 MP4, animated GIF). Colours come from the prompt's hash, the layout from the
//! whole request, so the same job and output index always give the same bytes.

mod encode;
mod h264;
mod mp4;
mod paint;
mod palette;

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::job::{OutputFile, ProviderError, ProviderJob};
use crate::domain::generation::{ModelType, parse_ratio};
use encode::StillFormat;
use paint::{Canvas, Dice, Gradient, Pattern};
use palette::{Palette, Scheme};

/// Long side of every image, in pixels.
const IMAGE_LONG_SIDE: u32 = 768;
/// Frames per second of every video.
const FPS: u32 = 8;
const DEFAULT_SHORT_SIDE: u32 = 240;
/// I_PCM frames are uncompressed: the short side and duration are capped to keep files sane.
const MAX_SHORT_SIDE: u32 = 720;
const MAX_SECONDS: u32 = 60;
/// Colour table sizes: fine steps for stills; 256 for video so GIF frames keep exact colours.
const STILL_RAMP: usize = 1024;
const VIDEO_RAMP: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Pattern,
    Gradient,
    Motion,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Container {
    Still(StillFormat),
    Mp4,
    Gif,
}

impl Container {
    fn extension(self) -> &'static str {
        match self {
            Container::Still(StillFormat::Png) => "png",
            Container::Still(StillFormat::Jpeg) => "jpg",
            Container::Still(StillFormat::WebP) => "webp",
            Container::Mp4 => "mp4",
            Container::Gif => "gif",
        }
    }
}

/// Renders output number `index` (0-based) of `job`. CPU-bound: the caller runs it on a blocking
/// thread.
pub fn render(job: &ProviderJob, index: u32) -> Result<OutputFile, ProviderError> {
    let (kind, container) = plan(job)?;
    let size = checked_dimensions(job)?;
    let palette = Palette::new(scheme(job)?, &Sha256::digest(job.prompt.as_bytes()).into());
    let mut dice = Dice::new(layout_seed(job, index));
    let bytes = match (kind, container) {
        (Kind::Gradient, Container::Still(format)) => {
            let gradient = Gradient::new(&mut dice, &palette);
            let rgb = Canvas::new(size, size).paint(|x, y| gradient.colour(x, y));
            encode::still(format, size, &rgb)?
        }
        (_, Container::Still(format)) => {
            let pattern = Pattern::new(&mut dice, &palette, STILL_RAMP);
            encode::still(
                format,
                size,
                &Canvas::new(size, size).paint(pattern.at(0.0)),
            )?
        }
        (_, video) => {
            let pattern = Pattern::new(&mut dice, &palette, VIDEO_RAMP);
            animate(&pattern, video, size, seconds(job)?)?
        }
    };
    Ok(OutputFile {
        bytes,
        extension: container.extension().to_owned(),
    })
}

/// Width and height for a ratio `W:H`: images use a long side of 768 px; video uses the
/// resolution's short side (240p → 240, 360p → 360). Both are even and keep the ratio as closely
/// as possible; video frames are padded to whole macroblocks and cropped back by the stream.
pub fn dimensions(job: &ProviderJob) -> (u32, u32) {
    let (w, h) = parse_ratio(&job.ratio).unwrap_or((1, 1));
    match job.model_type {
        ModelType::Image if w >= h => (IMAGE_LONG_SIDE, even(IMAGE_LONG_SIDE * h, w)),
        ModelType::Image => (even(IMAGE_LONG_SIDE * w, h), IMAGE_LONG_SIDE),
        ModelType::Video => {
            let short = short_side(job).unwrap_or(DEFAULT_SHORT_SIDE) / 2 * 2;
            if w >= h {
                (even(short * w, h), short)
            } else {
                (short, even(short * h, w))
            }
        }
    }
}

/// The local model that stands in for a model this provider does not serve, when a generation
/// must run here (a test key's, docs/keys.md): the still pattern or the moving one.
pub fn stand_in(model_type: ModelType) -> &'static str {
    match model_type {
        ModelType::Image => "pattern",
        ModelType::Video => "motion",
    }
}

fn failed(message: String) -> ProviderError {
    ProviderError::Failed(message)
}

fn plan(job: &ProviderJob) -> Result<(Kind, Container), ProviderError> {
    let (kind, model_type) = match job.raw_model_id.as_str() {
        "pattern" => (Kind::Pattern, ModelType::Image),
        "gradient" => (Kind::Gradient, ModelType::Image),
        "motion" => (Kind::Motion, ModelType::Video),
        other => return Err(failed(format!("the local provider has no model `{other}`"))),
    };
    if model_type != job.model_type {
        return Err(failed(format!(
            "the local model `{}` makes {}s, not {}s",
            job.raw_model_id,
            model_type.as_str(),
            job.model_type.as_str()
        )));
    }
    let container = match (model_type, job.output_format.as_str()) {
        (ModelType::Image, "png") => Container::Still(StillFormat::Png),
        (ModelType::Image, "jpg" | "jpeg") => Container::Still(StillFormat::Jpeg),
        (ModelType::Image, "webp") => Container::Still(StillFormat::WebP),
        (ModelType::Video, "mp4") => Container::Mp4,
        (ModelType::Video, "gif") => Container::Gif,
        (_, other) => {
            return Err(failed(format!(
                "the local model `{}` cannot write `{other}` files",
                job.raw_model_id
            )));
        }
    };
    Ok((kind, container))
}

fn checked_dimensions(job: &ProviderJob) -> Result<(u32, u32), ProviderError> {
    if parse_ratio(&job.ratio).is_none() {
        return Err(failed(format!("`{}` is not a W:H ratio", job.ratio)));
    }
    if job.model_type == ModelType::Video && job.resolution.is_some() && short_side(job).is_none() {
        return Err(failed(format!(
            "the local provider renders resolutions from 16p to {MAX_SHORT_SIDE}p, not `{}`",
            job.resolution.as_deref().unwrap_or_default()
        )));
    }
    Ok(dimensions(job))
}

/// The short side a resolution such as `360p` names.
fn short_side(job: &ProviderJob) -> Option<u32> {
    let pixels: u32 = job.resolution.as_deref()?.strip_suffix('p')?.parse().ok()?;
    (16..=MAX_SHORT_SIDE).contains(&pixels).then_some(pixels)
}

/// The even number nearest to `numerator / denominator`, at least 2.
fn even(numerator: u32, denominator: u32) -> u32 {
    let (n, d) = (u64::from(numerator), u64::from(denominator));
    (((n + d) / (2 * d)) * 2).max(2) as u32
}

fn seconds(job: &ProviderJob) -> Result<u32, ProviderError> {
    job.duration
        .filter(|s| (1..=MAX_SECONDS).contains(s))
        .ok_or_else(|| failed(format!("a video lasts 1 to {MAX_SECONDS} seconds")))
}

fn scheme(job: &ProviderJob) -> Result<Scheme, ProviderError> {
    match job.specific.get("palette") {
        None | Some(Value::Null) => Ok(Scheme::Prompt),
        Some(value) => value
            .as_str()
            .and_then(Scheme::parse)
            .ok_or_else(|| failed(format!("unknown palette {value}"))),
    }
}

/// Everything that varies the layout: model, prompt, `seed` and the output's index.
fn layout_seed(job: &ProviderJob, index: u32) -> u64 {
    let seed = job
        .specific
        .get("seed")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let digest = Sha256::new()
        .chain_update(job.raw_model_id.as_bytes())
        .chain_update([0])
        .chain_update(job.prompt.as_bytes())
        .chain_update([0])
        .chain_update(seed.to_le_bytes())
        .chain_update(index.to_le_bytes())
        .finalize();
    digest
        .iter()
        .take(8)
        .fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

/// One loop of the pattern over `seconds`, at [`FPS`].
fn animate(
    pattern: &Pattern,
    container: Container,
    size: (u32, u32),
    seconds: u32,
) -> Result<Vec<u8>, ProviderError> {
    let count = seconds * FPS;
    let frames = |buffer: (u32, u32)| {
        let canvas = Canvas::new(size, buffer);
        (0..count).map(move |n| canvas.paint(pattern.at(n as f32 / count as f32)))
    };
    if container == Container::Gif {
        return encode::gif(size, FPS, frames(size));
    }
    let padded = (h264::padded(size.0), h264::padded(size.1));
    let stream = h264::encode(size, frames(padded))?;
    mp4::write(&mp4::Track {
        width: size.0,
        height: size.1,
        fps: FPS,
        stream: &stream,
    })
}

#[cfg(test)]
mod tests;
