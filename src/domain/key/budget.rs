//! A key's credit budget (docs/keys.md, "Per-key budgets"): at most `credits` spent by the
//! key's generations in each period (a UTC day, a week from Monday, a calendar month).

use time::{Date, Month, OffsetDateTime, Time};

use crate::domain::{Money, Timestamp};

/// The period a budget renews in, at UTC midnight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BudgetPeriod {
    Day,
    Week,
    Month,
}

impl BudgetPeriod {
    pub const ALL: [BudgetPeriod; 3] = [BudgetPeriod::Day, BudgetPeriod::Week, BudgetPeriod::Month];

    pub fn as_str(self) -> &'static str {
        match self {
            BudgetPeriod::Day => "day",
            BudgetPeriod::Week => "week",
            BudgetPeriod::Month => "month",
        }
    }

    pub fn parse(s: &str) -> Option<BudgetPeriod> {
        BudgetPeriod::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The start of the period `at` falls in, and the start of the next.
    pub fn bounds(self, at: Timestamp) -> (Timestamp, Timestamp) {
        let day = at.0.div_euclid(Timestamp::MS_PER_DAY);
        let midnight = |d: i64| Timestamp(d * Timestamp::MS_PER_DAY);
        match self {
            BudgetPeriod::Day => (midnight(day), midnight(day + 1)),
            BudgetPeriod::Week => {
                // 1970-01-01 was a Thursday: Monday is three days before day 4.
                let monday = day - (day + 3).rem_euclid(7);
                (midnight(monday), midnight(monday + 7))
            }
            BudgetPeriod::Month => {
                let date = OffsetDateTime::from_unix_timestamp(at.0.div_euclid(1000))
                    .map(OffsetDateTime::date)
                    .unwrap_or(Date::MIN);
                let first = date.replace_day(1).unwrap_or(date);
                let next = match first.month() {
                    Month::December => {
                        Date::from_calendar_date(first.year() + 1, Month::January, 1)
                    }
                    m => Date::from_calendar_date(first.year(), m.next(), 1),
                }
                .unwrap_or(first);
                let millis = |d: Date| {
                    Timestamp(d.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp() * 1000)
                };
                (millis(first), millis(next))
            }
        }
    }
}

/// At most `credits` per `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub credits: Money,
    pub period: BudgetPeriod,
}

/// The most a budget may be, in credits.
pub const MAX_BUDGET_CREDITS: i64 = 1_000_000;

impl Budget {
    /// A budget from its two fields as typed: both or neither. A refusal names the field at
    /// fault (`budget_credits`, `budget_period`) and says why.
    pub fn parse(
        credits: Option<&str>,
        period: Option<&str>,
    ) -> Result<Option<Budget>, (&'static str, String)> {
        let (credits, period) = match (credits.map(str::trim), period.map(str::trim)) {
            (None | Some(""), None | Some("")) => return Ok(None),
            (Some(c), Some(p)) if !c.is_empty() && !p.is_empty() => (c, p),
            (None | Some(""), _) => {
                return Err((
                    "budget_credits",
                    "a budget needs its credits as well as its period".into(),
                ));
            }
            _ => {
                return Err((
                    "budget_period",
                    "a budget needs its period (day, week or month) as well as its credits".into(),
                ));
            }
        };
        let amount = Money::parse(credits)
            .filter(|m| m.thousandths() > 0 && m.thousandths() <= MAX_BUDGET_CREDITS * 1000)
            .ok_or_else(|| {
                (
                    "budget_credits",
                    format!(
                        "must be a number of credits above 0 and at most {MAX_BUDGET_CREDITS}, \
                         with at most 3 decimals"
                    ),
                )
            })?;
        let period = BudgetPeriod::parse(period).ok_or_else(|| {
            (
                "budget_period",
                format!("{period:?} is not a period; use day, week or month"),
            )
        })?;
        Ok(Some(Budget {
            credits: amount,
            period,
        }))
    }

    /// The alert thresholds, in percent of the budget, that spending from `before` to `after`
    /// crosses (reaching one counts).
    pub fn crossed(&self, before: Money, after: Money) -> Vec<u32> {
        let budget = self.credits.thousandths();
        [80u32, 100]
            .into_iter()
            .filter(|p| {
                let at = budget * i64::from(*p);
                before.thousandths() * 100 < at && after.thousandths() * 100 >= at
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn periods_start_at_utc_midnight_on_the_day_the_monday_and_the_first() {
        let t = at("2026-12-06T15:30:00Z"); // a Sunday
        assert_eq!(
            BudgetPeriod::Day.bounds(t),
            (at("2026-12-06T00:00:00Z"), at("2026-12-07T00:00:00Z"))
        );
        assert_eq!(
            BudgetPeriod::Week.bounds(t),
            (at("2026-11-30T00:00:00Z"), at("2026-12-07T00:00:00Z"))
        );
        assert_eq!(
            BudgetPeriod::Month.bounds(t),
            (at("2026-12-01T00:00:00Z"), at("2027-01-01T00:00:00Z"))
        );
        assert_eq!(
            BudgetPeriod::Month.bounds(at("2027-02-28T23:59:59Z")).1,
            at("2027-03-01T00:00:00Z")
        );
        assert_eq!(
            BudgetPeriod::Week.bounds(at("2026-11-30T00:00:00Z")).0,
            at("2026-11-30T00:00:00Z"),
            "a Monday starts its own week"
        );
    }

    #[test]
    fn a_budget_needs_both_fields_a_positive_amount_and_a_known_period() {
        assert_eq!(Budget::parse(None, None), Ok(None));
        assert_eq!(Budget::parse(Some(""), Some("")), Ok(None));
        let b = Budget::parse(Some("20"), Some("week")).unwrap().unwrap();
        assert_eq!((b.credits, b.period), (Money(20_000), BudgetPeriod::Week));
        let field = |c, p| Budget::parse(c, p).unwrap_err().0;
        assert_eq!(field(Some("20"), None), "budget_period");
        assert_eq!(field(None, Some("day")), "budget_credits");
        assert_eq!(field(Some("-1"), Some("day")), "budget_credits");
        assert_eq!(field(Some("0"), Some("day")), "budget_credits");
        assert_eq!(field(Some("20"), Some("fortnight")), "budget_period");
    }

    #[test]
    fn the_alerts_fire_when_spending_reaches_eighty_and_a_hundred_percent() {
        let b = Budget {
            credits: Money(10_000),
            period: BudgetPeriod::Week,
        };
        assert_eq!(b.crossed(Money(0), Money(7_999)), Vec::<u32>::new());
        assert_eq!(b.crossed(Money(7_999), Money(8_000)), vec![80]);
        assert_eq!(b.crossed(Money(7_000), Money(10_000)), vec![80, 100]);
        assert_eq!(b.crossed(Money(8_000), Money(9_000)), Vec::<u32>::new());
    }
}
