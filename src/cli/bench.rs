//! `tidegate bench-seed` (hidden): fills a store for the benchmarks (tests/bench/README.md) with
//! many keys and with request-log rows. The rows go through the request-log writer's own group
//! commit, so the roll-ups the pages read are filled exactly as served requests fill them.

mod traffic;

use std::sync::Arc;

use super::{CliError, Context, open_store, print_json};
use crate::domain::key::ApiKey;
use crate::domain::{Clock, Environment, KeyFormat, Region, Timestamp};
use crate::store::keys::{insert_key, list_keys};
use crate::store::request_log::seed_rows;
use traffic::Traffic;

/// What `bench-seed` was asked to store.
pub struct Seed {
    pub account: String,
    pub keys: u64,
    pub logs: u64,
    pub days: u32,
}

#[derive(serde::Serialize)]
struct Seeded {
    keys: u64,
    logs: u64,
    days: u32,
    /// The key with the most rows: the first key not made by `bench-seed`, if any.
    busiest_key: Option<String>,
    seconds: f64,
}

pub fn run(ctx: &Context, seed: Seed) -> Result<(), CliError> {
    if seed.days == 0 || seed.days > 3650 {
        return Err(CliError::new("--days must be between 1 and 3650"));
    }
    let store = open_store(&ctx.config)?;
    let mut db = store.db()?;
    let now = Clock::system().now();
    let started = std::time::Instant::now();
    if seed.keys > 0 {
        seed_keys(ctx, &mut db, &seed.account, seed.keys, now)?;
        eprintln!("stored {} keys", seed.keys);
    }
    let mut busiest_key = None;
    if seed.logs > 0 {
        let keys = ranked(list_keys(&db.read(), Some(&seed.account))?);
        let Some(first) = keys.first() else {
            return Err(CliError::new(format!(
                "the account {:?} has no keys to log requests for (--account; --count N makes some)",
                seed.account
            )));
        };
        busiest_key = Some(first.id.clone());
        let region = Region::parse(&ctx.config.server.default_region).unwrap_or(Region::Us);
        let traffic = Traffic::new(keys, seed.logs, seed.days, now, region);
        let written = seed_rows(&mut db, traffic)?;
        eprintln!(
            "wrote {written} request-log rows over {} days in {:.1} s",
            seed.days,
            started.elapsed().as_secs_f64()
        );
    }
    if ctx.json {
        print_json(&Seeded {
            keys: seed.keys,
            logs: seed.logs,
            days: seed.days,
            busiest_key,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(())
}

/// Stores `count` Full Access keys in large transactions (their secrets are discarded).
fn seed_keys(
    ctx: &Context,
    db: &mut crate::store::Db,
    account: &str,
    count: u64,
    now: Timestamp,
) -> Result<(), CliError> {
    const BATCH: u64 = 20_000;
    let format = KeyFormat::new(&ctx.config.keys.prefix).map_err(CliError::new)?;
    let mut done = 0;
    while done < count {
        let tx = db.write()?;
        for _ in 0..BATCH.min(count - done) {
            let secret = format.generate(Environment::Live)?;
            let key = seeded_key(
                account,
                secret.prefix().to_owned(),
                secret.digest().to_hex(),
                now,
            );
            insert_key(&tx, &key)?;
            done += 1;
        }
        tx.commit()?;
    }
    Ok(())
}

const SEEDED: &str = "bench-seed";

/// A Full Access key as `bench-seed` stores it.
fn seeded_key(account: &str, key_prefix: String, key_hash: String, now: Timestamp) -> ApiKey {
    ApiKey {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account.to_owned(),
        name: "load test".into(),
        key_prefix,
        key_hash,
        environment: Environment::Live,
        scopes: crate::domain::Preset::FullAccess.scopes(),
        ip_allowlist: Default::default(),
        allowed_models: None,
        rate_limit_per_minute: None,
        created_at: now,
        created_by: Some(SEEDED.into()),
        last_used_at: None,
        expires_at: None,
        rotated_at: None,
        replaced_by: None,
        replaces: None,
        disabled_at: None,
        revoked_at: None,
        budget: None,
        quota: None,
    }
}

/// The keys busiest first: those made otherwise than by `bench-seed`, oldest first, then the
/// seeded ones by id, so that runs on the same store rank them alike.
fn ranked(mut keys: Vec<ApiKey>) -> Vec<Arc<ApiKey>> {
    keys.sort_by(|a, b| {
        let seeded = |k: &ApiKey| k.created_by.as_deref() == Some(SEEDED);
        (seeded(a), a.created_at.millis(), &a.id).cmp(&(seeded(b), b.created_at.millis(), &b.id))
    });
    keys.into_iter().map(Arc::new).collect()
}
