//! Generation records, their provider attempts, and the generation and provider roll-ups.

use super::Tx;
use super::engine::Row;
use super::{StoreError, ts};
use crate::domain::generation::{AttemptOutcome, Generation, GenerationStatus, ModelType};
use crate::domain::{Environment, Money, Timestamp};

const COLUMNS: &str = "id, account_id, key_id, environment, model_identifier, model_type,
    provider_order, provider_used, prediction_id, status, prompt, ratio, output_format,
    output_number, input_files, output_files, duration, resolution, generate_audio, specific,
    cost, error, error_code, files_removed, created_at, started_at, completed_at, predict_ms,
    last_frame, origin";

fn json_list(text: Option<String>) -> Option<Vec<String>> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

fn from_row(r: &Row<'_>) -> Result<Generation, StoreError> {
    let environment: String = r.get(3)?;
    let model_type: String = r.get(5)?;
    let status: String = r.get(9)?;
    let specific: String = r.get(19)?;
    Ok(Generation {
        id: r.get(0)?,
        account_id: r.get(1)?,
        key_id: r.get(2)?,
        environment: Environment::parse(&environment).unwrap_or(Environment::Live),
        model_identifier: r.get(4)?,
        model_type: ModelType::parse(&model_type).unwrap_or(ModelType::Image),
        provider_order: json_list(r.get(6)?).unwrap_or_default(),
        provider_used: r.get(7)?,
        prediction_id: r.get(8)?,
        status: GenerationStatus::parse(&status).unwrap_or(GenerationStatus::Failed),
        prompt: r.get(10)?,
        ratio: r.get(11)?,
        output_format: r.get(12)?,
        output_number: r.get(13)?,
        input_files: json_list(r.get(14)?),
        output_files: json_list(r.get(15)?),
        duration: r.get(16)?,
        resolution: r.get(17)?,
        generate_audio: r.get::<Option<i64>>(18)?.map(|v| v != 0),
        specific: serde_json::from_str(&specific).unwrap_or_default(),
        cost: Money(r.get(20)?),
        error: r.get(21)?,
        error_code: r.get(22)?,
        files_removed: r.get::<i64>(23)? != 0,
        created_at: Timestamp(r.get(24)?),
        started_at: ts(r.get(25)?),
        completed_at: ts(r.get(26)?),
        predict_ms: r.get(27)?,
        last_frame: r.get(28)?,
        origin: r.get(29)?,
    })
}

fn to_json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

pub fn insert(tx: &Tx<'_>, g: &Generation) -> Result<(), StoreError> {
    tx.execute(
        &format!(
            "INSERT INTO generations ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,
             ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27,
             ?28, ?29, ?30)"
        ),
        &[
            &g.id,
            &g.account_id,
            &g.key_id,
            &g.environment.as_str(),
            &g.model_identifier,
            &g.model_type.as_str(),
            &to_json_text(&g.provider_order),
            &g.provider_used,
            &g.prediction_id,
            &g.status.as_str(),
            &g.prompt,
            &g.ratio,
            &g.output_format,
            &g.output_number,
            &g.input_files.as_ref().map(to_json_text),
            &g.output_files.as_ref().map(to_json_text),
            &g.duration,
            &g.resolution,
            &g.generate_audio.map(i64::from),
            &to_json_text(&g.specific),
            &g.cost.thousandths(),
            &g.error,
            &g.error_code,
            &i64::from(g.files_removed),
            &g.created_at.millis(),
            &g.started_at.map(Timestamp::millis),
            &g.completed_at.map(Timestamp::millis),
            &g.predict_ms,
            &g.last_frame,
            &g.origin,
        ],
    )?;
    Ok(())
}

pub fn get(tx: &Tx<'_>, id: &str) -> Result<Option<Generation>, StoreError> {
    tx.query_opt(
        &format!("SELECT {COLUMNS} FROM generations WHERE id = ?1"),
        &[&id],
        from_row,
    )
}

/// The account's generation, or none (another account's is indistinguishable from a missing one).
pub fn get_in(tx: &Tx<'_>, account_id: &str, id: &str) -> Result<Option<Generation>, StoreError> {
    Ok(get(tx, id)?.filter(|g| g.account_id == account_id))
}

/// A page of the account's generations, newest first, and the total.
pub fn list(
    tx: &Tx<'_>,
    account_id: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<Generation>, i64), StoreError> {
    let total: i64 = tx.query_one(
        "SELECT COUNT(*) FROM generations WHERE account_id = ?1",
        &[&account_id],
        |r| r.get(0),
    )?;
    let rows = tx.query_all(
        &format!(
            "SELECT {COLUMNS} FROM generations WHERE account_id = ?1
             ORDER BY created_at DESC, rowid DESC LIMIT ?2 OFFSET ?3"
        ),
        &[&account_id, &limit, &offset],
        from_row,
    )?;
    Ok((rows, total))
}

pub fn count_in_flight(tx: &Tx<'_>, account_id: &str) -> Result<i64, StoreError> {
    tx.query_one(
        "SELECT COUNT(*) FROM generations
         WHERE account_id = ?1 AND status IN ('pending', 'processing')",
        &[&account_id],
        |r| r.get(0),
    )
}

/// Every generation left pending or processing, oldest first: (id, status).
pub fn in_flight(tx: &Tx<'_>) -> Result<Vec<(String, GenerationStatus)>, StoreError> {
    tx.query_all(
        "SELECT id, status FROM generations WHERE status IN ('pending', 'processing')
         ORDER BY created_at, rowid",
        &[],
        |r| {
            let status: String = r.get(1)?;
            Ok((
                r.get(0)?,
                GenerationStatus::parse(&status).unwrap_or(GenerationStatus::Pending),
            ))
        },
    )
}

/// Every `processing` generation: (id, when it started, its providers in order).
pub fn processing(tx: &Tx<'_>) -> Result<Vec<(String, Timestamp, Vec<String>)>, StoreError> {
    tx.query_all(
        "SELECT id, COALESCE(started_at, created_at), provider_order FROM generations
         WHERE status = 'processing'",
        &[],
        |r| {
            Ok((
                r.get(0)?,
                Timestamp(r.get(1)?),
                json_list(r.get(2)?).unwrap_or_default(),
            ))
        },
    )
}

/// `pending` → `processing`; false when the generation is no longer pending.
/// `pending` → `processing` on `node`; false when it is no longer pending. The row is claimed
/// with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so a node never waits on another's claim.
pub fn start(tx: &Tx<'_>, id: &str, now: Timestamp, node: &str) -> Result<bool, StoreError> {
    let sql = format!(
        "UPDATE generations SET status = 'processing', started_at = ?2, node = ?3
         WHERE id = (SELECT id FROM generations WHERE id = ?1 AND status = 'pending'{})",
        tx.engine().skip_locked()
    );
    Ok(tx.execute(&sql, &[&id, &now.millis(), &node])? == 1)
}

/// Puts a new generation in `node`'s queue.
pub fn assign(tx: &Tx<'_>, id: &str, node: &str) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE generations SET node = ?2 WHERE id = ?1",
        &[&id, &node],
    )?;
    Ok(())
}

/// In-flight generations whose node is gone (its lease ran out) or unknown, other than `me`'s:
/// (id, status, node).
pub fn orphans(
    tx: &Tx<'_>,
    me: &str,
    now: Timestamp,
) -> Result<Vec<(String, GenerationStatus, Option<String>)>, StoreError> {
    tx.query_all(
        "SELECT g.id, g.status, g.node FROM generations g
         WHERE g.status IN ('pending', 'processing')
           AND (g.node IS NULL OR (g.node <> ?1 AND NOT EXISTS
                (SELECT 1 FROM nodes n WHERE n.id = g.node AND n.lease_until > ?2)))
         ORDER BY g.created_at, g.rowid",
        &[&me, &now.millis()],
        |r| {
            let status: String = r.get(1)?;
            Ok((
                r.get(0)?,
                GenerationStatus::parse(&status).unwrap_or(GenerationStatus::Pending),
                r.get(2)?,
            ))
        },
    )
}

/// Takes a pending generation over from `from` (its node, gone); false when another node did.
pub fn adopt(tx: &Tx<'_>, id: &str, from: Option<&str>, me: &str) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "UPDATE generations SET node = ?3
         WHERE id = ?1 AND status = 'pending' AND node IS NOT DISTINCT FROM ?2",
        &[&id, &from, &me],
    )? == 1)
}

pub struct Success<'a> {
    pub provider: &'a str,
    pub prediction_id: Option<&'a str>,
    pub files: &'a [String],
    pub predict_ms: Option<i64>,
}

/// `processing` → `succeeded`; false when it was canceled or deleted meanwhile.
pub fn succeed(tx: &Tx<'_>, id: &str, s: &Success<'_>, now: Timestamp) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "UPDATE generations SET status = 'succeeded', provider_used = ?2,
             prediction_id = COALESCE(?3, prediction_id), output_files = ?4, predict_ms = ?5,
             completed_at = ?6
         WHERE id = ?1 AND status = 'processing'",
        &[
            &id,
            &s.provider,
            &s.prediction_id,
            &to_json_text(&s.files),
            &s.predict_ms,
            &now.millis(),
        ],
    )? == 1)
}

/// An in-flight generation → `failed`; false when it had already finished.
pub fn fail(
    tx: &Tx<'_>,
    id: &str,
    error: &str,
    code: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "UPDATE generations SET status = 'failed', error = ?2, error_code = ?3, completed_at = ?4
         WHERE id = ?1 AND status IN ('pending', 'processing')",
        &[&id, &error, &code, &now.millis()],
    )? == 1)
}

/// An in-flight generation → `canceled`; false when it had already finished.
/// `pending`/`processing` → `canceled`. On PostgreSQL the nodes hear of it at commit
/// (`STOPPED`), so the node running it stops its provider call.
pub fn cancel(tx: &Tx<'_>, id: &str, now: Timestamp) -> Result<bool, StoreError> {
    let canceled = tx.execute(
        "UPDATE generations SET status = 'canceled', completed_at = ?2
         WHERE id = ?1 AND status IN ('pending', 'processing')",
        &[&id, &now.millis()],
    )? == 1;
    if canceled && tx.engine() == super::Engine::Postgres {
        let notify = format!("SELECT pg_notify('{STOPPED}', current_schema() || ':' || ?1)");
        tx.query_one(&notify, &[&id], |_| Ok(()))?;
    }
    Ok(canceled)
}

/// The channel on which PostgreSQL nodes hear that a generation was canceled or deleted.
pub const STOPPED: &str = "tidegate_generation_stopped";

/// Of `ids`, those no longer in flight: canceled (or otherwise ended) or deleted meanwhile.
pub fn no_longer_running(tx: &Tx<'_>, ids: &[String]) -> Result<Vec<String>, StoreError> {
    let mut ended = Vec::new();
    for id in ids {
        let status: Option<String> =
            tx.query_opt("SELECT status FROM generations WHERE id = ?1", &[id], |r| {
                r.get(0)
            })?;
        if !matches!(status.as_deref(), Some("pending" | "processing")) {
            ended.push(id.clone());
        }
    }
    Ok(ended)
}

pub fn delete(tx: &Tx<'_>, id: &str) -> Result<bool, StoreError> {
    Ok(tx.execute("DELETE FROM generations WHERE id = ?1", &[&id])? == 1)
}

pub struct Attempt<'a> {
    pub generation_id: &'a str,
    pub account_id: &'a str,
    pub provider: &'a str,
    pub outcome: AttemptOutcome,
    pub error_code: Option<&'a str>,
    pub error: Option<&'a str>,
    pub latency_ms: i64,
    /// What the generation costs; counted as estimated (used) or wasted (cancelled, discarded).
    pub cost: Money,
}

/// Records an attempt (if its generation still exists) and adds it to the account's daily
/// provider roll-up.
pub fn record_attempt(tx: &Tx<'_>, a: &Attempt<'_>, now: Timestamp) -> Result<(), StoreError> {
    // A generation deleted meanwhile keeps no attempt rows, but its attempt still counts in the
    // provider roll-up. The casts give PostgreSQL the types of the selected parameters.
    tx.execute(
        "INSERT INTO generation_attempts
             (generation_id, provider, outcome, error_code, error, latency_ms, created_at)
         SELECT CAST(?1 AS TEXT), CAST(?2 AS TEXT), CAST(?3 AS TEXT), CAST(?4 AS TEXT),
                CAST(?5 AS TEXT), CAST(?6 AS BIGINT), CAST(?7 AS BIGINT)
         WHERE EXISTS (SELECT 1 FROM generations WHERE id = ?1)",
        &[
            &a.generation_id,
            &a.provider,
            &a.outcome.as_str(),
            &a.error_code,
            &a.error,
            &a.latency_ms,
            &now.millis(),
        ],
    )?;
    let one = |o: AttemptOutcome| i64::from(a.outcome == o);
    let cost = a.cost.thousandths();
    let (estimated, wasted) = match a.outcome {
        AttemptOutcome::Used => (cost, 0),
        AttemptOutcome::Cancelled | AttemptOutcome::Discarded => (0, cost),
        AttemptOutcome::Failed => (0, 0),
    };
    // The existing row's columns are qualified: PostgreSQL finds them ambiguous with `excluded`.
    tx.execute(
        "INSERT INTO usage_providers_daily (day, account_id, provider, submissions, used,
             cancelled, discarded, failed, estimated_cost, wasted_cost)
         VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (account_id, day, provider) DO UPDATE SET
             submissions = usage_providers_daily.submissions + 1,
             used = usage_providers_daily.used + ?4,
             cancelled = usage_providers_daily.cancelled + ?5,
             discarded = usage_providers_daily.discarded + ?6,
             failed = usage_providers_daily.failed + ?7,
             estimated_cost = usage_providers_daily.estimated_cost + ?8,
             wasted_cost = usage_providers_daily.wasted_cost + ?9",
        &[
            &now.day(),
            &a.account_id,
            &a.provider,
            &one(AttemptOutcome::Used),
            &one(AttemptOutcome::Cancelled),
            &one(AttemptOutcome::Discarded),
            &one(AttemptOutcome::Failed),
            &estimated,
            &wasted,
        ],
    )?;
    Ok(())
}

/// Counts a new generation in the account's daily roll-up.
pub fn count_generation(tx: &Tx<'_>, account_id: &str, now: Timestamp) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO usage_generations_daily (day, account_id, generations) VALUES (?1, ?2, 1)
         ON CONFLICT (account_id, day) DO UPDATE SET
             generations = usage_generations_daily.generations + 1",
        &[&now.day(), &account_id],
    )?;
    Ok(())
}

/// Adds a charged cost to the account's daily roll-up.
pub fn add_charged_cost(
    tx: &Tx<'_>,
    account_id: &str,
    cost: Money,
    now: Timestamp,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO usage_generations_daily (day, account_id, estimated_cost) VALUES (?1, ?2, ?3)
         ON CONFLICT (account_id, day) DO UPDATE SET
             estimated_cost = usage_generations_daily.estimated_cost + ?3",
        &[&now.day(), &account_id, &cost.thousandths()],
    )?;
    Ok(())
}

/// The files each generation's record names and that should be on disk (not yet purged):
/// (generation id, file names).
pub fn referenced_files(tx: &Tx<'_>) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    tx.query_all(
        "SELECT id, output_files FROM generations
         WHERE output_files IS NOT NULL AND files_removed = 0 ORDER BY created_at, id",
        &[],
        |r| Ok((r.get(0)?, json_list(r.get(1)?).unwrap_or_default())),
    )
}
