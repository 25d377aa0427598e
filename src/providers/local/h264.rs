//! H.264 through `less-avc`: every frame an IDR picture of I_PCM macroblocks (uncompressed 4:2:0).
//!
//! Two things `less-avc` writes are adjusted so that players other than ffmpeg accept the stream:
//! the SPS always declares level 1.0, too low for anything above 176×144, so the level is set from
//! the real frame size and bit rate; and every slice has `idr_pic_id` 0 and
//! `no_output_of_prior_pics_flag` 1, whereas consecutive IDR pictures must differ in `idr_pic_id`
//! and a decoder holding frames back may drop them on the next IDR. Both fields sit at fixed bit
//! positions, so the adjustment is a byte replacement, checked against what `less-avc` produced.

use less_avc::LessEncoder;
use less_avc::ycbcr_image::{DataPlane, Planes, YCbCrImage};

use crate::providers::job::ProviderError;

/// NAL header and first slice-header bytes `less-avc` writes for every picture.
const SLICE_START: [u8; 5] = [0x25, 0x88, 0x84, 0x28, 0x68];
/// The same slice header with `no_output_of_prior_pics_flag` 0, and `idr_pic_id` 0 or 1. Both
/// still end on a byte boundary before the macroblocks' PCM samples.
const SLICE_STARTS: [[u8; 5]; 2] = [
    [0x25, 0x88, 0x84, 0x08, 0x68],
    [0x25, 0x88, 0x82, 0x02, 0x1A],
];
const SPS_PROFILE_BASELINE: u8 = 66;

/// Baseline levels (Table A-1): `level_idc`, largest frame in macroblocks, largest bit rate in
/// kbit/s. Eight frames per second stay far below every level's macroblock rate.
const LEVELS: [(u8, u32, u64); 8] = [
    (30, 1_620, 10_000),
    (31, 3_600, 14_000),
    (32, 5_120, 20_000),
    (40, 8_192, 20_000),
    (41, 8_192, 50_000),
    (42, 8_704, 50_000),
    (50, 22_080, 135_000),
    (51, 36_864, 240_000),
];

/// An encoded stream: parameter sets and one NAL unit (without start code) per frame.
pub struct Stream {
    pub sps: Vec<u8>,
    pub pps: Vec<u8>,
    pub frames: Vec<Vec<u8>>,
}

/// A 4:2:0 frame with planes padded to whole macroblocks.
struct Yuv420 {
    luma: Vec<u8>,
    blue: Vec<u8>,
    red: Vec<u8>,
    stride: usize,
}

impl Yuv420 {
    /// Full-range BT.601 from interleaved RGB of `stride` × `rows` pixels (both even).
    fn from_rgb(rgb: &[u8], stride: usize, rows: usize) -> Yuv420 {
        let pixel = |x: usize, y: usize| -> [i32; 3] {
            let i = (y * stride + x) * 3;
            [rgb[i], rgb[i + 1], rgb[i + 2]].map(i32::from)
        };
        let luma = rgb
            .chunks_exact(3)
            .map(|p| {
                let [r, g, b] = [p[0], p[1], p[2]].map(i32::from);
                ((77 * r + 150 * g + 29 * b + 128) >> 8) as u8
            })
            .collect();
        let mut blue = Vec::with_capacity(stride * rows / 4);
        let mut red = Vec::with_capacity(stride * rows / 4);
        for y in (0..rows).step_by(2) {
            for x in (0..stride).step_by(2) {
                let mut sum = [0i32; 3];
                for [r, g, b] in [
                    pixel(x, y),
                    pixel(x + 1, y),
                    pixel(x, y + 1),
                    pixel(x + 1, y + 1),
                ] {
                    sum = [sum[0] + r, sum[1] + g, sum[2] + b];
                }
                let [r, g, b] = sum;
                blue.push((((-43 * r - 85 * g + 128 * b + 512) >> 10) + 128).clamp(0, 255) as u8);
                red.push((((128 * r - 107 * g - 21 * b + 512) >> 10) + 128).clamp(0, 255) as u8);
            }
        }
        Yuv420 {
            luma,
            blue,
            red,
            stride,
        }
    }

    fn image(&self, (width, height): (u32, u32)) -> YCbCrImage<'_> {
        let plane = |data, stride| DataPlane {
            data,
            stride,
            bit_depth: less_avc::BitDepth::Depth8,
        };
        YCbCrImage {
            planes: Planes::YCbCr((
                plane(&self.luma, self.stride),
                plane(&self.blue, self.stride / 2),
                plane(&self.red, self.stride / 2),
            )),
            width,
            height,
        }
    }
}

fn failed(error: less_avc::Error) -> ProviderError {
    ProviderError::Failed(format!("could not encode the video: {error}"))
}

/// Encodes frames of interleaved RGB covering `(width, height)` rounded up to whole macroblocks
/// ([`padded`]); the stream crops them back to `(width, height)`.
pub fn encode(
    (width, height): (u32, u32),
    frames: impl Iterator<Item = Vec<u8>>,
) -> Result<Stream, ProviderError> {
    let (stride, rows) = (padded(width) as usize, padded(height) as usize);
    let mut encoder: Option<LessEncoder> = None;
    let mut stream = Stream {
        sps: Vec::new(),
        pps: Vec::new(),
        frames: Vec::new(),
    };
    for rgb in frames {
        let yuv = Yuv420::from_rgb(&rgb, stride, rows);
        let image = yuv.image((width, height));
        let nal = match encoder.as_mut() {
            Some(encoder) => encoder.encode(&image).map_err(failed)?,
            None => {
                let (initial, started) = LessEncoder::new(&image).map_err(failed)?;
                stream.sps = initial.sps.to_nal_unit();
                stream.pps = initial.pps.to_nal_unit();
                encoder = Some(started);
                initial.frame
            }
        };
        let parity = stream.frames.len() % 2;
        stream
            .frames
            .push(with_slice_start(nal.to_nal_unit(), parity)?);
    }
    let level = level_idc((stride * rows / 256) as u32, bit_rate_kbps(&stream.frames));
    set_level(&mut stream.sps, level)?;
    Ok(stream)
}

/// `size` rounded up to whole macroblocks.
pub fn padded(size: u32) -> u32 {
    size.next_multiple_of(16)
}

fn with_slice_start(mut nal: Vec<u8>, parity: usize) -> Result<Vec<u8>, ProviderError> {
    if !nal.starts_with(&SLICE_START) {
        return Err(ProviderError::Failed(
            "the H.264 encoder wrote an unexpected slice header".to_owned(),
        ));
    }
    nal[..SLICE_START.len()].copy_from_slice(&SLICE_STARTS[parity]);
    Ok(nal)
}

fn set_level(sps: &mut [u8], level: u8) -> Result<(), ProviderError> {
    match sps {
        [_, SPS_PROFILE_BASELINE, _, slot, ..] => {
            *slot = level;
            Ok(())
        }
        _ => Err(ProviderError::Failed(
            "the H.264 encoder wrote an unexpected sequence parameter set".to_owned(),
        )),
    }
}

/// The bit rate at [`super::FPS`], in kbit/s, rounded up.
fn bit_rate_kbps(frames: &[Vec<u8>]) -> u64 {
    let bytes: u64 = frames.iter().map(|f| f.len() as u64).sum();
    let count = (frames.len() as u64).max(1);
    (bytes * 8 * u64::from(super::FPS)).div_ceil(count * 1000)
}

/// The lowest level whose frame size and bit rate limits hold the stream.
fn level_idc(macroblocks: u32, kbps: u64) -> u8 {
    LEVELS
        .iter()
        .find(|&&(_, max_frame, max_rate)| macroblocks <= max_frame && kbps <= max_rate)
        .map_or(51, |&(level, _, _)| level)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_grows_with_frame_size_and_bit_rate() {
        assert_eq!(level_idc(405, 9_000), 30);
        assert_eq!(level_idc(405, 12_000), 31);
        assert_eq!(level_idc(920, 22_700), 41);
    }

    #[test]
    fn frames_alternate_idr_ids_and_keep_prior_pictures() {
        let (width, height) = (48, 32);
        let frames = (0..3).map(|n| vec![n * 40; 48 * 32 * 3]);
        let stream = encode((width, height), frames).unwrap();
        assert_eq!(stream.frames[0][..5], SLICE_STARTS[0]);
        assert_eq!(stream.frames[1][..5], SLICE_STARTS[1]);
        assert_eq!(stream.frames[2][..5], SLICE_STARTS[0]);
        assert_eq!(stream.sps[3], 30);
    }
}
