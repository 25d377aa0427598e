//! The dashboard's second factor (docs/admin.md, "Second factor"): enrolment confirmed by one
//! code, ten recovery codes shown once, codes accepted once each, the factor turned off with a
//! code, and the reset by the instance administrator or the command line. The secret is sealed
//! with the install secret and never leaves the service again once the factor is on.

use super::changes::{self, Category, Change, Note};
use super::{Actor, ServiceError};
use crate::domain::Timestamp;
use crate::domain::second_factor::{self as factor, Code, Requirement, Sealer};
use crate::store::second_factor as store;
use crate::store::{Db, StoreError, Tx};
use crate::store::{members, sessions, settings};

/// Whether a person has the factor on, and how many recovery codes they have left.
#[derive(Clone, Debug)]
pub struct Status {
    pub enabled_at: Option<Timestamp>,
    pub recovery_codes_left: i64,
}

impl Status {
    pub fn is_on(&self) -> bool {
        self.enabled_at.is_some()
    }
}

/// What the enrolment page shows until the first code confirms the factor.
pub struct Enrolment {
    /// The secret in base32, for typing into an app.
    pub secret_text: String,
    pub uri: String,
    /// The `otpauth://` URI as a QR code, an SVG element drawn here.
    pub qr_svg: String,
}

/// Which code opened the way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Used {
    Totp,
    /// A recovery code; this many are left.
    Recovery {
        left: i64,
    },
}

fn sealer(tx: &Tx<'_>) -> Result<Sealer, ServiceError> {
    Ok(Sealer::new(&settings::install_secret(tx)?))
}

fn unexpected(what: impl std::fmt::Display) -> ServiceError {
    ServiceError::Store(StoreError::Decode {
        index: 0,
        what: what.to_string(),
    })
}

fn unix_seconds(now: Timestamp) -> u64 {
    u64::try_from(now.0 / 1000).unwrap_or(0)
}

pub fn status(db: &mut Db, user_id: &str) -> Result<Status, ServiceError> {
    status_in(&db.read(), user_id)
}

pub(crate) fn status_in(tx: &Tx<'_>, user_id: &str) -> Result<Status, ServiceError> {
    let row = store::factor(tx, user_id)?.ok_or(ServiceError::NotFound("user"))?;
    Ok(Status {
        enabled_at: row.secret.and(row.enabled_at).map(Timestamp),
        recovery_codes_left: store::recovery_codes_left(tx, user_id)?,
    })
}

/// The secret waiting for its first code, made now if there is none: a reload of the page
/// shows the same secret, so an app that scanned it keeps working.
pub fn enrolment(db: &mut Db, user_id: &str, email: &str) -> Result<Enrolment, ServiceError> {
    let tx = db.write()?;
    let row = store::factor(&tx, user_id)?.ok_or(ServiceError::NotFound("user"))?;
    if row.secret.is_some() {
        return Err(ServiceError::InvalidState(
            "the second factor is already on; turn it off first to set up another app".into(),
        ));
    }
    let sealer = sealer(&tx)?;
    let pending = row.pending.and_then(|p| sealer.open(user_id, &p).ok());
    let secret = match pending {
        Some(secret) => secret,
        None => {
            let secret = factor::new_secret().map_err(unexpected)?;
            let sealed = sealer.seal(user_id, &secret).map_err(unexpected)?;
            store::set_pending(&tx, user_id, &sealed)?;
            secret
        }
    };
    tx.commit()?;
    let (uri, qr_svg) =
        factor::enrolment_uri(&secret, email).ok_or_else(|| unexpected("the QR code"))?;
    Ok(Enrolment {
        secret_text: factor::secret_text(&secret),
        uri,
        qr_svg,
    })
}

fn not_a_code() -> ServiceError {
    ServiceError::invalid(
        "code",
        "is not a code: type the six digits your app shows, or one of your recovery codes",
    )
}

fn wrong_code() -> ServiceError {
    ServiceError::invalid(
        "code",
        "is not right: type the code your app shows now, or an unused recovery code",
    )
}

/// Turns the factor on once a code of the waiting secret is right; returns the ten recovery
/// codes, shown this once. The person's other sessions end.
pub fn confirm(
    db: &mut Db,
    actor: &Actor,
    user_id: &str,
    keep_session: &str,
    typed: &str,
    now: Timestamp,
) -> Result<Vec<String>, ServiceError> {
    let Some(Code::Totp(code)) = factor::parse_code(typed) else {
        return Err(ServiceError::invalid(
            "code",
            "is not a code: type the six digits your app shows",
        ));
    };
    let tx = db.write()?;
    let row = store::factor(&tx, user_id)?.ok_or(ServiceError::NotFound("user"))?;
    if row.secret.is_some() {
        return Err(ServiceError::InvalidState(
            "the second factor is already on".into(),
        ));
    }
    let sealed = row.pending.ok_or_else(|| {
        ServiceError::InvalidState("the set-up has expired; start it again".into())
    })?;
    let secret = sealer(&tx)?.open(user_id, &sealed).map_err(unexpected)?;
    let step = factor::code_step(&secret, &code, unix_seconds(now)).ok_or_else(|| {
        ServiceError::invalid(
            "code",
            "is not right: type the code your app shows now for this secret",
        )
    })?;
    store::enable(&tx, user_id, &sealed, step, now)?;
    let codes = new_recovery_codes(&tx, user_id)?;
    let ended = sessions::end_others(&tx, user_id, keep_session)?;
    note(
        &tx,
        actor,
        user_id,
        "second_factor_enabled",
        "turned on a second factor",
        ended,
        now,
    )?;
    tx.commit()?;
    Ok(codes)
}

fn new_recovery_codes(tx: &Tx<'_>, user_id: &str) -> Result<Vec<String>, ServiceError> {
    let codes = factor::recovery_codes().map_err(unexpected)?;
    let hashes: Vec<String> = codes.iter().map(|(_, h)| h.clone()).collect();
    store::replace_recovery_codes(tx, user_id, &hashes)?;
    Ok(codes.into_iter().map(|(shown, _)| shown).collect())
}

/// Checks a code against the person's factor inside the caller's transaction and spends it:
/// `Ok(None)` when it is wrong or already used, an invalid `code` when it is no code at all.
pub fn check(
    tx: &Tx<'_>,
    user_id: &str,
    typed: &str,
    now: Timestamp,
) -> Result<Option<Used>, ServiceError> {
    let code = factor::parse_code(typed).ok_or_else(not_a_code)?;
    let Some(sealed) = store::factor(tx, user_id)?.and_then(|r| r.secret) else {
        return Ok(None);
    };
    match code {
        Code::Totp(code) => {
            let secret = sealer(tx)?.open(user_id, &sealed).map_err(unexpected)?;
            let Some(step) = factor::code_step(&secret, &code, unix_seconds(now)) else {
                return Ok(None);
            };
            Ok(store::spend_step(tx, user_id, step)?.then_some(Used::Totp))
        }
        Code::Recovery(plain) => {
            let hash = factor::recovery_hash(&plain);
            if !store::spend_recovery_code(tx, user_id, &hash, now)? {
                return Ok(None);
            }
            let left = store::recovery_codes_left(tx, user_id)?;
            Ok(Some(Used::Recovery { left }))
        }
    }
}

/// New recovery codes for a person whose code is right; the old ones stop working.
pub fn regenerate(
    db: &mut Db,
    actor: &Actor,
    user_id: &str,
    typed: &str,
    now: Timestamp,
) -> Result<Vec<String>, ServiceError> {
    let tx = db.write()?;
    check(&tx, user_id, typed, now)?.ok_or_else(wrong_code)?;
    let codes = new_recovery_codes(&tx, user_id)?;
    note(
        &tx,
        actor,
        user_id,
        "recovery_codes_regenerated",
        "made new recovery codes",
        0,
        now,
    )?;
    tx.commit()?;
    Ok(codes)
}

/// Turns the factor off for a person whose code is right; their other sessions end.
pub fn turn_off(
    db: &mut Db,
    actor: &Actor,
    user_id: &str,
    keep_session: &str,
    typed: &str,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let tx = db.write()?;
    check(&tx, user_id, typed, now)?.ok_or_else(wrong_code)?;
    store::disable(&tx, user_id)?;
    let ended = sessions::end_others(&tx, user_id, keep_session)?;
    note(
        &tx,
        actor,
        user_id,
        "second_factor_disabled",
        "turned off their second factor",
        ended,
        now,
    )?;
    tx.commit()?;
    Ok(())
}

/// The instance administrator's (or the command line's) reset for a person who lost their
/// app and their codes: the factor is off and every session of theirs ends. `false` when the
/// person had no factor.
pub fn reset(
    db: &mut Db,
    actor: &Actor,
    email: &str,
    now: Timestamp,
) -> Result<bool, ServiceError> {
    let tx = db.write()?;
    let (user_id, _) = members::credentials(&tx, email)?.ok_or(ServiceError::NotFound("user"))?;
    if !store::disable(&tx, &user_id)? {
        return Ok(false);
    }
    let ended = sessions::end_others(&tx, &user_id, "")?;
    let description = format!(
        "Reset the second factor of {}{}",
        members::email_of(&tx, &user_id)?.unwrap_or_default(),
        ended_text(ended)
    );
    changes::record(
        &tx,
        actor,
        Change::Note(Note {
            account_id: None,
            category: Category::Auth,
            action: "second_factor_reset",
            target: Some(&user_id),
            description,
        }),
        now,
    )?;
    tx.commit()?;
    Ok(true)
}

fn ended_text(ended: usize) -> String {
    match ended {
        0 => String::new(),
        1 => "; 1 session ended".to_owned(),
        n => format!("; {n} sessions ended"),
    }
}

fn note(
    tx: &Tx<'_>,
    actor: &Actor,
    user_id: &str,
    action: &str,
    what: &str,
    ended: usize,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let email = members::email_of(tx, user_id)?.unwrap_or_default();
    let ended = ended_text(ended).replace("session", "other session");
    let note = Note {
        account_id: None,
        category: Category::Auth,
        action,
        target: Some(user_id),
        description: format!("{email} {what}{ended}"),
    };
    changes::record(tx, actor, Change::Note(note), now)?;
    Ok(())
}

/// Who must have a second factor.
pub fn requirement(db: &mut Db) -> Result<Requirement, ServiceError> {
    let value = store::requirement(&db.read())?;
    Ok(value
        .as_deref()
        .and_then(Requirement::parse)
        .unwrap_or_default())
}

/// Sets who must have a second factor (the instance administrator, on the instance page).
pub fn set_requirement(
    db: &mut Db,
    actor: &Actor,
    requirement: Requirement,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let tx = db.write()?;
    store::set_requirement(&tx, requirement.as_str())?;
    let note = Note {
        account_id: None,
        category: Category::Auth,
        action: "second_factor_requirement_changed",
        target: None,
        description: format!(
            "Second factor required of: {}",
            requirement.label().to_lowercase()
        ),
    };
    changes::record(&tx, actor, Change::Note(note), now)?;
    tx.commit()?;
    Ok(())
}

/// Whether a person without a factor must set one up before any other page opens.
pub(crate) fn must_enrol(
    tx: &Tx<'_>,
    user_id: &str,
    is_instance_admin: bool,
) -> Result<bool, ServiceError> {
    let value = store::requirement(tx)?;
    Ok(
        match value
            .as_deref()
            .and_then(Requirement::parse)
            .unwrap_or_default()
        {
            Requirement::Nobody => false,
            Requirement::Everyone => true,
            Requirement::Owners => is_instance_admin || store::owns_a_workspace(tx, user_id)?,
        },
    )
}
