//! Dashboard sign-in (docs/admin.md, "Sign-in"): the password, then, for a person with a
//! second factor, a code. Until the code is right the sign-in is a session in the `code` stage
//! that opens no page; the right code replaces it with a new session. Where `auth.allow_signup`
//! is on, a person may also sign themselves up.

use super::accounts::{CreateAccount, create_account};
use super::changes::{self, Category, Change, Note};
use super::password::{check_strength, hash_password, verify_password};
use super::second_factor::{self, Used};
use super::sessions::{Client, Opened, open, open_awaiting_code, token_hash};
use super::users::parse_email;
use super::{Actor, ServiceError};
use crate::config::Config;
use crate::domain::{Name, Timestamp};
use crate::store::{Db, Tx};
use crate::store::{members, sessions};

/// A hash of a password nobody has, verified when the e-mail is unknown so that both failures
/// take as long.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0Qm1y9Rr0b3pGgfY0u1jW0Jj2bVtW8yV0E0k7m8w1rI";

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("The e-mail address or password is incorrect.")]
    BadCredentials,
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// A password that was right: the cookie token (shown only to the browser) of a session, or of
/// a sign-in that waits for the second factor.
pub enum SignedIn {
    Open(String),
    AwaitingCode(String),
}

/// Checks the password; opens a session, or, for a person with a second factor, a sign-in
/// waiting for the code.
pub fn sign_in(
    db: &mut Db,
    email: &str,
    password: &str,
    now: Timestamp,
    ttl_hours: u32,
    client: &Client,
) -> Result<SignedIn, SignInError> {
    let email = parse_email(email).map_err(|_| SignInError::BadCredentials)?;
    let user = members::credentials(&db.read(), &email).map_err(ServiceError::from)?;
    let stored = user.as_ref().map_or(DUMMY_HASH, |(_, h)| h.as_str());
    let matches = verify_password(password, stored);
    let actor = Actor::User {
        email: email.clone(),
        ip_hash: Some(client.ip_hash.clone()),
    };
    let tx = db.write().map_err(ServiceError::from)?;
    let Some((user_id, _)) = user.filter(|_| matches) else {
        record(
            &tx,
            &actor,
            None,
            "sign_in_failed",
            format!("Failed sign-in for {email}"),
            now,
        )?;
        tx.commit().map_err(ServiceError::from)?;
        return Err(SignInError::BadCredentials);
    };
    if second_factor::status_in(&tx, &user_id)?.is_on() {
        let token = open_awaiting_code(&tx, &user_id, client, now)?;
        tx.commit().map_err(ServiceError::from)?;
        return Ok(SignedIn::AwaitingCode(token));
    }
    let opened = open(&tx, &user_id, "password", client, now, ttl_hours)?;
    signed_in(&tx, &actor, &opened, format!("{email} signed in"), now)?;
    tx.commit().map_err(ServiceError::from)?;
    Ok(SignedIn::Open(opened.token))
}

/// What a person signing up typed.
pub struct SignUp {
    pub workspace: String,
    pub email: String,
    pub password: String,
    pub confirm_password: String,
}

/// Signs a person up (`auth.allow_signup`): a user with the password they chose, the primary
/// owner of a new personal workspace, and their first session; returns its cookie token. An
/// e-mail address someone already has is refused (that person signs in instead), and bad input
/// names its field and stores nothing.
pub fn sign_up(
    db: &mut Db,
    config: &Config,
    input: SignUp,
    now: Timestamp,
    client: &Client,
) -> Result<String, ServiceError> {
    Name::parse(&input.workspace).map_err(|m| ServiceError::invalid("workspace", m))?;
    let email = parse_email(&input.email)?;
    check_strength(&input.password).map_err(|m| ServiceError::invalid("password", m))?;
    if input.confirm_password != input.password {
        return Err(ServiceError::invalid(
            "confirm_password",
            "does not match the password",
        ));
    }
    let hash =
        hash_password(&input.password).map_err(|e| ServiceError::InvalidState(e.to_string()))?;
    let actor = Actor::User {
        email: email.clone(),
        ip_hash: Some(client.ip_hash.clone()),
    };
    let account = CreateAccount {
        name: input.workspace,
        team: false,
        region: None,
        plan: None,
        owner: Some(email.clone()),
        owner_password_hash: Some(hash),
    };
    let created = create_account(db, config, &actor, now, account)?;
    let tx = db.write()?;
    let opened = open(
        &tx,
        &created.owner_id,
        "password",
        client,
        now,
        config.auth.session_hours,
    )?;
    signed_in(&tx, &actor, &opened, format!("{email} signed up"), now)?;
    tx.commit()?;
    Ok(opened.token)
}

/// What became of a code typed after the password.
pub enum CodeOutcome {
    /// The session is open: its cookie token, and which code opened it.
    Open(String, Used),
    /// The code is wrong or was used already; the person may try again.
    Wrong,
    /// The sign-in is unknown or older than its ten minutes: start again.
    Expired,
}

/// Checks the code of a sign-in waiting for it. A right code ends the waiting sign-in and opens
/// a new session (a new token: the one the password earned opens nothing more).
pub fn finish_with_code(
    db: &mut Db,
    waiting_token: &str,
    typed: &str,
    now: Timestamp,
    ttl_hours: u32,
    client: &Client,
) -> Result<CodeOutcome, ServiceError> {
    let tx = db.write()?;
    let waiting = token_hash(waiting_token);
    let Some((user_id, email)) = sessions::awaiting_code(&tx, &waiting, now)? else {
        return Ok(CodeOutcome::Expired);
    };
    let actor = Actor::User {
        email: email.clone(),
        ip_hash: Some(client.ip_hash.clone()),
    };
    let Some(used) = second_factor::check(&tx, &user_id, typed, now)? else {
        let what = format!("Wrong second-factor code for {email}");
        record(&tx, &actor, None, "sign_in_failed", what, now)?;
        tx.commit()?;
        return Ok(CodeOutcome::Wrong);
    };
    sessions::delete(&tx, &waiting)?;
    let opened = open(&tx, &user_id, "password", client, now, ttl_hours)?;
    let what = match used {
        Used::Totp => format!("{email} signed in with a second-factor code"),
        Used::Recovery { left } => {
            format!("{email} signed in with a recovery code; {left} left")
        }
    };
    signed_in(&tx, &actor, &opened, what, now)?;
    tx.commit()?;
    Ok(CodeOutcome::Open(opened.token, used))
}

/// The e-mail of a sign-in waiting for its code, for the limits on failed attempts.
pub fn awaiting_email(
    db: &mut Db,
    waiting_token: &str,
    now: Timestamp,
) -> Result<Option<String>, ServiceError> {
    Ok(sessions::awaiting_code(&db.read(), &token_hash(waiting_token), now)?.map(|(_, e)| e))
}

fn signed_in(
    tx: &Tx<'_>,
    actor: &Actor,
    opened: &Opened,
    what: String,
    now: Timestamp,
) -> Result<(), ServiceError> {
    record(
        tx,
        actor,
        opened.account_id.as_deref(),
        "signed_in",
        what,
        now,
    )
}

fn record(
    tx: &Tx<'_>,
    actor: &Actor,
    account_id: Option<&str>,
    action: &str,
    description: String,
    now: Timestamp,
) -> Result<(), ServiceError> {
    let note = Note {
        account_id,
        category: Category::Auth,
        action,
        target: None,
        description,
    };
    changes::record(tx, actor, Change::Note(note), now)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dummy_hash_is_a_valid_argon2id_string_that_matches_nothing_useful() {
        assert!(!verify_password("", DUMMY_HASH));
        assert!(argon2::password_hash::phc::PasswordHash::new(DUMMY_HASH).is_ok());
    }
}
