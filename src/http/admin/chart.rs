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
    /// Gridlines at round counts: (y, count), bottom up.
    pub ticks: Vec<(i64, i64)>,
    /// Dates under the x axis: (x of the label's centre, "MM-DD"), one a week.
    pub dates: Vec<(i64, String)>,
    /// No request on any day shown.
    pub empty: bool,
}

/// A round step (1, 2 or 5 times a power of ten) giving about three gridlines up to `max`.
fn round_step(max: i64) -> i64 {
    let rough = (max / 3).max(1);
    let mut power = 1;
    while power * 10 <= rough {
        power *= 10;
    }
    [1, 2, 5, 10]
        .into_iter()
        .map(|m| m * power)
        .find(|step| *step >= rough)
        .unwrap_or(power * 10)
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
    let bars: Vec<Bar> = per_day
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
    let step = round_step(max);
    let ticks = (0..)
        .map(|k| k * step)
        .take_while(|v| *v <= max)
        .map(|v| (HEIGHT - v * HEIGHT / max, v))
        .collect();
    let dates = bars_dates(&bars, span);
    let empty = bars.iter().all(|b| b.total == 0);
    Chart {
        bars,
        max,
        ticks,
        dates,
        empty,
    }
}

/// One date a week under the axis, counted back from the last day so that today is labelled.
fn bars_dates(bars: &[Bar], span: i64) -> Vec<(i64, String)> {
    let every = if span > 14 { 7 } else { 1 };
    bars.iter()
        .rev()
        .step_by(every)
        .map(|b| {
            (
                b.x + b.width / 2,
                b.day.get(5..).unwrap_or(&b.day).to_owned(),
            )
        })
        .collect()
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
        // Gridlines at round counts, dates a week apart ending today.
        assert_eq!(
            chart.ticks,
            vec![(160, 0), (120, 1), (80, 2), (40, 3), (0, 4)]
        );
        assert_eq!(chart.dates.first().map(|d| d.1.as_str()), Some("11-22"));
        assert_eq!(chart.dates.len(), 5);
        assert!(!chart.empty);
    }

    #[test]
    fn gridlines_fall_on_round_counts() {
        assert_eq!(round_step(4), 1);
        assert_eq!(round_step(10492), 5000);
        assert_eq!(round_step(700), 500);
        assert_eq!(round_step(90), 50);
    }
}
