//! The dashboard (docs/admin.md, "Dashboard"): a workspace's state at a glance. Everything is
//! read from the hourly roll-ups and a few indexed lookups, never from a scan of the request
//! log, so the page stays fast however many requests are logged.

use super::ServiceError;
use crate::domain::key::policy::KeyPolicy;
use crate::domain::key::{ApiKey, KeyStatus};
use crate::domain::log::ActivityEntry;
use crate::domain::usage::Tally;
use crate::domain::webhook::redact_url;
use crate::domain::{Money, Timestamp};
use crate::store::keys::{KeyFilter, KeyNeed, search_keys};
use crate::store::{Db, activity, credits, usage_hourly, webhooks};

/// How many keys, endpoints and activity entries a tile lists before "and N more".
const LISTED: i64 = 5;
/// Rotated keys looked at for traffic on the old key (a workspace rarely has more in grace).
const ROTATED_LOOKED_AT: i64 = 200;
/// Working keys of each state looked at against the key policy.
const POLICY_LOOKED_AT: i64 = 500;

/// A webhook endpoint that needs a look: disabled, or with deliveries that failed for good.
pub struct WebhookAlert {
    pub id: String,
    pub url: String,
    pub description: String,
    /// Why it is disabled, if it is.
    pub disabled: Option<String>,
    /// Deliveries created in the last 24 hours that failed for good.
    pub failed: i64,
}

pub struct Dashboard {
    /// The account's tallies per hour over the last 48 hours, oldest first.
    pub hours: Vec<(i64, Tally)>,
    pub balance: Money,
    pub spent_week: Money,
    /// Keys in the workspace, whatever their state.
    pub keys: i64,
    /// Working keys that expire within 7 days, soonest first, and how many there are.
    pub expiring: Vec<ApiKey>,
    pub expiring_count: i64,
    /// Rotated keys still in their grace period that were used after their rotation.
    pub in_grace: Vec<ApiKey>,
    /// Working keys that break the account's key policy (docs/keys.md, "Key policy"), with the
    /// rule each breaks, and how many there are among the keys looked at.
    pub out_of_policy: Vec<(ApiKey, String)>,
    pub out_of_policy_count: usize,
    pub webhooks: Vec<WebhookAlert>,
    pub activity: Vec<ActivityEntry>,
}

pub fn dashboard(db: &mut Db, account_id: &str, now: Timestamp) -> Result<Dashboard, ServiceError> {
    let tx = &db.read();
    let first_hour = now.millis().div_euclid(Timestamp::MS_PER_HOUR) - 47;
    let filter = |need, status, limit| KeyFilter {
        account_id,
        status,
        need,
        search: None,
        limit,
        offset: 0,
        now,
    };
    let (_, keys) = search_keys(tx, &filter(None, None, 0))?;
    let (mut expiring, expiring_count) =
        search_keys(tx, &filter(Some(KeyNeed::ExpiringSoon), None, 500))?;
    expiring.sort_by_key(|k| k.expires_at);
    expiring.truncate(LISTED as usize);
    let (rotated, _) = search_keys(
        tx,
        &filter(None, Some(KeyStatus::Rotated), ROTATED_LOOKED_AT),
    )?;
    let in_grace = rotated
        .into_iter()
        .filter(|k| matches!((k.last_used_at, k.rotated_at), (Some(used), Some(at)) if used > at))
        .collect();
    let policy = super::key_policy::get(tx, account_id)?;
    let mut out_of_policy = Vec::new();
    if policy != KeyPolicy::default() {
        for status in [KeyStatus::Active, KeyStatus::Disabled] {
            let (working, _) = search_keys(tx, &filter(None, Some(status), POLICY_LOOKED_AT))?;
            out_of_policy.extend(working.into_iter().filter_map(|k| {
                super::key_policy::breach_of(&policy, &k, now).map(|(_, rule)| (k, rule))
            }));
        }
    }
    let out_of_policy_count = out_of_policy.len();
    out_of_policy.truncate(LISTED as usize);
    let day_ago = now.plus_millis(-Timestamp::MS_PER_DAY).millis();
    let failed = webhooks::failed_since(tx, account_id, day_ago)?;
    let webhooks = webhooks::list_endpoints(tx, account_id)?
        .into_iter()
        .filter_map(|s| {
            let e = s.endpoint;
            let failed = failed.iter().find(|(id, _)| *id == e.id).map_or(0, |f| f.1);
            (!e.enabled || failed > 0).then(|| WebhookAlert {
                url: redact_url(&e.url),
                description: e.description,
                disabled: (!e.enabled).then(|| {
                    e.disabled_reason
                        .map_or_else(|| "disabled".to_owned(), |r| r.to_string())
                }),
                failed,
                id: e.id,
            })
        })
        .collect();
    Ok(Dashboard {
        hours: usage_hourly::hours(tx, account_id, None, first_hour)?,
        balance: credits::balance(tx, account_id)?,
        spent_week: credits::spent_since(
            tx,
            account_id,
            now.plus_millis(-7 * Timestamp::MS_PER_DAY).millis(),
        )?,
        keys,
        expiring,
        expiring_count,
        in_grace,
        out_of_policy,
        out_of_policy_count,
        webhooks,
        activity: activity::list_in_category(tx, account_id, None, None, LISTED)?,
    })
}
