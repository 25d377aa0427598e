//! A minimal ISO BMFF (MP4) writer for one H.264 video track, `moov` before `mdat` so players
//! can start before the whole file has arrived.

use super::h264::Stream;
use crate::providers::job::ProviderError;

const MOVIE_TIMESCALE: u32 = 1000;
const UNITY_MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];
/// Samples are prefixed with their length in this many bytes (`avcC` lengthSizeMinusOne + 1).
const LENGTH_SIZE: usize = 4;

/// A box under construction: size placeholder, type, then the payload.
struct Atom(Vec<u8>);

impl Atom {
    fn new(kind: &[u8; 4]) -> Atom {
        let mut bytes = vec![0; 4];
        bytes.extend_from_slice(kind);
        Atom(bytes)
    }

    /// A "full box": version and flags before the payload.
    fn full(kind: &[u8; 4], version: u8, flags: u32) -> Atom {
        Atom::new(kind).u32((u32::from(version) << 24) | flags)
    }

    fn u8(mut self, value: u8) -> Atom {
        self.0.push(value);
        self
    }

    fn u16(mut self, value: u16) -> Atom {
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }

    fn u32(mut self, value: u32) -> Atom {
        self.0.extend_from_slice(&value.to_be_bytes());
        self
    }

    fn bytes(mut self, value: &[u8]) -> Atom {
        self.0.extend_from_slice(value);
        self
    }

    fn zeros(self, count: usize) -> Atom {
        self.bytes(&vec![0; count])
    }

    fn matrix(self) -> Atom {
        UNITY_MATRIX.iter().fold(self, |atom, &v| atom.u32(v))
    }

    /// Sizes fit in 32 bits: [`write`] refuses streams that could overflow them.
    fn finish(mut self) -> Vec<u8> {
        let size = self.0.len() as u32;
        self.0[..4].copy_from_slice(&size.to_be_bytes());
        self.0
    }
}

/// The video's shape as the container describes it.
pub struct Track<'a> {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub stream: &'a Stream,
}

impl Track<'_> {
    fn sample_sizes(&self) -> impl Iterator<Item = u32> + '_ {
        self.stream
            .frames
            .iter()
            .map(|f| (f.len() + LENGTH_SIZE) as u32)
    }

    fn sample_count(&self) -> u32 {
        self.stream.frames.len() as u32
    }

    /// Media time scale: one tick per millisecond of a frame period, exact for whole fps.
    fn timescale(&self) -> u32 {
        self.fps * 1000
    }

    fn duration_ms(&self) -> u32 {
        self.sample_count() * 1000 / self.fps
    }
}

/// The whole file: `ftyp`, `moov`, `mdat`.
pub fn write(track: &Track) -> Result<Vec<u8>, ProviderError> {
    let payload: usize = track.sample_sizes().map(|s| s as usize).sum();
    if track.fps == 0 || payload > (u32::MAX / 2) as usize {
        return Err(ProviderError::Failed(
            "the video is too large for the MP4 writer".to_owned(),
        ));
    }
    let ftyp = ftyp();
    let probe = moov(track, 0);
    let mdat_start = (ftyp.len() + probe.len() + 8) as u32;
    let moov = moov(track, mdat_start);

    let mut file = Vec::with_capacity(mdat_start as usize + payload);
    file.extend_from_slice(&ftyp);
    file.extend_from_slice(&moov);
    file.extend_from_slice(&((payload + 8) as u32).to_be_bytes());
    file.extend_from_slice(b"mdat");
    for frame in &track.stream.frames {
        file.extend_from_slice(&(frame.len() as u32).to_be_bytes());
        file.extend_from_slice(frame);
    }
    Ok(file)
}

fn ftyp() -> Vec<u8> {
    Atom::new(b"ftyp")
        .bytes(b"isom")
        .u32(0x200)
        .bytes(b"isomiso2avc1mp41")
        .finish()
}

fn moov(track: &Track, mdat_start: u32) -> Vec<u8> {
    Atom::new(b"moov")
        .bytes(&mvhd(track))
        .bytes(&trak(track, mdat_start))
        .finish()
}

/// Creation and modification times stay 0 so the same job gives the same bytes.
fn mvhd(track: &Track) -> Vec<u8> {
    Atom::full(b"mvhd", 0, 0)
        .u32(0)
        .u32(0)
        .u32(MOVIE_TIMESCALE)
        .u32(track.duration_ms())
        .u32(0x0001_0000)
        .u16(0x0100)
        .zeros(10)
        .matrix()
        .zeros(24)
        .u32(2)
        .finish()
}

fn trak(track: &Track, mdat_start: u32) -> Vec<u8> {
    let tkhd = Atom::full(b"tkhd", 0, 0x3)
        .u32(0)
        .u32(0)
        .u32(1)
        .u32(0)
        .u32(track.duration_ms())
        .zeros(8)
        .u16(0)
        .u16(0)
        .u16(0)
        .u16(0)
        .matrix()
        .u32(track.width << 16)
        .u32(track.height << 16)
        .finish();
    Atom::new(b"trak")
        .bytes(&tkhd)
        .bytes(&mdia(track, mdat_start))
        .finish()
}

fn mdia(track: &Track, mdat_start: u32) -> Vec<u8> {
    let mdhd = Atom::full(b"mdhd", 0, 0)
        .u32(0)
        .u32(0)
        .u32(track.timescale())
        .u32(track.sample_count() * (track.timescale() / track.fps))
        .u16(0x55C4) // "und"
        .u16(0)
        .finish();
    let hdlr = Atom::full(b"hdlr", 0, 0)
        .u32(0)
        .bytes(b"vide")
        .zeros(12)
        .bytes(b"VideoHandler\0")
        .finish();
    Atom::new(b"mdia")
        .bytes(&mdhd)
        .bytes(&hdlr)
        .bytes(&minf(track, mdat_start))
        .finish()
}

fn minf(track: &Track, mdat_start: u32) -> Vec<u8> {
    let vmhd = Atom::full(b"vmhd", 0, 1).zeros(8).finish();
    let url = Atom::full(b"url ", 0, 1).finish();
    let dref = Atom::full(b"dref", 0, 0).u32(1).bytes(&url).finish();
    let dinf = Atom::new(b"dinf").bytes(&dref).finish();
    Atom::new(b"minf")
        .bytes(&vmhd)
        .bytes(&dinf)
        .bytes(&stbl(track, mdat_start))
        .finish()
}

/// One chunk holds every sample; every sample is a sync sample.
fn stbl(track: &Track, mdat_start: u32) -> Vec<u8> {
    let count = track.sample_count();
    let stts = Atom::full(b"stts", 0, 0)
        .u32(1)
        .u32(count)
        .u32(track.timescale() / track.fps)
        .finish();
    let stsc = Atom::full(b"stsc", 0, 0)
        .u32(1)
        .u32(1)
        .u32(count)
        .u32(1)
        .finish();
    let stsz = track
        .sample_sizes()
        .fold(Atom::full(b"stsz", 0, 0).u32(0).u32(count), Atom::u32)
        .finish();
    let stco = Atom::full(b"stco", 0, 0).u32(1).u32(mdat_start).finish();
    let stss = (1..=count)
        .fold(Atom::full(b"stss", 0, 0).u32(count), Atom::u32)
        .finish();
    Atom::new(b"stbl")
        .bytes(&stsd(track))
        .bytes(&stts)
        .bytes(&stsc)
        .bytes(&stsz)
        .bytes(&stco)
        .bytes(&stss)
        .finish()
}

fn stsd(track: &Track) -> Vec<u8> {
    let avc1 = Atom::new(b"avc1")
        .zeros(6)
        .u16(1)
        .zeros(16)
        .u16(track.width as u16)
        .u16(track.height as u16)
        .u32(0x0048_0000)
        .u32(0x0048_0000)
        .u32(0)
        .u16(1)
        .zeros(32)
        .u16(0x0018)
        .u16(0xFFFF)
        .bytes(&avcc(track.stream))
        .finish();
    Atom::full(b"stsd", 0, 0).u32(1).bytes(&avc1).finish()
}

/// AVCDecoderConfigurationRecord: profile, compatibility and level copied from the SPS.
fn avcc(stream: &Stream) -> Vec<u8> {
    let sps_byte = |i: usize| stream.sps.get(i).copied().unwrap_or(0);
    Atom::new(b"avcC")
        .u8(1)
        .u8(sps_byte(1))
        .u8(sps_byte(2))
        .u8(sps_byte(3))
        .u8(0xFC | (LENGTH_SIZE as u8 - 1))
        .u8(0xE0 | 1)
        .u16(stream.sps.len() as u16)
        .bytes(&stream.sps)
        .u8(1)
        .u16(stream.pps.len() as u16)
        .bytes(&stream.pps)
        .finish()
}
