//! The requests-per-day chart of the key detail page, drawn on the server as inline SVG: one
//! stacked bar a day, split by status class.

use crate::domain::Timestamp;
use crate::service::usage::DayUsage;

pub const WIDTH: i64 = 600;
pub const HEIGHT: i64 = 160;
const GAP: i64 = 2;

pub struct Bar {
    pub x: i64,
    pub width: i64,
    pub day: String,
    /// (class, y, height) for 2xx, 4xx and 5xx, bottom up.
    pub parts: Vec<(&'static str, i64, i64)>,
    pub total: i64,
}

pub struct Chart {
    pub bars: Vec<Bar>,
    pub max: i64,
}

/// Bars for the `days` days up to `now`, scaled to the busiest day.
pub fn requests_per_day(days: &[DayUsage], now: Timestamp, span: i64) -> Chart {
    let per_day: Vec<(String, [i64; 3])> = (0..span)
        .rev()
        .map(|back| {
            let day = now.plus_millis(-back * Timestamp::MS_PER_DAY).day();
            let d = days.iter().find(|d| d.day == day);
            let counts = d.map_or([0; 3], |d| [d.success, d.client_errors, d.server_errors]);
            (day, counts)
        })
        .collect();
    let max = per_day
        .iter()
        .map(|(_, c)| c.iter().sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = WIDTH / span.max(1);
    let bars = per_day
        .into_iter()
        .enumerate()
        .map(|(i, (day, counts))| {
            let mut y = HEIGHT;
            let mut parts = Vec::new();
            for (class, n) in ["s2", "s4", "s5"].into_iter().zip(counts) {
                let h = n * HEIGHT / max;
                if h > 0 {
                    y -= h;
                    parts.push((class, y, h));
                }
            }
            Bar {
                x: i as i64 * slot,
                width: (slot - GAP).max(1),
                day,
                parts,
                total: counts.iter().sum(),
            }
        })
        .collect();
    Chart { bars, max }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_scaled_to_the_busiest_day_and_stacked() {
        let now = Timestamp::parse("2026-11-22T12:00:00Z").unwrap();
        let days = vec![DayUsage {
            day: "2026-11-22".into(),
            total: 4,
            success: 2,
            client_errors: 1,
            server_errors: 1,
        }];
        let chart = requests_per_day(&days, now, 30);
        assert_eq!(chart.bars.len(), 30);
        assert_eq!(chart.max, 4);
        let last = chart.bars.last().unwrap();
        assert_eq!(last.day, "2026-11-22");
        assert_eq!(
            last.parts,
            vec![("s2", 80, 80), ("s4", 40, 40), ("s5", 0, 40)]
        );
        assert!(chart.bars[0].parts.is_empty());
    }
}
