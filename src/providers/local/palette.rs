//! Colour schemes: derived from the prompt's hash, or one of the named families.

pub type Colour = [u8; 3];

/// The colour family a job asks for (`specific.palette`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Prompt,
    Warm,
    Cool,
    Mono,
}

impl Scheme {
    pub fn parse(name: &str) -> Option<Scheme> {
        match name {
            "prompt" => Some(Scheme::Prompt),
            "warm" => Some(Scheme::Warm),
            "cool" => Some(Scheme::Cool),
            "mono" => Some(Scheme::Mono),
            _ => None,
        }
    }
}

/// Hue offsets (turns) of the five stops for the prompt-derived harmonies.
const HARMONIES: [[f32; 5]; 4] = [
    [0.0, 0.04, 0.08, 0.12, 0.16],
    [0.0, 0.03, 0.5, 0.53, 0.06],
    [0.0, 0.333, 0.667, 0.03, 0.36],
    [0.0, 0.42, 0.58, 0.05, 0.45],
];

/// Lightness of the five stops: dark and light alternate so neighbouring bands contrast.
const LIGHTNESS: [f32; 5] = [0.2, 0.62, 0.38, 0.82, 0.5];

/// Five colour stops.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Palette(Vec<Colour>);

impl Palette {
    /// The stops for `scheme`; `digest` (the prompt's hash) picks hues and nuances within it.
    pub fn new(scheme: Scheme, digest: &[u8; 32]) -> Palette {
        let byte = |i: usize| f32::from(digest[i]) / 255.0;
        let jitter = |i: usize| (byte(i) - 0.5) * 0.12;
        let stops = (0..5).map(|k| {
            let lightness = (LIGHTNESS[k] + jitter(8 + k)).clamp(0.08, 0.92);
            match scheme {
                Scheme::Prompt => {
                    let harmony = HARMONIES[usize::from(digest[2] % 4)];
                    let hue = byte(0) + byte(1) / 256.0 + harmony[k];
                    hsl(hue, 0.5 + 0.4 * byte(3 + k), lightness)
                }
                Scheme::Warm => {
                    let hue = -0.03 + 0.04 * byte(0) + 0.035 * k as f32 + jitter(3 + k) * 0.2;
                    hsl(hue, 0.75 + 0.2 * byte(3 + k), lightness)
                }
                Scheme::Cool => {
                    let hue = 0.47 + 0.06 * byte(0) + 0.04 * k as f32 + jitter(3 + k) * 0.2;
                    hsl(hue, 0.55 + 0.3 * byte(3 + k), lightness)
                }
                Scheme::Mono => hsl(0.0, 0.0, lightness),
            }
        });
        Palette(stops.collect())
    }

    pub fn stops(&self) -> &[Colour] {
        &self.0
    }
}

/// `hue` in turns, `saturation` and `lightness` in `[0, 1]`.
fn hsl(hue: f32, saturation: f32, lightness: f32) -> Colour {
    let chroma = (1.0 - (2.0 * lightness - 1.0).abs()) * saturation;
    let sector = (hue - hue.floor()) * 6.0;
    let second = chroma * (1.0 - ((sector - 2.0 * (sector / 2.0).floor()) - 1.0).abs());
    let (r, g, b) = match sector as u32 {
        0 => (chroma, second, 0.0),
        1 => (second, chroma, 0.0),
        2 => (0.0, chroma, second),
        3 => (0.0, second, chroma),
        4 => (second, 0.0, chroma),
        _ => (chroma, 0.0, second),
    };
    let base = lightness - chroma / 2.0;
    [r, g, b].map(|c| ((c + base) * 255.0 + 0.5).clamp(0.0, 255.0) as u8)
}

/// A palette spread over a lookup table, with smooth steps between stops.
pub struct Ramp(Vec<Colour>);

impl Ramp {
    /// Last stop blends back into the first: for patterns that wrap around.
    pub fn cyclic(palette: &Palette, size: usize) -> Ramp {
        let stops = palette.stops();
        Ramp::spread(stops, stops.len(), size)
    }

    /// First stop to last stop.
    pub fn linear(palette: &Palette, size: usize) -> Ramp {
        let stops = palette.stops();
        Ramp::spread(stops, stops.len().saturating_sub(1).max(1), size)
    }

    fn spread(stops: &[Colour], segments: usize, size: usize) -> Ramp {
        let entries = (0..size.max(1)).map(|i| {
            let position = i as f32 / size as f32 * segments as f32;
            let segment = position as usize;
            let t = position - segment as f32;
            let t = t * t * (3.0 - 2.0 * t);
            let from = stops[segment % stops.len()];
            let to = stops[(segment + 1) % stops.len()];
            let mut colour = [0u8; 3];
            for ((c, a), b) in colour.iter_mut().zip(from).zip(to) {
                *c = (f32::from(a) + (f32::from(b) - f32::from(a)) * t + 0.5) as u8;
            }
            colour
        });
        Ramp(entries.collect())
    }

    /// The colour at `position` in `[0, 1]`.
    pub fn at(&self, position: f32) -> Colour {
        let last = self.0.len() - 1;
        let index = ((position * self.0.len() as f32) as usize).min(last);
        self.0[index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hsl_gives_the_primary_colours() {
        assert_eq!(hsl(0.0, 1.0, 0.5), [255, 0, 0]);
        assert_eq!(hsl(1.0 / 3.0, 1.0, 0.5), [0, 255, 0]);
        assert_eq!(hsl(2.0 / 3.0, 1.0, 0.5), [0, 0, 255]);
        assert_eq!(hsl(0.5, 0.0, 1.0), [255, 255, 255]);
    }

    #[test]
    fn mono_palettes_are_grey() {
        let palette = Palette::new(Scheme::Mono, &[77; 32]);
        assert!(palette.stops().iter().all(|[r, g, b]| r == g && g == b));
    }

    #[test]
    fn different_digests_give_different_prompt_palettes() {
        let a = Palette::new(Scheme::Prompt, &[1; 32]);
        let b = Palette::new(Scheme::Prompt, &[200; 32]);
        assert_ne!(a, b);
    }
}
