//! The instance administrator's way in when password sign-in is off (docs/operator.md,
//! "Single sign-on"): `tidegate users sign-in-link` makes a single-use link, valid 10 minutes,
//! of which the store keeps only the SHA-256.

use sha2::{Digest, Sha256};

use super::changes::{self, Category, Change, Note};
use super::sessions::{self, Client};
use super::users::parse_email;
use super::{Actor, ServiceError};
use crate::domain::Timestamp;
use crate::domain::random::{base62_string, hex};
use crate::store::{Db, accounts, members, oidc};

/// How long a link stays valid.
pub const LINK_MINUTES: i64 = 10;

/// The path a link's token is appended to.
pub const LINK_PATH: &str = "/login/link/";

fn digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A new link token for the instance administrator with this e-mail; refused for anyone else.
pub fn create(db: &mut Db, email: &str, now: Timestamp) -> Result<String, ServiceError> {
    let email = parse_email(email)?;
    let token = base62_string(43).map_err(|e| ServiceError::Store(e.into()))?;
    let tx = db.write()?;
    let user_id = accounts::user_id_by_email(&tx, &email)?.ok_or(ServiceError::NotFound("user"))?;
    if accounts::instance_admin_id(&tx)?.as_deref() != Some(user_id.as_str()) {
        return Err(ServiceError::Forbidden(
            "sign-in links are only for the instance administrator".into(),
        ));
    }
    oidc::purge_expired(&tx, now)?;
    let expires = now.plus_millis(LINK_MINUTES * 60_000);
    oidc::insert_link(&tx, &digest(&token), &user_id, now, expires)?;
    let note = Note {
        account_id: None,
        category: Category::Auth,
        action: "sign_in_link_created",
        target: Some(&user_id),
        description: format!("Made a single-use sign-in link for {email}"),
    };
    changes::record(&tx, &Actor::Cli, Change::Note(note), now)?;
    tx.commit()?;
    Ok(token)
}

/// Opens a session with a link, once; `None` when the link is unknown, used or expired.
pub fn redeem(
    db: &mut Db,
    token: &str,
    client: &Client,
    now: Timestamp,
    ttl_hours: u32,
) -> Result<Option<String>, ServiceError> {
    let tx = db.write()?;
    let Some(user_id) = oidc::use_link(&tx, &digest(token), now)? else {
        return Ok(None);
    };
    let email = members::email_of(&tx, &user_id)?.unwrap_or_default();
    let opened = sessions::open(&tx, &user_id, "link", client, now, ttl_hours)?;
    let actor = Actor::User {
        email: email.clone(),
        ip_hash: Some(client.ip_hash.clone()),
    };
    let note = Note {
        account_id: opened.account_id.as_deref(),
        category: Category::Auth,
        action: "signed_in",
        target: None,
        description: format!("{email} signed in with a sign-in link (link)"),
    };
    changes::record(&tx, &actor, Change::Note(note), now)?;
    tx.commit()?;
    Ok(Some(opened.token))
}
