//! Time: one replaceable clock and one timestamp type with the wire format of the API.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// Year, month and day of a day number counted from 1970-01-01 (proleptic Gregorian calendar).
fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// Milliseconds since the Unix epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub const MS_PER_DAY: i64 = 86_400_000;
    pub const MS_PER_HOUR: i64 = 3_600_000;

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn plus_millis(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    fn datetime(self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.0) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// RFC 3339 UTC with milliseconds and `Z`, e.g. `2026-11-22T10:00:00.000Z`. Written by hand:
    /// every response carries at least one, so it skips the formatting machinery.
    pub fn to_rfc3339(self) -> String {
        let (year, month, day) = civil_date(self.0.div_euclid(Self::MS_PER_DAY));
        if let Ok(year @ 0..=9999) = u32::try_from(year) {
            let ms = self.0.rem_euclid(Self::MS_PER_DAY);
            let mut out = String::with_capacity(24);
            let mut push = |n: i64, width: u32, after: char| {
                for i in (0..width).rev() {
                    let digit = (n / 10_i64.pow(i)) % 10;
                    out.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
                }
                out.push(after);
            };
            push(i64::from(year), 4, '-');
            push(i64::from(month), 2, '-');
            push(i64::from(day), 2, 'T');
            push(ms / 3_600_000, 2, ':');
            push(ms / 60_000 % 60, 2, ':');
            push(ms / 1000 % 60, 2, '.');
            push(ms % 1000, 3, 'Z');
            return out;
        }
        self.rfc3339_formatted()
    }

    /// The same, through the formatting machinery: for years the fast path does not write.
    fn rfc3339_formatted(self) -> String {
        let d = self.datetime();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second(),
            d.millisecond()
        )
    }

    /// The UTC day, `YYYY-MM-DD`, as roll-ups are keyed.
    pub fn day(self) -> String {
        let d = self.datetime();
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    }

    /// Start of this timestamp's UTC day.
    pub fn start_of_day(self) -> Timestamp {
        Timestamp(self.0 - self.0.rem_euclid(Self::MS_PER_DAY))
    }

    /// Accepts RFC 3339 (any offset) or a bare `YYYY-MM-DD` (midnight UTC).
    pub fn parse(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        if let Ok(d) = OffsetDateTime::parse(s, &Rfc3339) {
            return Some(Self::from_datetime(d));
        }
        let date =
            time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
        Some(Self::from_datetime(
            date.midnight().assume_offset(UtcOffset::UTC),
        ))
    }

    fn from_datetime(d: OffsetDateTime) -> Timestamp {
        Timestamp(i64::try_from(d.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
    }
}

/// The wall clock, with an offset that tests move forward instead of sleeping.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::default()
    }

    pub fn now(&self) -> Timestamp {
        let now = OffsetDateTime::now_utc();
        let ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        Timestamp(ms + self.offset_ms.load(Ordering::Relaxed))
    }

    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handwritten_rfc3339_matches_the_calendar() {
        let mut samples = vec![
            0,
            -1,
            951_782_400_000,     // 2000-02-29
            4_107_542_400_000,   // 2100-03-01
            253_402_300_799_999, // 9999-12-31T23:59:59.999
            -62_167_219_200_000, // 0000-01-01
            1_795_000_000_123,
        ];
        let mut t: i64 = -62_000_000_000_000;
        while t < 253_000_000_000_000 {
            samples.push(t);
            t += 77_777_777_777;
        }
        for ms in samples {
            let t = Timestamp(ms);
            assert_eq!(t.to_rfc3339(), t.rfc3339_formatted(), "{ms}");
        }
    }

    #[test]
    fn timestamps_render_with_milliseconds_and_z() {
        assert_eq!(
            Timestamp(1_795_347_200_123).to_rfc3339(),
            "2026-11-22T11:33:20.123Z"
        );
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn parse_accepts_rfc3339_offsets_and_bare_dates() {
        let t = Timestamp::parse("2026-11-22T10:00:00+01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-22T09:00:00.000Z");
        assert_eq!(
            Timestamp::parse("2026-11-22").unwrap().to_rfc3339(),
            "2026-11-22T00:00:00.000Z"
        );
        assert!(Timestamp::parse("yesterday").is_none());
    }

    #[test]
    fn day_and_start_of_day_agree() {
        let t = Timestamp::parse("2026-11-22T23:59:59.999Z").unwrap();
        assert_eq!(t.day(), "2026-11-22");
        assert_eq!(t.start_of_day().to_rfc3339(), "2026-11-22T00:00:00.000Z");
    }

    #[test]
    fn an_advanced_clock_moves_forward() {
        let clock = Clock::system();
        let before = clock.now();
        clock.advance(3_600_000);
        assert!(clock.now().millis() - before.millis() >= 3_600_000);
    }
}
