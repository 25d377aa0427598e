//! API key rows. Lookups by digest use the unique index on `key_hash`.

use std::sync::Arc;

use super::Tx;
use super::engine::Row;
use super::{StoreError, key_policy, ts};
use crate::domain::key::budget::{Budget, BudgetPeriod};
use crate::domain::key::policy::KeyPolicy;
use crate::domain::key::quota::{KeyQuota, Quota, Refill};
use crate::domain::key::{ApiKey, Switch};
use crate::domain::{Environment, IpAllowlist, KeyStatus, Money, Region, ScopeSet, Timestamp};

const KEY_COLUMNS: &str = "k.id, k.account_id, k.name, k.key_prefix, k.key_hash, k.environment, \
     k.scopes, k.ip_allowlist, k.allowed_models, k.rate_limit_per_minute, k.created_at, \
     k.created_by, k.last_used_at, k.expires_at, k.rotated_at, k.replaced_by, k.replaces, \
     k.disabled_at, k.revoked_at, k.budget_credits, k.budget_period, k.quota_requests, \
     k.quota_refill, k.quota_refill_day, \
     COALESCE((SELECT o.quota_used FROM api_keys o WHERE o.id = k.quota_owner), k.quota_used), \
     COALESCE((SELECT o.quota_period_start FROM api_keys o WHERE o.id = k.quota_owner), \
              k.quota_period_start)";
/// How many columns `KEY_COLUMNS` reads: what a query selects after them starts here.
const KEY_COLUMN_COUNT: usize = 26;

fn key_from_row(r: &Row<'_>) -> Result<ApiKey, StoreError> {
    let environment: String = r.get(5)?;
    let scopes: String = r.get(6)?;
    let allowlist: Option<String> = r.get(7)?;
    let models: Option<String> = r.get(8)?;
    Ok(ApiKey {
        id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        key_prefix: r.get(3)?,
        key_hash: r.get(4)?,
        environment: Environment::parse(&environment).unwrap_or(Environment::Live),
        scopes: ScopeSet::from_stored(&scopes),
        ip_allowlist: allowlist
            .as_deref()
            .map(IpAllowlist::from_stored)
            .unwrap_or_default(),
        allowed_models: models.map(|m| m.split(',').map(str::to_owned).collect()),
        rate_limit_per_minute: r.get(9)?,
        created_at: Timestamp(r.get(10)?),
        created_by: r.get(11)?,
        last_used_at: ts(r.get(12)?),
        expires_at: ts(r.get(13)?),
        rotated_at: ts(r.get(14)?),
        replaced_by: r.get(15)?,
        replaces: r.get(16)?,
        disabled_at: ts(r.get(17)?),
        revoked_at: ts(r.get(18)?),
        budget: match (r.get::<Option<i64>>(19)?, r.get::<Option<String>>(20)?) {
            (Some(credits), Some(period)) => BudgetPeriod::parse(&period).map(|period| Budget {
                credits: Money(credits),
                period,
            }),
            _ => None,
        },
        quota: quota_from_row(r, 21)?,
    })
}

/// The quota read from its five columns at `at`: the counters are those of the key whose quota
/// this one counts on (`quota_owner`).
fn quota_from_row(r: &Row<'_>, at: usize) -> Result<Option<KeyQuota>, StoreError> {
    let (Some(requests), Some(refill)) =
        (r.get::<Option<i64>>(at)?, r.get::<Option<String>>(at + 1)?)
    else {
        return Ok(None);
    };
    let Some(refill) = Refill::from_stored(&refill, r.get(at + 2)?) else {
        return Ok(None);
    };
    Ok(Some(KeyQuota {
        quota: Quota { requests, refill },
        used: r.get(at + 3)?,
        period_start: Timestamp(r.get(at + 4)?),
    }))
}

pub fn insert_key(tx: &Tx<'_>, k: &ApiKey) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO api_keys (id, account_id, name, key_prefix, key_hash, environment, scopes,
             ip_allowlist, allowed_models, rate_limit_per_minute, created_at, created_by,
             last_used_at, expires_at, rotated_at, replaced_by, replaces, disabled_at, revoked_at,
             budget_credits, budget_period, quota_requests, quota_refill, quota_refill_day,
             quota_used, quota_period_start)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19,
                 ?20, ?21, ?22, ?23, ?24, ?25, ?26)",
        &[
            &k.id,
            &k.account_id,
            &k.name,
            &k.key_prefix,
            &k.key_hash,
            &k.environment.as_str(),
            &k.scopes.to_stored(),
            &k.ip_allowlist.to_stored(),
            &k.allowed_models.as_ref().map(|m| m.join(",")),
            &k.rate_limit_per_minute,
            &k.created_at.0,
            &k.created_by,
            &k.last_used_at.map(|t| t.0),
            &k.expires_at.map(|t| t.0),
            &k.rotated_at.map(|t| t.0),
            &k.replaced_by,
            &k.replaces,
            &k.disabled_at.map(|t| t.0),
            &k.revoked_at.map(|t| t.0),
            &k.budget.map(|b| b.credits.thousandths()),
            &k.budget.map(|b| b.period.as_str()),
            &k.quota.map(|q| q.quota.requests),
            &k.quota.map(|q| q.quota.refill.as_str()),
            &k.quota.and_then(|q| q.quota.refill.day()).map(i64::from),
            &k.quota.map_or(0, |q| q.used),
            &k.quota.map_or(0, |q| q.period_start.0),
        ],
    )?;
    Ok(())
}

pub fn get_key(tx: &Tx<'_>, id: &str) -> Result<Option<ApiKey>, StoreError> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.id = ?1");
    tx.query_opt(&sql, &[&id], key_from_row)
}

/// Keys whose display prefix starts with `start`, oldest first, at most `limit` of them.
pub fn with_prefix(tx: &Tx<'_>, start: &str, limit: i64) -> Result<Vec<ApiKey>, StoreError> {
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k
         WHERE substr(k.key_prefix, 1, length(CAST(?1 AS TEXT))) = CAST(?1 AS TEXT)
         ORDER BY k.created_at, k.id LIMIT ?2"
    );
    tx.query_all(&sql, &[&start, &limit], key_from_row)
}

pub fn list_keys(tx: &Tx<'_>, account_id: Option<&str>) -> Result<Vec<ApiKey>, StoreError> {
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM api_keys k WHERE (CAST(?1 AS TEXT) IS NULL OR k.account_id = ?1)
         ORDER BY k.created_at DESC, k.id"
    );
    tx.query_all(&sql, &[&account_id], key_from_row)
}

/// A key as a list names it: its id, name and display prefix.
pub type KeyLabel = (String, String, String);

/// The account's keys, the most recently used first (then those never used, newest first), at
/// most `limit` of them: the choices of a filter.
pub fn labels_by_use(
    tx: &Tx<'_>,
    account_id: &str,
    limit: i64,
) -> Result<Vec<KeyLabel>, StoreError> {
    tx.query_all(
        "SELECT id, name, key_prefix FROM api_keys WHERE account_id = ?1
         ORDER BY last_used_at IS NULL, last_used_at DESC, created_at DESC, id LIMIT ?2",
        &[&account_id, &limit],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
}

/// The labels of those of `ids` that are keys of the account.
pub fn labels_of(tx: &Tx<'_>, account_id: &str, ids: &[&str]) -> Result<Vec<KeyLabel>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (0..ids.len()).map(|i| format!("?{}", i + 2)).collect();
    let sql = format!(
        "SELECT id, name, key_prefix FROM api_keys WHERE account_id = ?1 AND id IN ({})",
        marks.join(", ")
    );
    let mut params: Vec<&dyn super::engine::Param> = vec![&account_id];
    params.extend(ids.iter().map(|id| id as &dyn super::engine::Param));
    tx.query_all(&sql, &params, |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
}

/// What authentication needs in one indexed read: the key and the state of its account.
#[derive(Clone, Debug)]
pub struct AuthRecord {
    /// Shared: the key reader's cache and every request that found it hold the same row.
    pub key: Arc<ApiKey>,
    /// `None` when the account row is gone.
    pub account: Option<AuthAccount>,
}

#[derive(Clone, Debug)]
pub struct AuthAccount {
    pub region: Region,
    pub plan: String,
    /// False once the account has been deleted.
    pub live: bool,
    /// The key breaks the account's key policy and the policy is enforced on use
    /// (docs/keys.md, "Key policy"): read with the key, so the check costs no other query.
    pub out_of_policy: bool,
}

pub fn find_for_auth(tx: &Tx<'_>, key_hash: &str) -> Result<Option<AuthRecord>, StoreError> {
    let sql = format!(
        "SELECT {KEY_COLUMNS}, a.region, a.plan, a.deleted_at IS NULL, a.id IS NOT NULL, {}, {}
         FROM api_keys k LEFT JOIN accounts a ON a.id = k.account_id
              LEFT JOIN key_policies p ON p.account_id = k.account_id
              LEFT JOIN instance_key_policy i ON i.id = 1
         WHERE k.key_hash = ?1",
        key_policy::columns("p"),
        key_policy::columns("i")
    );
    tx.query_opt(&sql, &[&key_hash], |r| {
        let key = key_from_row(r)?;
        let at = KEY_COLUMN_COUNT;
        let exists: bool = r.get(at + 3)?;
        let account = if exists {
            let region: String = r.get(at)?;
            let policy =
                KeyPolicy::in_force(key_policy::read(r, at + 4)?, key_policy::read(r, at + 10)?);
            let out_of_policy = policy.enforce_on_use
                && policy
                    .breach_of(key.expires_at, key.created_at, key.scopes)
                    .is_some();
            Some(AuthAccount {
                region: Region::parse(&region).unwrap_or(Region::Us),
                plan: r.get(at + 1)?,
                live: r.get(at + 2)?,
                out_of_policy,
            })
        } else {
            None
        };
        Ok(AuthRecord {
            key: Arc::new(key),
            account,
        })
    })
}

/// Sets or clears the lifecycle timestamp of a switch; the service checks the key's state first,
/// in the same write transaction.
pub fn set_switch(tx: &Tx<'_>, id: &str, switch: Switch, now: Timestamp) -> Result<(), StoreError> {
    let (sql, at) = match switch {
        Switch::Revoke => (
            "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1",
            Some(now.0),
        ),
        Switch::Disable => (
            "UPDATE api_keys SET disabled_at = ?2 WHERE id = ?1",
            Some(now.0),
        ),
        Switch::Enable => ("UPDATE api_keys SET disabled_at = ?2 WHERE id = ?1", None),
    };
    tx.execute(sql, &[&id, &at])?;
    Ok(())
}

/// The editable fields, written back in one statement.
pub fn update_editable(tx: &Tx<'_>, k: &ApiKey) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE api_keys SET name = ?2, expires_at = ?3, ip_allowlist = ?4, allowed_models = ?5,
             rate_limit_per_minute = ?6, disabled_at = ?7, budget_credits = ?8, budget_period = ?9,
             expiry_warned_at = NULL
         WHERE id = ?1",
        &[
            &k.id,
            &k.name,
            &k.expires_at.map(|t| t.0),
            &k.ip_allowlist.to_stored(),
            &k.allowed_models.as_ref().map(|m| m.join(",")),
            &k.rate_limit_per_minute,
            &k.disabled_at.map(|t| t.0),
            &k.budget.map(|b| b.credits.thousandths()),
            &k.budget.map(|b| b.period.as_str()),
        ],
    )?;
    super::quotas::set(tx, &k.id, k.quota.map(|q| q.quota))
}

pub fn mark_rotated(
    tx: &Tx<'_>,
    id: &str,
    now: Timestamp,
    replaced_by: &str,
    expires_at: Timestamp,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE api_keys SET rotated_at = ?2, replaced_by = ?3, expires_at = ?4 WHERE id = ?1",
        &[&id, &now.0, &replaced_by, &expires_at.0],
    )?;
    super::quotas::hand_over(tx, id, replaced_by)
}

/// Ends the key now; the expiry is recorded here, so the scheduler does not record it again.
pub fn expire_at(tx: &Tx<'_>, id: &str, at: Timestamp) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE api_keys SET expires_at = ?2, expiry_recorded_at = ?2 WHERE id = ?1",
        &[&id, &at.0],
    )?;
    Ok(())
}

/// Deletes the key and its request-log rows; its roll-ups stay without it.
pub fn delete_key(tx: &Tx<'_>, id: &str) -> Result<i64, StoreError> {
    tx.execute(
        "UPDATE usage_daily SET key_id = NULL WHERE key_id = ?1",
        &[&id],
    )?;
    tx.execute(
        "UPDATE usage_daily_errors SET key_id = NULL WHERE key_id = ?1",
        &[&id],
    )?;
    super::usage_hourly::delete_key(tx, id)?;
    let logs = super::logs::delete_key_rows(tx, id)?;
    tx.execute("DELETE FROM api_keys WHERE id = ?1", &[&id])?;
    Ok(logs)
}

/// SQL condition selecting keys of one derived status at `?now`.
fn status_condition(status: KeyStatus) -> &'static str {
    match status {
        KeyStatus::Revoked => "k.revoked_at IS NOT NULL",
        KeyStatus::Disabled => "k.revoked_at IS NULL AND k.disabled_at IS NOT NULL",
        KeyStatus::Expired => {
            "k.revoked_at IS NULL AND k.disabled_at IS NULL AND k.expires_at IS NOT NULL AND k.expires_at <= ?3"
        }
        KeyStatus::Rotated => {
            "k.revoked_at IS NULL AND k.disabled_at IS NULL AND k.rotated_at IS NOT NULL AND k.expires_at > ?3"
        }
        KeyStatus::Active => {
            "k.revoked_at IS NULL AND k.disabled_at IS NULL AND k.rotated_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?3)"
        }
    }
}

/// Keys that need a look: about to expire, or no longer used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyNeed {
    /// Working now and expiring within 7 days.
    ExpiringSoon,
    /// Not revoked, older than 30 days and unused for 30 days.
    Unused,
}

impl KeyNeed {
    pub fn parse(s: &str) -> Option<KeyNeed> {
        match s {
            "expiring" => Some(KeyNeed::ExpiringSoon),
            "unused" => Some(KeyNeed::Unused),
            _ => None,
        }
    }

    fn condition(self) -> &'static str {
        match self {
            KeyNeed::ExpiringSoon => {
                "k.revoked_at IS NULL AND k.disabled_at IS NULL AND k.expires_at > ?3
                 AND k.expires_at <= ?3 + 604800000"
            }
            KeyNeed::Unused => {
                "k.revoked_at IS NULL AND k.created_at < ?3 - 2592000000
                 AND (k.last_used_at IS NULL OR k.last_used_at < ?3 - 2592000000)"
            }
        }
    }
}

pub struct KeyFilter<'a> {
    pub account_id: &'a str,
    pub status: Option<KeyStatus>,
    pub need: Option<KeyNeed>,
    pub search: Option<&'a str>,
    pub limit: i64,
    pub offset: i64,
    pub now: Timestamp,
}

/// One page of an account's keys, newest first, and the number matching the filter.
pub fn search_keys(tx: &Tx<'_>, f: &KeyFilter<'_>) -> Result<(Vec<ApiKey>, i64), StoreError> {
    let status = f.status.map(status_condition).unwrap_or("1 = 1");
    let need = f.need.map(KeyNeed::condition).unwrap_or("1 = 1");
    let like = tx.engine().like();
    let filter = format!(
        "FROM api_keys k WHERE k.account_id = ?1 AND ({status}) AND ({need})
         AND (CAST(?2 AS TEXT) IS NULL OR k.name {like} '%' || ?2 || '%' ESCAPE '\\'
              OR k.key_prefix {like} ?2 || '%' ESCAPE '\\')"
    );
    let search = f.search.map(super::logs::like_escape);
    let all: [&dyn super::engine::Param; 3] = [&f.account_id, &search, &f.now.0];
    // `?3` (now) only appears in some status conditions; bind only the parameters present.
    let with_now = status.contains("?3") || need.contains("?3");
    let params = &all[..if with_now { 3 } else { 2 }];
    let count_sql = format!("SELECT count(*) {filter}");
    let total: i64 = tx.query_one(&count_sql, params, |r| r.get(0))?;
    let page_sql = format!(
        "SELECT {KEY_COLUMNS} {filter} ORDER BY k.created_at DESC, k.id LIMIT {} OFFSET {}",
        f.limit, f.offset
    );
    Ok((tx.query_all(&page_sql, params, key_from_row)?, total))
}

/// The key whose SHA-256 digest (hex) is `key_hash`, in any state.
pub fn get_by_hash(tx: &Tx<'_>, key_hash: &str) -> Result<Option<ApiKey>, StoreError> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.key_hash = ?1");
    tx.query_opt(&sql, &[&key_hash], key_from_row)
}

/// What the key's generations created since `since` spent: reserved and charged, less refunds.
pub fn spent_since(tx: &Tx<'_>, key_id: &str, since: Timestamp) -> Result<Money, StoreError> {
    let spent: i64 = tx.query_one(
        "SELECT COALESCE(-SUM(l.amount), 0) FROM credit_ledger l
         JOIN generations g ON g.id = l.reservation_id
         WHERE g.key_id = ?1 AND g.created_at >= ?2
           AND l.kind IN ('reserve', 'charge', 'refund')",
        &[&key_id, &since.0],
        |r| r.get(0),
    )?;
    Ok(Money(spent))
}
