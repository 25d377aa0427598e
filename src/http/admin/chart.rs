//! The charts of the dashboard, the key page and the usage page (docs/admin.md, "Charts"),
//! drawn on the server as inline SVG from the hourly roll-ups: requests per hour or per day
//! stacked by outcome, with round gridlines, dates under the axis, a readout of each bar on
//! hover and focus and the same numbers as a table; and the p50/p95 latency of each bucket.

use serde::Deserialize;

use crate::domain::Timestamp;
use crate::domain::usage::{Outcome, Tally, latency_text};

pub const WIDTH: i64 = 900;
pub const HEIGHT: i64 = 200;
/// The latency chart is lower than the requests chart.
pub const LATENCY_HEIGHT: i64 = 100;

/// How far back a chart reaches, kept in the URL as `?range=24h|7d|30d|90d`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    Day,
    Week,
    Month,
    Quarter,
}

/// The `range` of a page's query; anything else reads as the page's default.
#[derive(Deserialize, Default)]
pub struct RangeQuery {
    #[serde(default)]
    pub range: String,
}

impl Range {
    pub const ALL: [Range; 4] = [Range::Day, Range::Week, Range::Month, Range::Quarter];

    pub fn parse(text: &str) -> Option<Range> {
        Range::ALL.into_iter().find(|r| r.param() == text)
    }

    pub fn or(query: &RangeQuery, default: Range) -> Range {
        Range::parse(&query.range).unwrap_or(default)
    }

    pub fn param(self) -> &'static str {
        match self {
            Range::Day => "24h",
            Range::Week => "7d",
            Range::Month => "30d",
            Range::Quarter => "90d",
        }
    }

    /// "last 24 hours", as a heading ends.
    pub fn label(self) -> &'static str {
        match self {
            Range::Day => "last 24 hours",
            Range::Week => "last 7 days",
            Range::Month => "last 30 days",
            Range::Quarter => "last 90 days",
        }
    }

    fn hourly(self) -> bool {
        self == Range::Day
    }

    fn buckets(self) -> i64 {
        match self {
            Range::Day => 24,
            Range::Week => 7,
            Range::Month => 30,
            Range::Quarter => 90,
        }
    }

    /// What one bar counts: "hour" or "day".
    pub fn unit(self) -> &'static str {
        if self.hourly() { "hour" } else { "day" }
    }

    /// The first hour the chart reads: 23 hours before this one, or the start of the first day.
    pub fn since_hour(self, now: Timestamp) -> i64 {
        let hour = now.millis().div_euclid(Timestamp::MS_PER_HOUR);
        if self.hourly() {
            hour - 23
        } else {
            (hour.div_euclid(24) - (self.buckets() - 1)) * 24
        }
    }

    /// The first UTC day the chart shows (`YYYY-MM-DD`), for the daily roll-ups beside it.
    pub fn since_day(self, now: Timestamp) -> String {
        Timestamp(self.since_hour(now) * Timestamp::MS_PER_HOUR).day()
    }
}

/// One bar's requests: an hour or a day.
pub struct Bucket {
    /// "2026-12-06" or "2026-12-06 14:00" (UTC).
    pub label: String,
    pub tally: Tally,
}

/// The range's buckets, oldest first, from hourly tallies (hour, tally) in any order.
pub fn buckets(range: Range, hours: &[(i64, Tally)], now: Timestamp) -> Vec<Bucket> {
    let first = range.since_hour(now);
    let per = if range.hourly() { 1 } else { 24 };
    let mut out: Vec<Bucket> = (0..range.buckets())
        .map(|i| {
            let start = Timestamp((first + i * per) * Timestamp::MS_PER_HOUR);
            let label = if range.hourly() {
                let text = start.to_rfc3339();
                format!("{} {}", &text[..10], &text[11..16])
            } else {
                start.day()
            };
            Bucket {
                label,
                tally: Tally::default(),
            }
        })
        .collect();
    for (hour, tally) in hours {
        let index = (hour - first).div_euclid(per);
        if let Some(bucket) = usize::try_from(index).ok().and_then(|i| out.get_mut(i)) {
            bucket.tally.merge(tally);
        }
    }
    out
}

/// The sum of the buckets.
pub fn total(buckets: &[Bucket]) -> Tally {
    let mut sum = Tally::default();
    for b in buckets {
        sum.merge(&b.tally);
    }
    sum
}

pub struct Bar {
    pub x: String,
    pub width: String,
    /// The slot's left edge and width: the area that answers hover.
    pub slot_x: String,
    pub slot_width: String,
    pub label: String,
    pub total: i64,
    /// (class, y, height) per outcome with requests, bottom up.
    pub parts: Vec<(&'static str, i64, i64)>,
    /// Requests per outcome, in `Outcome::ALL` order.
    pub counts: [i64; 5],
    pub p50: Option<String>,
    pub p95: Option<String>,
    /// What the bar holds, in two lines shown above the chart on hover and focus: "2026-12-06:
    /// 1,234 requests; p50 1.8 ms, p95 2.4 ms", then the outcomes with requests.
    pub headline: String,
    pub detail: String,
}

impl Bar {
    /// Both lines as one sentence, the bar's accessible name.
    pub fn readout(&self) -> String {
        if self.detail.is_empty() {
            self.headline.clone()
        } else {
            format!("{}; {}", self.headline, self.detail)
        }
    }
}

pub struct Chart {
    pub range: Range,
    pub bars: Vec<Bar>,
    /// Gridlines at round counts: (y, count), bottom up.
    pub ticks: Vec<(i64, i64)>,
    /// Labels under the x axis: (x of the label's centre, text).
    pub dates: Vec<(String, String)>,
    /// No request in any bucket.
    pub empty: bool,
    pub latency: LatencyLines,
}

/// The p50 and p95 of each bucket with requests, as polylines over the same x axis.
pub struct LatencyLines {
    pub p50: String,
    pub p95: String,
    /// (x, y of the p50, y of the p95) of each point.
    pub points: Vec<(String, i64, i64)>,
    /// Gridlines: (y, "5 ms"), bottom up.
    pub ticks: Vec<(i64, String)>,
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

/// Round gridlines from 0 to `max` on a chart `height` high: (y, value).
fn gridlines(max: i64, height: i64) -> Vec<(i64, i64)> {
    let step = round_step(max);
    (0..)
        .map(|k| k * step)
        .take_while(|v| *v <= max)
        .map(|v| (height - v * height / max.max(1), v))
        .collect()
}

fn fixed(v: f64) -> String {
    format!("{v:.1}")
}

/// Thousands separated by commas, for the SVG readouts (the page's other numbers are formatted
/// in the browser's locale by its script).
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A bucket's two readout lines: its total and latency, then its outcomes (when not all
/// succeeded).
fn readout(label: &str, tally: &Tally) -> (String, String) {
    let total = tally.total();
    let mut headline = format!(
        "{label}: {} request{}",
        grouped(total),
        if total == 1 { "" } else { "s" }
    );
    if let (Some(p50), Some(p95)) = (tally.percentile(0.5), tally.percentile(0.95)) {
        headline.push_str(&format!(
            "; p50 {}, p95 {}",
            latency_text(p50),
            latency_text(p95)
        ));
    }
    let detail = if tally.count(Outcome::Success) == total {
        String::new()
    } else {
        Outcome::ALL
            .into_iter()
            .filter(|o| tally.count(*o) > 0)
            .map(|o| {
                let n = tally.count(o);
                let mut what = o.label().to_lowercase();
                if n == 1 {
                    what = what.replace("errors", "error");
                }
                format!("{} {what}", grouped(n))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    (headline, detail)
}

/// Draws the buckets of `range`.
pub fn draw(range: Range, buckets: &[Bucket]) -> Chart {
    let max = buckets
        .iter()
        .map(|b| b.tally.total())
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = WIDTH as f64 / buckets.len().max(1) as f64;
    let gap = if slot > 8.0 { 2.0 } else { 1.0 };
    let bars: Vec<Bar> = buckets
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let mut y = HEIGHT;
            let mut parts = Vec::new();
            for outcome in Outcome::ALL {
                let h = b.tally.count(outcome) * HEIGHT / max;
                if h > 0 {
                    y -= h;
                    parts.push((outcome.class(), y, h));
                }
            }
            let (headline, detail) = readout(&b.label, &b.tally);
            Bar {
                x: fixed(i as f64 * slot),
                width: fixed((slot - gap).max(1.0)),
                slot_x: fixed(i as f64 * slot),
                slot_width: fixed(slot),
                label: b.label.clone(),
                total: b.tally.total(),
                parts,
                counts: b.tally.outcomes,
                p50: b.tally.percentile(0.5).map(latency_text),
                p95: b.tally.percentile(0.95).map(latency_text),
                headline,
                detail,
            }
        })
        .collect();
    // Labels counted back from the newest bucket, so that the current one is labelled.
    let every = match range {
        Range::Day => 3,
        Range::Week => 1,
        Range::Month => 7,
        Range::Quarter => 14,
    };
    let dates = bars
        .iter()
        .enumerate()
        .rev()
        .step_by(every)
        .map(|(i, b)| {
            let text = if range.hourly() {
                b.label.get(11..).unwrap_or(&b.label).to_owned()
            } else {
                b.label.get(5..).unwrap_or(&b.label).to_owned()
            };
            (fixed((i as f64 + 0.5) * slot), text)
        })
        .collect();
    Chart {
        range,
        empty: bars.iter().all(|b| b.total == 0),
        ticks: gridlines(max, HEIGHT),
        latency: latency_lines(buckets, slot),
        bars,
        dates,
    }
}

/// The p50/p95 lines, scaled to the slowest p95 and gridded in milliseconds.
fn latency_lines(buckets: &[Bucket], slot: f64) -> LatencyLines {
    let values: Vec<(usize, i64, i64)> = buckets
        .iter()
        .enumerate()
        .filter_map(|(i, b)| Some((i, b.tally.percentile(0.5)?, b.tally.percentile(0.95)?)))
        .collect();
    let top = values.iter().map(|v| v.2).max().unwrap_or(0).max(1);
    // Gridlines at round microsecond counts, labelled in their unit.
    let ticks = gridlines(top, LATENCY_HEIGHT)
        .into_iter()
        .map(|(y, us)| (y, latency_text(us)))
        .collect();
    let y = |us: i64| LATENCY_HEIGHT - us * LATENCY_HEIGHT / top;
    let points: Vec<(String, i64, i64)> = values
        .iter()
        .map(|(i, p50, p95)| (fixed((*i as f64 + 0.5) * slot), y(*p50), y(*p95)))
        .collect();
    let line = |pick: fn(&(String, i64, i64)) -> i64| {
        points
            .iter()
            .map(|p| format!("{},{}", p.0, pick(p)))
            .collect::<Vec<_>>()
            .join(" ")
    };
    LatencyLines {
        p50: line(|p| p.1),
        p95: line(|p| p.2),
        ticks,
        points,
    }
}

/// The sparkline of counts, as SVG polyline points in a `width` × 20 box.
pub fn sparkline(counts: &[i64], width: f64) -> String {
    let top = counts.iter().copied().max().unwrap_or(0).max(1);
    let step = width / (counts.len().max(2) - 1) as f64;
    counts
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                "{:.1},{:.1}",
                i as f64 * step,
                19.0 - 18.0 * *n as f64 / top as f64
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(success: i64, refused: i64, latency_us: i64) -> Tally {
        let mut t = Tally::default();
        for _ in 0..success {
            t.add(200, latency_us);
        }
        for _ in 0..refused {
            t.add(401, latency_us);
        }
        t
    }

    #[test]
    fn hours_fold_into_the_ranges_buckets() {
        let now = Timestamp::parse("2026-11-22T12:30:00Z").unwrap();
        let hour = now.millis() / Timestamp::MS_PER_HOUR;
        let hours = vec![
            (hour, tally(2, 1, 2_000)),
            (hour - 1, tally(1, 0, 2_000)),
            (hour - 24, tally(5, 0, 2_000)),
        ];
        let day = buckets(Range::Day, &hours, now);
        assert_eq!(day.len(), 24);
        assert_eq!(day[23].label, "2026-11-22 12:00");
        assert_eq!(day[23].tally.total(), 3);
        assert_eq!(day[22].tally.total(), 1);
        assert_eq!(total(&day).total(), 4, "the hour a day back is outside");
        let week = buckets(Range::Week, &hours, now);
        assert_eq!(week.len(), 7);
        assert_eq!(week[6].label, "2026-11-22");
        assert_eq!(week[6].tally.total(), 4);
        assert_eq!(week[5].tally.total(), 5);
        assert_eq!(Range::Week.since_day(now), "2026-11-16");
    }

    #[test]
    fn bars_stack_by_outcome_with_round_gridlines_and_dated_axis() {
        let now = Timestamp::parse("2026-11-22T12:00:00Z").unwrap();
        let hour = now.millis() / Timestamp::MS_PER_HOUR;
        let hours = vec![(hour, tally(3, 1, 2_000))];
        let chart = draw(Range::Month, &buckets(Range::Month, &hours, now));
        assert_eq!(chart.bars.len(), 30);
        let last = chart.bars.last().unwrap();
        assert_eq!(last.label, "2026-11-22");
        assert_eq!(last.parts, vec![("o-ok", 50, 150), ("o-auth", 0, 50)]);
        assert_eq!(
            last.readout(),
            "2026-11-22: 4 requests; p50 1.8 ms, p95 2.4 ms; 3 succeeded, 1 auth refused"
        );
        assert!(chart.bars[0].parts.is_empty());
        assert_eq!(
            chart.ticks,
            vec![(200, 0), (150, 1), (100, 2), (50, 3), (0, 4)]
        );
        assert_eq!(chart.dates.first().map(|d| d.1.as_str()), Some("11-22"));
        assert_eq!(chart.dates.len(), 5);
        assert_eq!(chart.latency.points.len(), 1);
        assert!(!chart.empty);
        let hourly = draw(Range::Day, &buckets(Range::Day, &hours, now));
        assert_eq!(hourly.dates.first().map(|d| d.1.as_str()), Some("12:00"));
        assert_eq!(hourly.dates.len(), 8);
    }

    #[test]
    fn gridlines_fall_on_round_counts() {
        assert_eq!(round_step(4), 1);
        assert_eq!(round_step(10492), 5000);
        assert_eq!(round_step(700), 500);
        assert_eq!(round_step(90), 50);
        assert_eq!(grouped(10492), "10,492");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000_000), "1,000,000");
    }
}
