//! A key's credit budget (docs/keys.md, "Per-key budgets"): set at creation or later, carried
//! by rotation, checked when a generation reserves its cost (`generations::accept`).

use super::changes::{self, Change, KeyChange, KeyRef};
use super::keys::{Scope, get_key_in};
use super::{Actor, ServiceError};
use crate::domain::key::ApiKey;
use crate::domain::key::budget::{Budget, BudgetPeriod};
use crate::domain::{KeyStatus, Money, Timestamp};
use crate::store::{Db, keys};

/// The most a budget may be, in credits.
pub const MAX_BUDGET_CREDITS: i64 = 1_000_000;

/// A budget from its two fields as typed: both or neither.
pub fn parse(credits: Option<&str>, period: Option<&str>) -> Result<Option<Budget>, ServiceError> {
    let (credits, period) = match (credits.map(str::trim), period.map(str::trim)) {
        (None | Some(""), None | Some("")) => return Ok(None),
        (Some(c), Some(p)) if !c.is_empty() && !p.is_empty() => (c, p),
        (None | Some(""), _) => {
            return Err(ServiceError::invalid(
                "budget_credits",
                "a budget needs its credits as well as its period",
            ));
        }
        _ => {
            return Err(ServiceError::invalid(
                "budget_period",
                "a budget needs its period (day, week or month) as well as its credits",
            ));
        }
    };
    let amount = Money::parse(credits)
        .filter(|m| m.thousandths() > 0 && m.thousandths() <= MAX_BUDGET_CREDITS * 1000)
        .ok_or_else(|| {
            ServiceError::invalid(
                "budget_credits",
                format!(
                    "must be a number of credits above 0 and at most {MAX_BUDGET_CREDITS}, with at most 3 decimals"
                ),
            )
        })?;
    let period = BudgetPeriod::parse(period).ok_or_else(|| {
        ServiceError::invalid(
            "budget_period",
            format!("{period:?} is not a period; use day, week or month"),
        )
    })?;
    Ok(Some(Budget {
        credits: amount,
        period,
    }))
}

/// The key's budget, if it has one.
pub fn get(db: &mut Db, key_id: &str) -> Result<Option<Budget>, ServiceError> {
    Ok(keys::budget(&db.read(), key_id)?)
}

/// Sets (or with `None` removes) the key's budget; a revoked key is refused. Recorded as an
/// edit of the key.
pub fn set(
    db: &mut Db,
    actor: &Actor,
    now: Timestamp,
    scope: Scope<'_>,
    budget: Option<Budget>,
) -> Result<ApiKey, ServiceError> {
    let tx = db.write()?;
    let key = get_key_in(&tx, scope.0, scope.1)?;
    if key.status(now) == KeyStatus::Revoked {
        return Err(ServiceError::InvalidState("the key is revoked".into()));
    }
    keys::set_budget(&tx, &key.id, budget)?;
    let change = KeyChange::Edited {
        fields: vec!["budget"],
    };
    changes::record(&tx, actor, Change::Key(KeyRef::of(&key), change), now)?;
    tx.commit()?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_needs_both_fields_a_positive_amount_and_a_known_period() {
        assert_eq!(parse(None, None).unwrap(), None);
        assert_eq!(parse(Some(""), Some("")).unwrap(), None);
        let b = parse(Some("20"), Some("week")).unwrap().unwrap();
        assert_eq!((b.credits, b.period), (Money(20_000), BudgetPeriod::Week));
        let field = |c, p| match parse(c, p) {
            Err(ServiceError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(Some("20"), None), "budget_period");
        assert_eq!(field(None, Some("day")), "budget_credits");
        assert_eq!(field(Some("-1"), Some("day")), "budget_credits");
        assert_eq!(field(Some("0"), Some("day")), "budget_credits");
        assert_eq!(field(Some("20"), Some("fortnight")), "budget_period");
    }
}
