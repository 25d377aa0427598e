//! Still images (PNG, JPEG, WebP) and animated GIF through the `image` crate's encoders.

use std::io::Cursor;

use image::codecs::gif::{GifEncoder, Repeat};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::codecs::webp::WebPEncoder;
use image::{Delay, ExtendedColorType, Frame, ImageEncoder, ImageError, RgbaImage};

use crate::providers::job::ProviderError;

const JPEG_QUALITY: u8 = 90;

/// An image file format the local provider writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StillFormat {
    Png,
    Jpeg,
    WebP,
}

fn failed(error: ImageError) -> ProviderError {
    ProviderError::Failed(format!("could not encode the image: {error}"))
}

/// Encodes interleaved RGB.
pub fn still(
    format: StillFormat,
    (width, height): (u32, u32),
    rgb: &[u8],
) -> Result<Vec<u8>, ProviderError> {
    let mut bytes = Vec::new();
    let colour = ExtendedColorType::Rgb8;
    match format {
        StillFormat::Png => {
            PngEncoder::new_with_quality(&mut bytes, CompressionType::Fast, FilterType::Adaptive)
                .write_image(rgb, width, height, colour)
        }
        StillFormat::Jpeg => JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
            .write_image(rgb, width, height, colour),
        StillFormat::WebP => {
            WebPEncoder::new_lossless(&mut bytes).write_image(rgb, width, height, colour)
        }
    }
    .map_err(failed)?;
    Ok(bytes)
}

/// A looping GIF of RGB frames shown `1 / fps` seconds each.
///
/// GIF delays count hundredths of a second, so at 8 fps frames alternate 120 and 130 ms. Frames
/// with at most 256 colours keep them exactly; others are quantised.
pub fn gif(
    (width, height): (u32, u32),
    fps: u32,
    frames: impl Iterator<Item = Vec<u8>>,
) -> Result<Vec<u8>, ProviderError> {
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new_with_speed(Cursor::new(&mut bytes), 30);
        encoder.set_repeat(Repeat::Infinite).map_err(failed)?;
        let period = 1000 / fps.max(1);
        for (n, rgb) in frames.enumerate() {
            let delay = if n % 2 == 0 {
                period / 10 * 10
            } else {
                period.div_ceil(10) * 10
            };
            let rgba = RgbaImage::from_raw(width, height, with_alpha(&rgb)).ok_or_else(|| {
                ProviderError::Failed("a video frame has the wrong size".to_owned())
            })?;
            let frame = Frame::from_parts(rgba, 0, 0, Delay::from_numer_denom_ms(delay, 1));
            encoder.encode_frame(frame).map_err(failed)?;
        }
    }
    Ok(bytes)
}

fn with_alpha(rgb: &[u8]) -> Vec<u8> {
    let mut rgba = Vec::with_capacity(rgb.len() / 3 * 4);
    for pixel in rgb.chunks_exact(3) {
        rgba.extend_from_slice(pixel);
        rgba.push(u8::MAX);
    }
    rgba
}
