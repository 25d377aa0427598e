//! Creating keys and switching them off and on (docs/keys.md, "Lifecycle").

use super::changes::{self, Change, KeyChange, KeyRef};
use super::{Actor, ServiceError};
pub use crate::domain::key::ApiKey;
pub use crate::domain::key::Switch;
use crate::domain::key::quota::{KeyQuota, Quota};
use crate::domain::name::can_match;
use crate::domain::{
    Environment, IpAllowlist, KeyFormat, KeySecret, KeyStatus, Name, Preset, ScopeSet, Timestamp,
};
use crate::store::accounts;
pub use crate::store::keys::{KeyFilter, KeyNeed};

use crate::store::keys;
use crate::store::{Db, Tx};

/// Which key, seen from which account (`None`: any account, for the command line).
pub type Scope<'a> = (Option<&'a str>, &'a str);

pub const MAX_EXPIRES_IN_DAYS: i64 = 3650;
pub const MAX_ALLOWED_MODELS: usize = 100;

#[derive(Clone, Debug)]
pub enum ScopeChoice {
    Preset(String),
    Scopes(Vec<String>),
}

#[derive(Clone, Debug)]
pub struct CreateKey {
    pub account_id: String,
    pub name: String,
    pub scopes: ScopeChoice,
    pub ip_allowlist: Vec<String>,
    pub expires_at: Option<String>,
    pub expires_in_days: Option<i64>,
    pub allowed_models: Option<Vec<String>>,
    pub rate_limit_per_minute: Option<i64>,
    pub environment: Environment,
    /// The credit budget, as typed: both or neither (docs/keys.md, "Per-key budgets").
    pub budget_credits: Option<String>,
    pub budget_period: Option<String>,
    /// The request quota, as typed (docs/keys.md, "Request quotas").
    pub quota: QuotaInput,
}

/// A request quota's three fields as typed: the number of requests and the refill, with the
/// day of the month for a monthly refill. All empty: no quota.
#[derive(Clone, Debug, Default)]
pub struct QuotaInput {
    pub requests: Option<String>,
    pub refill: Option<String>,
    pub refill_day: Option<String>,
}

impl QuotaInput {
    /// This input over a quota in force: what it leaves out is taken from it (the day only
    /// while the refill stays monthly).
    pub fn over(&self, current: Option<Quota>) -> QuotaInput {
        let Some(current) = current else {
            return self.clone();
        };
        let refill = self
            .refill
            .clone()
            .unwrap_or_else(|| current.refill.as_str().to_owned());
        let refill_day = self.refill_day.clone().or_else(|| {
            (refill.trim() == "monthly")
                .then(|| current.refill.day().map(|d| d.to_string()))
                .flatten()
        });
        QuotaInput {
            requests: self
                .requests
                .clone()
                .or_else(|| Some(current.requests.to_string())),
            refill: Some(refill),
            refill_day,
        }
    }

    pub fn parse(&self) -> Result<Option<Quota>, ServiceError> {
        Quota::parse(
            self.requests.as_deref(),
            self.refill.as_deref(),
            self.refill_day.as_deref(),
        )
        .map_err(|(field, message)| ServiceError::invalid(field, message))
    }
}

/// Validates every field (first failure wins) into the row to insert, minus identity.
fn validate(input: &CreateKey, now: Timestamp) -> Result<ValidKey, ServiceError> {
    let name = Name::parse(&input.name).map_err(|m| ServiceError::invalid("name", m))?;
    let scopes = match &input.scopes {
        ScopeChoice::Preset(id) => Preset::parse(id)
            .map(Preset::scopes)
            .ok_or_else(|| ServiceError::invalid("preset", format!("unknown preset {id:?}")))?,
        ScopeChoice::Scopes(names) => {
            ScopeSet::parse(names).map_err(|e| ServiceError::Invalid {
                field: "scopes",
                message: format!("unknown scope {:?}", e.value),
                index: Some(e.index),
            })?
        }
    };
    if scopes.is_empty() {
        return Err(ServiceError::invalid(
            "scopes",
            "at least one scope is required",
        ));
    }
    let ip_allowlist = parse_allowlist(&input.ip_allowlist)?;
    let expires_at = parse_expiry(input.expires_at.as_deref(), input.expires_in_days, now)?;
    let allowed_models = parse_models(input.allowed_models.as_deref())?;
    let rate_limit_per_minute = parse_rate_limit(input.rate_limit_per_minute)?;
    let budget = crate::domain::key::budget::Budget::parse(
        input.budget_credits.as_deref(),
        input.budget_period.as_deref(),
    )
    .map_err(|(field, message)| ServiceError::invalid(field, message))?;
    let quota = input.quota.parse()?;
    Ok(ValidKey {
        name,
        scopes,
        ip_allowlist,
        expires_at,
        allowed_models,
        rate_limit_per_minute,
        budget,
        quota,
    })
}

pub fn parse_allowlist(entries: &[String]) -> Result<IpAllowlist, ServiceError> {
    IpAllowlist::parse(entries).map_err(|e| ServiceError::Invalid {
        field: "ip_allowlist",
        message: e.message,
        index: e.index,
    })
}

/// An expiry given as a time or as a number of days from now (not both); it must be in the future.
pub fn parse_expiry(
    expires_at: Option<&str>,
    expires_in_days: Option<i64>,
    now: Timestamp,
) -> Result<Option<Timestamp>, ServiceError> {
    match (expires_at, expires_in_days) {
        (Some(_), Some(_)) => Err(ServiceError::invalid(
            "expires_at",
            "give either expires_at or expires_in_days, not both",
        )),
        (Some(raw), None) => {
            let at = Timestamp::parse(raw).ok_or_else(|| {
                ServiceError::invalid(
                    "expires_at",
                    "must be an RFC 3339 time or a YYYY-MM-DD date",
                )
            })?;
            if at <= now {
                return Err(ServiceError::invalid("expires_at", "must be in the future"));
            }
            Ok(Some(at))
        }
        (None, Some(days)) => {
            if !(1..=MAX_EXPIRES_IN_DAYS).contains(&days) {
                return Err(ServiceError::invalid(
                    "expires_in_days",
                    format!("must be between 1 and {MAX_EXPIRES_IN_DAYS}"),
                ));
            }
            Ok(Some(now.plus_millis(days * Timestamp::MS_PER_DAY)))
        }
        (None, None) => Ok(None),
    }
}

/// No list, or an empty one, means every model.
pub fn parse_models(models: Option<&[String]>) -> Result<Option<Vec<String>>, ServiceError> {
    match models {
        None | Some([]) => Ok(None),
        Some(list) => validate_models(list).map(Some),
    }
}

pub fn parse_rate_limit(limit: Option<i64>) -> Result<Option<u32>, ServiceError> {
    limit
        .map(|n| {
            u32::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
                ServiceError::invalid("rate_limit_per_minute", "must be a positive whole number")
            })
        })
        .transpose()
}

struct ValidKey {
    name: Name,
    scopes: ScopeSet,
    ip_allowlist: IpAllowlist,
    expires_at: Option<Timestamp>,
    allowed_models: Option<Vec<String>>,
    rate_limit_per_minute: Option<u32>,
    budget: Option<crate::domain::key::budget::Budget>,
    quota: Option<Quota>,
}

pub use crate::domain::generation::is_model_identifier;

pub(super) fn validate_models(models: &[String]) -> Result<Vec<String>, ServiceError> {
    if models.len() > MAX_ALLOWED_MODELS {
        return Err(ServiceError::invalid(
            "allowed_models",
            format!("at most {MAX_ALLOWED_MODELS} models are allowed"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(models.len());
    for (index, model) in models.iter().enumerate() {
        let model = model.trim();
        if !is_model_identifier(model) {
            return Err(ServiceError::Invalid {
                field: "allowed_models",
                message: format!("entry {index} is not a model identifier (owner/name)"),
                index: Some(index),
            });
        }
        if !out.iter().any(|m| m == model) {
            out.push(model.to_owned());
        }
    }
    Ok(out)
}

/// Creates a key; the returned secret exists only here.
pub fn create_key(
    db: &mut Db,
    format: &KeyFormat,
    actor: &Actor,
    now: Timestamp,
    input: &CreateKey,
) -> Result<(ApiKey, KeySecret), ServiceError> {
    let valid = validate(input, now)?;
    let secret = format
        .generate(input.environment)
        .map_err(crate::store::StoreError::from)?;
    let tx = db.write()?;
    let account = accounts::get_account(&tx, &input.account_id)?
        .filter(|a| a.is_live())
        .ok_or(ServiceError::NotFound("account"))?;
    let preset = match &input.scopes {
        ScopeChoice::Preset(id) => Preset::parse(id),
        ScopeChoice::Scopes(_) => None,
    };
    let field = match input.expires_in_days {
        Some(_) => "expires_in_days",
        None => "expires_at",
    };
    let expires_at = super::key_policy::check_new(
        &tx,
        &account.id,
        preset,
        valid.scopes,
        valid.expires_at,
        field,
        now,
    )?;
    let key = ApiKey {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account.id.clone(),
        name: valid.name.as_str().to_owned(),
        key_prefix: secret.prefix().to_owned(),
        key_hash: secret.digest().to_hex(),
        environment: input.environment,
        scopes: valid.scopes,
        ip_allowlist: valid.ip_allowlist,
        allowed_models: valid.allowed_models,
        rate_limit_per_minute: valid.rate_limit_per_minute,
        created_at: now,
        created_by: Some(actor.label()),
        last_used_at: None,
        expires_at,
        rotated_at: None,
        replaced_by: None,
        replaces: None,
        disabled_at: None,
        revoked_at: None,
        budget: valid.budget,
        quota: valid.quota.map(|quota| KeyQuota {
            quota,
            used: 0,
            period_start: Timestamp(0),
        }),
    };
    keys::insert_key(&tx, &key)?;
    changes::record(
        &tx,
        actor,
        Change::Key(KeyRef::of(&key), KeyChange::Created),
        now,
    )?;
    tx.commit()?;
    Ok((key, secret))
}

/// One page of an account's keys matching `filter`, and how many match in all.
pub fn search(tx: &Tx<'_>, filter: &KeyFilter<'_>) -> Result<(Vec<ApiKey>, i64), ServiceError> {
    if !filter.search.is_none_or(can_match) {
        return Ok((Vec::new(), 0));
    }
    Ok(keys::search_keys(tx, filter)?)
}

/// Every key of `account` (of every account when `None`), newest first.
/// The account's keys by most recent use, at most `limit` (a filter's choices).
pub fn labels_by_use(
    tx: &Tx<'_>,
    account: &str,
    limit: i64,
) -> Result<Vec<keys::KeyLabel>, ServiceError> {
    Ok(keys::labels_by_use(tx, account, limit)?)
}

/// The labels of those of `ids` that are keys of the account.
pub fn labels_of(
    tx: &Tx<'_>,
    account: &str,
    ids: &[&str],
) -> Result<Vec<keys::KeyLabel>, ServiceError> {
    Ok(keys::labels_of(tx, account, ids)?)
}

pub fn get_key(tx: &Tx<'_>, id: &str) -> Result<ApiKey, ServiceError> {
    if !can_match(id) {
        return Err(ServiceError::NotFound("api key"));
    }
    keys::get_key(tx, id)?.ok_or(ServiceError::NotFound("api key"))
}

/// What an id or a display prefix (`bye_bpsF8`, or any start of one) names.
pub enum KeyMatch {
    One(Box<ApiKey>),
    /// Several keys: the first few of them, oldest first.
    Several(Vec<ApiKey>),
    Nothing,
}

/// The key with this id, else the keys whose display prefix starts with `given`.
pub fn find_by_id_or_prefix(tx: &Tx<'_>, given: &str) -> Result<KeyMatch, ServiceError> {
    const SHOWN: i64 = 20;
    if given.is_empty() || !can_match(given) {
        return Ok(KeyMatch::Nothing);
    }
    if let Some(key) = keys::get_key(tx, given)? {
        return Ok(KeyMatch::One(Box::new(key)));
    }
    let mut found = keys::with_prefix(tx, given, SHOWN)?;
    Ok(match found.len() {
        0 => KeyMatch::Nothing,
        1 => KeyMatch::One(Box::new(found.remove(0))),
        _ => KeyMatch::Several(found),
    })
}

/// The key, if it belongs to `account` (any account when `None`, as for the command line). A key
/// of another account is indistinguishable from a missing one.
pub fn get_key_in(tx: &Tx<'_>, account: Option<&str>, id: &str) -> Result<ApiKey, ServiceError> {
    let key = get_key(tx, id)?;
    match account {
        Some(a) if a != key.account_id => Err(ServiceError::NotFound("api key")),
        _ => Ok(key),
    }
}

/// The key's rotation chain, oldest first, with the key itself in it.
pub fn rotation_chain(tx: &Tx<'_>, key: &ApiKey) -> Result<Vec<ApiKey>, ServiceError> {
    const MAX_LINKS: usize = 100;
    let mut before = Vec::new();
    let mut cursor = key.replaces.clone();
    while let Some(id) = cursor.filter(|_| before.len() < MAX_LINKS) {
        let Some(k) = keys::get_key(tx, &id)? else {
            break;
        };
        cursor = k.replaces.clone();
        before.push(k);
    }
    before.reverse();
    before.push(key.clone());
    let mut cursor = key.replaced_by.clone();
    while let Some(id) = cursor.filter(|_| before.len() < 2 * MAX_LINKS) {
        let Some(k) = keys::get_key(tx, &id)? else {
            break;
        };
        cursor = k.replaced_by.clone();
        before.push(k);
    }
    Ok(before)
}

/// Revoke (final), disable or enable; a switch that does not fit the key's state is refused.
pub fn switch_key(
    db: &mut Db,
    actor: &Actor,
    now: Timestamp,
    scope: Scope<'_>,
    switch: Switch,
) -> Result<ApiKey, ServiceError> {
    let (account, id) = scope;
    let tx = db.write()?;
    let key = get_key_in(&tx, account, id)?;
    let status = key.status(now);
    let refusal = match (switch, status) {
        (_, KeyStatus::Revoked) => Some("the key is revoked"),
        (Switch::Disable, KeyStatus::Disabled) => Some("the key is already disabled"),
        (Switch::Enable, _) if key.disabled_at.is_none() => Some("the key is not disabled"),
        _ => None,
    };
    if let Some(reason) = refusal {
        return Err(ServiceError::InvalidState(reason.into()));
    }
    keys::set_switch(&tx, id, switch, now)?;
    let change = match switch {
        Switch::Revoke => KeyChange::Revoked,
        Switch::Disable => KeyChange::Disabled,
        Switch::Enable => KeyChange::Enabled,
    };
    changes::record(&tx, actor, Change::Key(KeyRef::of(&key), change), now)?;
    tx.commit()?;
    get_key(&db.read(), id)
}
