//! The key checks of the /v1 pipeline after the key is found: steps 6–10 of docs/api.md,
//! "Authentication".

use std::net::IpAddr;
use std::sync::Arc;

use crate::domain::key::ApiKey;
use crate::domain::{KeyStatus, Region, Scope, Timestamp};
use crate::store::keys::AuthRecord;

/// Why an identified key may not make this request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    Lifecycle(KeyStatus),
    WrongRegion,
    AccountMissing,
    IpNotAllowed,
    MissingScope(Scope),
}

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Principal {
    pub key: Arc<ApiKey>,
    pub region: Region,
    pub plan: String,
    /// The key's request quota after this request, when it has one (set by the gate).
    pub quota: Option<crate::service::quota::QuotaLeft>,
}

/// Applies steps 6–10 in order; the first failing one answers.
pub fn authorize(
    record: AuthRecord,
    now: Timestamp,
    request_region: Region,
    client_ip: IpAddr,
    scope: Scope,
) -> Result<Principal, Box<(Refused, AuthRecord)>> {
    let status = record.key.status(now);
    if !status.authenticates() {
        return Err(Box::new((Refused::Lifecycle(status), record)));
    }
    // A key that breaks its account's key policy, when the policy is enforced on use, answers
    // as an expired key does (docs/keys.md, "Key policy").
    if record.account.as_ref().is_some_and(|a| a.out_of_policy) {
        return Err(Box::new((Refused::Lifecycle(KeyStatus::Expired), record)));
    }
    // A key belongs to its account's home region; a deleted account keeps its region.
    if record
        .account
        .as_ref()
        .is_some_and(|a| a.region != request_region)
    {
        return Err(Box::new((Refused::WrongRegion, record)));
    }
    let Some(account) = record.account.clone().filter(|a| a.live) else {
        return Err(Box::new((Refused::AccountMissing, record)));
    };
    if !record.key.ip_allowlist.allows(client_ip) {
        return Err(Box::new((Refused::IpNotAllowed, record)));
    }
    if !record.key.scopes.contains(scope) {
        return Err(Box::new((Refused::MissingScope(scope), record)));
    }
    Ok(Principal {
        key: record.key,
        region: account.region,
        plan: account.plan,
        quota: None,
    })
}
