//! A key's request quota (docs/keys.md, "Request quotas"): at most `requests` requests, given
//! back in full at each refill (every UTC midnight, every Monday, or on a day of every month),
//! or never. The refill is computed from the clock when the key is used, never by a job.

use time::{Date, Month, OffsetDateTime, Time};

use crate::domain::Timestamp;

/// The most requests a quota may allow.
pub const MAX_QUOTA_REQUESTS: i64 = 1_000_000_000;

/// When a quota is given back in full, at UTC midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refill {
    /// Never: the quota is spent once.
    Never,
    Daily,
    /// Every Monday.
    Weekly,
    /// On this day of every month (1–31); in a shorter month, on its last day.
    Monthly {
        day: u8,
    },
}

impl Refill {
    /// One refill of each kind, for their names.
    pub const KINDS: [Refill; 4] = [
        Refill::Never,
        Refill::Daily,
        Refill::Weekly,
        Refill::Monthly { day: 1 },
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Refill::Never => "none",
            Refill::Daily => "daily",
            Refill::Weekly => "weekly",
            Refill::Monthly { .. } => "monthly",
        }
    }

    /// The day of the month of a monthly refill.
    pub fn day(self) -> Option<u8> {
        match self {
            Refill::Monthly { day } => Some(day),
            _ => None,
        }
    }

    /// The refill from its stored name and day.
    pub fn from_stored(name: &str, day: Option<i64>) -> Option<Refill> {
        match name {
            "none" => Some(Refill::Never),
            "daily" => Some(Refill::Daily),
            "weekly" => Some(Refill::Weekly),
            "monthly" => {
                let day = u8::try_from(day?).ok().filter(|d| (1..=31).contains(d))?;
                Some(Refill::Monthly { day })
            }
            _ => None,
        }
    }

    /// The start of the period `at` falls in (0 for a quota that never refills), and the next
    /// refill.
    pub fn bounds(self, at: Timestamp) -> (Timestamp, Option<Timestamp>) {
        use super::budget::BudgetPeriod;
        match self {
            Refill::Never => (Timestamp(0), None),
            Refill::Daily => {
                let (start, end) = BudgetPeriod::Day.bounds(at);
                (start, Some(end))
            }
            Refill::Weekly => {
                let (start, end) = BudgetPeriod::Week.bounds(at);
                (start, Some(end))
            }
            Refill::Monthly { day } => {
                let today = OffsetDateTime::from_unix_timestamp(at.0.div_euclid(1000))
                    .map(OffsetDateTime::date)
                    .unwrap_or(Date::MIN);
                let (year, month) = (today.year(), today.month());
                let this = refill_day(year, month, day);
                let (start, next) = if this <= today {
                    let (y, m) = next_month(year, month);
                    (this, refill_day(y, m, day))
                } else {
                    let (y, m) = previous_month(year, month);
                    (refill_day(y, m, day), this)
                };
                (midnight(start), Some(midnight(next)))
            }
        }
    }

    /// How it reads on a page: "every day", "on the 15th of every month".
    pub fn describe(self) -> String {
        match self {
            Refill::Never => "never refilled".into(),
            Refill::Daily => "refilled every day".into(),
            Refill::Weekly => "refilled every Monday".into(),
            Refill::Monthly { day } => format!("refilled on day {day} of every month"),
        }
    }
}

/// A field as typed, if anything was typed.
fn given(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

fn refill_day(year: i32, month: Month, day: u8) -> Date {
    let last = month.length(year);
    Date::from_calendar_date(year, month, day.min(last)).unwrap_or(Date::MIN)
}

fn next_month(year: i32, month: Month) -> (i32, Month) {
    match month {
        Month::December => (year + 1, Month::January),
        m => (year, m.next()),
    }
}

fn previous_month(year: i32, month: Month) -> (i32, Month) {
    match month {
        Month::January => (year - 1, Month::December),
        m => (year, m.previous()),
    }
}

fn midnight(d: Date) -> Timestamp {
    Timestamp(d.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp() * 1000)
}

/// At most `requests` requests per refill period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub requests: i64,
    pub refill: Refill,
}

/// A key's quota with what its period has used so far, as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyQuota {
    pub quota: Quota,
    /// Requests counted in the period starting at `period_start`.
    pub used: i64,
    pub period_start: Timestamp,
}

impl KeyQuota {
    /// What the period running at `now` has used: the stored count if its period is still
    /// running, 0 after a refill; with that period's start.
    pub fn used_at(&self, now: Timestamp) -> (i64, Timestamp) {
        let (start, _) = self.quota.refill.bounds(now);
        let used = if start == self.period_start {
            self.used
        } else {
            0
        };
        (used, start)
    }

    /// What is left at `now`.
    pub fn remaining(&self, now: Timestamp) -> i64 {
        (self.quota.requests - self.used_at(now).0).max(0)
    }

    /// When the quota is next whole again after `now`; `None`: never.
    pub fn refills_at(&self, now: Timestamp) -> Option<Timestamp> {
        self.quota.refill.bounds(now).1
    }
}

impl Quota {
    /// A quota from its three fields as typed: the number and the refill, and the day with a
    /// monthly refill (only then). No number and no refill: no quota. A refusal names the field
    /// at fault (`quota_requests`, `quota_refill`, `quota_refill_day`) and says why.
    pub fn parse(
        requests: Option<&str>,
        refill: Option<&str>,
        day: Option<&str>,
    ) -> Result<Option<Quota>, (&'static str, String)> {
        let (requests, refill, day) = (given(requests), given(refill), given(day));
        let (requests, refill) = match (requests, refill) {
            (None, None) if day.is_none() => return Ok(None),
            (Some(r), Some(f)) => (r, f),
            (None, _) => {
                return Err((
                    "quota_requests",
                    "a quota needs its number of requests as well as its refill".into(),
                ));
            }
            (Some(_), None) => {
                return Err((
                    "quota_refill",
                    "a quota needs its refill: none, daily, weekly or monthly".into(),
                ));
            }
        };
        let requests = requests
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX_QUOTA_REQUESTS).contains(n))
            .ok_or_else(|| {
                (
                    "quota_requests",
                    format!("must be a whole number of requests from 1 to {MAX_QUOTA_REQUESTS}"),
                )
            })?;
        let kind = Refill::KINDS
            .into_iter()
            .find(|k| k.as_str() == refill)
            .ok_or_else(|| {
                (
                    "quota_refill",
                    format!("{refill:?} is not a refill; use none, daily, weekly or monthly"),
                )
            })?;
        let refill = match (kind, day) {
            (Refill::Monthly { .. }, Some(day)) => {
                let day = day
                    .parse::<u8>()
                    .ok()
                    .filter(|d| (1..=31).contains(d))
                    .ok_or_else(|| {
                        (
                            "quota_refill_day",
                            "must be a day of the month from 1 to 31 (past a month's end, its \
                             last day)"
                                .to_owned(),
                        )
                    })?;
                Refill::Monthly { day }
            }
            (Refill::Monthly { .. }, None) => {
                return Err((
                    "quota_refill_day",
                    "a monthly refill needs its day of the month (1–31)".into(),
                ));
            }
            (_, Some(_)) => {
                return Err((
                    "quota_refill_day",
                    "only a monthly refill has a day of the month".into(),
                ));
            }
            (kind, None) => kind,
        };
        Ok(Some(Quota { requests, refill }))
    }

    /// How it reads on a page and in the command line: "1000 requests, refilled every day".
    pub fn describe(&self) -> String {
        format!("{} requests, {}", self.requests, self.refill.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn a_monthly_refill_falls_on_its_day_or_the_last_day_of_a_shorter_month() {
        let day31 = Refill::Monthly { day: 31 };
        assert_eq!(
            day31.bounds(at("2026-11-15T12:00:00Z")),
            (at("2026-10-31T00:00:00Z"), Some(at("2026-11-30T00:00:00Z")))
        );
        assert_eq!(
            day31.bounds(at("2026-11-30T00:00:00Z")),
            (at("2026-11-30T00:00:00Z"), Some(at("2026-12-31T00:00:00Z"))),
            "the 30th is the 31st of November"
        );
        assert_eq!(
            day31.bounds(at("2027-02-28T08:00:00Z")).0,
            at("2027-02-28T00:00:00Z")
        );
        let day15 = Refill::Monthly { day: 15 };
        assert_eq!(
            day15.bounds(at("2026-12-14T23:59:59Z")),
            (at("2026-11-15T00:00:00Z"), Some(at("2026-12-15T00:00:00Z")))
        );
        assert_eq!(
            day15.bounds(at("2027-01-10T00:00:00Z")).0,
            at("2026-12-15T00:00:00Z"),
            "across the new year"
        );
        assert_eq!(
            Refill::Monthly { day: 1 }.bounds(at("2026-12-31T23:00:00Z")),
            (at("2026-12-01T00:00:00Z"), Some(at("2027-01-01T00:00:00Z")))
        );
    }

    #[test]
    fn daily_weekly_and_never_refills() {
        let t = at("2026-12-06T15:30:00Z"); // a Sunday
        assert_eq!(
            Refill::Daily.bounds(t),
            (at("2026-12-06T00:00:00Z"), Some(at("2026-12-07T00:00:00Z")))
        );
        assert_eq!(
            Refill::Weekly.bounds(t),
            (at("2026-11-30T00:00:00Z"), Some(at("2026-12-07T00:00:00Z")))
        );
        assert_eq!(Refill::Never.bounds(t), (Timestamp(0), None));
    }

    #[test]
    fn what_is_left_comes_back_in_full_once_the_period_has_turned() {
        let q = KeyQuota {
            quota: Quota {
                requests: 10,
                refill: Refill::Daily,
            },
            used: 7,
            period_start: at("2026-12-06T00:00:00Z"),
        };
        assert_eq!(q.remaining(at("2026-12-06T23:59:59Z")), 3);
        assert_eq!(q.remaining(at("2026-12-07T00:00:00Z")), 10);
        let never = KeyQuota {
            quota: Quota {
                requests: 10,
                refill: Refill::Never,
            },
            used: 12,
            period_start: Timestamp(0),
        };
        assert_eq!(never.remaining(at("2030-01-01T00:00:00Z")), 0);
    }

    #[test]
    fn a_quota_needs_a_positive_number_a_known_refill_and_a_day_only_when_monthly() {
        assert_eq!(Quota::parse(None, None, None), Ok(None));
        assert_eq!(Quota::parse(Some(" "), Some(""), None), Ok(None));
        assert_eq!(
            Quota::parse(Some("1000"), Some("monthly"), Some("31")),
            Ok(Some(Quota {
                requests: 1000,
                refill: Refill::Monthly { day: 31 }
            }))
        );
        assert_eq!(
            Quota::parse(Some("5"), Some("none"), None),
            Ok(Some(Quota {
                requests: 5,
                refill: Refill::Never
            }))
        );
        let field = |r, f, d| Quota::parse(r, f, d).unwrap_err().0;
        assert_eq!(field(Some("-1"), Some("daily"), None), "quota_requests");
        assert_eq!(field(Some("0"), Some("daily"), None), "quota_requests");
        assert_eq!(field(Some("1.5"), Some("daily"), None), "quota_requests");
        assert_eq!(field(Some("10"), None, None), "quota_refill");
        assert_eq!(field(None, Some("daily"), None), "quota_requests");
        assert_eq!(field(Some("10"), Some("hourly"), None), "quota_refill");
        assert_eq!(field(Some("10"), Some("monthly"), None), "quota_refill_day");
        assert_eq!(
            field(Some("10"), Some("monthly"), Some("32")),
            "quota_refill_day"
        );
        assert_eq!(
            field(Some("10"), Some("monthly"), Some("0")),
            "quota_refill_day"
        );
        assert_eq!(
            field(Some("10"), Some("daily"), Some("3")),
            "quota_refill_day"
        );
        assert_eq!(field(None, None, Some("3")), "quota_requests");
    }
}
