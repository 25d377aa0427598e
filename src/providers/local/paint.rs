//! The procedural scenes: layered interference patterns and soft mesh gradients.
//!
//! Only `+ - * /`, `sqrt`, `round` and `floor` are used on floats: they are exactly rounded by
//! IEEE 754, so a scene renders the same bytes on every platform (a libm `sin` would not).

use super::palette::{Colour, Palette, Ramp};

/// `sin(2π·turns)` to within 0.001.
pub fn wave(turns: f32) -> f32 {
    let p = turns - turns.round();
    let y = 8.0 * p - 16.0 * p * p.abs();
    0.225 * (y * y.abs() - y) + y
}

fn smoothstep(edge0: f32, edge1: f32, x: f32) -> f32 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

fn fract(x: f32) -> f32 {
    x - x.floor()
}

/// SplitMix64: a tiny deterministic generator for scene parameters.
pub struct Dice(u64);

impl Dice {
    pub fn new(seed: u64) -> Self {
        Dice(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[low, high)`.
    pub fn range(&mut self, low: f32, high: f32) -> f32 {
        let unit = (self.next() >> 40) as f32 / (1u64 << 24) as f32;
        low + (high - low) * unit
    }

    /// -1 or 1.
    fn sign(&mut self) -> f32 {
        if self.next() & 1 == 0 { -1.0 } else { 1.0 }
    }
}

/// Where the pixels of a buffer lie in scene space: the short side of the visible picture spans
/// `[-1, 1]`. The buffer may be larger than the visible picture (video padded to macroblocks).
#[derive(Clone, Copy, Debug)]
pub struct Canvas {
    pub width: u32,
    pub height: u32,
    left: f32,
    top: f32,
    step: f32,
}

impl Canvas {
    pub fn new(visible: (u32, u32), buffer: (u32, u32)) -> Self {
        let step = 2.0 / visible.0.min(visible.1) as f32;
        Canvas {
            width: buffer.0,
            height: buffer.1,
            left: -(visible.0 as f32) / 2.0 * step,
            top: -(visible.1 as f32) / 2.0 * step,
            step,
        }
    }

    /// Interleaved RGB, row by row, of `colour(x, y)` at every pixel centre.
    pub fn paint(&self, colour: impl Fn(f32, f32) -> Colour) -> Vec<u8> {
        let mut rgb = Vec::with_capacity(self.width as usize * self.height as usize * 3);
        for row in 0..self.height {
            let y = self.top + (row as f32 + 0.5) * self.step;
            for column in 0..self.width {
                let x = self.left + (column as f32 + 0.5) * self.step;
                rgb.extend_from_slice(&colour(x, y));
            }
        }
        rgb
    }
}

struct PlaneWave {
    dx: f32,
    dy: f32,
    phase: f32,
    /// Whole turns per loop, so an animation ends where it began.
    turns: f32,
}

struct Ripple {
    x: f32,
    y: f32,
    frequency: f32,
    phase: f32,
    turns: f32,
    orbit: f32,
}

struct Disc {
    x: f32,
    y: f32,
    radius: f32,
    shift: f32,
}

/// Interfering plane waves and ripples, with soft discs shifting the colour where they lie.
pub struct Pattern {
    waves: Vec<PlaneWave>,
    ripples: Vec<Ripple>,
    discs: Vec<Disc>,
    bands: f32,
    offset: f32,
    ramp: Ramp,
}

impl Pattern {
    pub fn new(dice: &mut Dice, palette: &Palette, ramp_size: usize) -> Self {
        let waves = (0..3)
            .map(|_| {
                let angle = dice.range(0.0, 1.0);
                let frequency = dice.range(0.4, 1.4);
                PlaneWave {
                    dx: wave(angle + 0.25) * frequency,
                    dy: wave(angle) * frequency,
                    phase: dice.range(0.0, 1.0),
                    turns: dice.sign(),
                }
            })
            .collect();
        let ripples = (0..2)
            .map(|_| Ripple {
                x: dice.range(-1.2, 1.2),
                y: dice.range(-0.9, 0.9),
                frequency: dice.range(1.2, 3.0),
                phase: dice.range(0.0, 1.0),
                turns: dice.sign() * 2.0,
                orbit: dice.range(0.1, 0.35),
            })
            .collect();
        let discs = (0..dice.range(2.0, 6.0) as usize)
            .map(|_| Disc {
                x: dice.range(-1.5, 1.5),
                y: dice.range(-1.0, 1.0),
                radius: dice.range(0.12, 0.5),
                shift: dice.range(0.2, 0.45) * dice.sign(),
            })
            .collect();
        Pattern {
            waves,
            ripples,
            discs,
            bands: dice.range(0.5, 1.1),
            offset: dice.range(0.0, 1.0),
            ramp: Ramp::cyclic(palette, ramp_size),
        }
    }

    /// The scene at loop position `time` in `[0, 1)`.
    pub fn at(&self, time: f32) -> impl Fn(f32, f32) -> Colour + '_ {
        let waves: Vec<(f32, f32, f32)> = self
            .waves
            .iter()
            .map(|w| (w.dx, w.dy, w.phase + w.turns * time))
            .collect();
        let ripples: Vec<(f32, f32, f32, f32)> = self
            .ripples
            .iter()
            .map(|r| {
                let x = r.x + r.orbit * wave(time + 0.25);
                let y = r.y + r.orbit * wave(time);
                (x, y, r.frequency, r.phase - r.turns * time)
            })
            .collect();
        let parts = (waves.len() + ripples.len()) as f32;
        move |x, y| {
            let mut sum = 0.0;
            for &(dx, dy, phase) in &waves {
                sum += wave(x * dx + y * dy + phase);
            }
            for &(cx, cy, frequency, phase) in &ripples {
                let distance = ((x - cx) * (x - cx) + (y - cy) * (y - cy)).sqrt();
                sum += wave(distance * frequency + phase);
            }
            let mut position = sum / parts * self.bands + self.offset;
            for disc in &self.discs {
                position += disc.shift * disc.cover(x, y);
            }
            self.ramp.at(fract(position))
        }
    }
}

impl Disc {
    /// 1 inside, 0 outside, with a soft rim.
    fn cover(&self, x: f32, y: f32) -> f32 {
        let d2 = (x - self.x) * (x - self.x) + (y - self.y) * (y - self.y);
        if d2 >= self.radius * self.radius {
            return 0.0;
        }
        smoothstep(self.radius, self.radius * 0.8, d2.sqrt())
    }
}

struct Anchor {
    x: f32,
    y: f32,
    colour: [f32; 3],
}

struct Glow {
    x: f32,
    y: f32,
    radius: f32,
    strength: f32,
    colour: [f32; 3],
}

/// A linear gradient under a mesh of colour anchors, with soft glows and a gentle vignette.
pub struct Gradient {
    dx: f32,
    dy: f32,
    anchors: Vec<Anchor>,
    glows: Vec<Glow>,
    ramp: Ramp,
}

impl Gradient {
    pub fn new(dice: &mut Dice, palette: &Palette) -> Self {
        let angle = dice.range(0.0, 1.0);
        let anchors = palette
            .stops()
            .iter()
            .map(|colour| Anchor {
                x: dice.range(-1.6, 1.6),
                y: dice.range(-1.1, 1.1),
                colour: colour.map(f32::from),
            })
            .collect();
        let glows = palette
            .stops()
            .iter()
            .skip(1)
            .step_by(2)
            .map(|colour| Glow {
                x: dice.range(-1.4, 1.4),
                y: dice.range(-1.0, 1.0),
                radius: dice.range(0.5, 1.0),
                strength: dice.range(0.3, 0.55),
                colour: colour.map(f32::from),
            })
            .collect();
        Gradient {
            dx: wave(angle + 0.25) * 0.3,
            dy: wave(angle) * 0.3,
            anchors,
            glows,
            ramp: Ramp::linear(palette, 1024),
        }
    }

    pub fn colour(&self, x: f32, y: f32) -> Colour {
        let base = self
            .ramp
            .at((0.5 + x * self.dx + y * self.dy).clamp(0.0, 1.0));
        let mut mesh = [0.0f32; 3];
        let mut total = 0.0;
        for anchor in &self.anchors {
            let d2 = (x - anchor.x) * (x - anchor.x) + (y - anchor.y) * (y - anchor.y);
            let weight = 1.0 / (d2 + 0.12);
            let weight = weight * weight * weight;
            total += weight;
            for (m, c) in mesh.iter_mut().zip(anchor.colour) {
                *m += weight * c;
            }
        }
        let mut rgb = [0.0f32; 3];
        for ((out, m), b) in rgb.iter_mut().zip(mesh).zip(base) {
            *out = 0.2 * f32::from(b) + 0.8 * m / total;
        }
        for glow in &self.glows {
            let d = ((x - glow.x) * (x - glow.x) + (y - glow.y) * (y - glow.y)).sqrt();
            let alpha = glow.strength * smoothstep(glow.radius, 0.0, d);
            for (c, target) in rgb.iter_mut().zip(glow.colour) {
                *c += (target - *c) * alpha;
            }
        }
        let vignette = 1.0 - 0.2 * smoothstep(0.8, 2.0, (x * x + y * y).sqrt());
        rgb.map(|c| (c * vignette + 0.5).clamp(0.0, 255.0) as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wave_follows_the_sine_closely() {
        for step in -200..=200 {
            let turns = step as f32 / 100.0;
            let exact = (turns * std::f32::consts::TAU).sin();
            assert!((wave(turns) - exact).abs() < 0.002, "at {turns}");
        }
    }

    #[test]
    fn dice_ranges_stay_in_bounds() {
        let mut dice = Dice::new(7);
        for _ in 0..1000 {
            let v = dice.range(-2.0, 3.0);
            assert!((-2.0..3.0).contains(&v));
        }
    }
}
