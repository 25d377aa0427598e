//! Dashboard sign-in through an OpenID provider (docs/admin.md, "Sign-in"; the reasons are in
//! docs/decisions.md, "Admin pages"). `begin` keeps the attempt in the store (any node may
//! serve the callback) and `complete` takes it back once: the browser binding must match, the
//! provider's ID token must pass every check, and the verified e-mail must name a user, or
//! auto-provisioning must name an account to create them in. Every refusal changes nothing.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::changes::{self, Category, Change, Note};
use super::sessions::{self, Client};
use super::users::parse_email;
use super::{Actor, ServiceError, Store};
use crate::config::OidcConfig;
use crate::domain::Timestamp;
use crate::domain::account::Role;
use crate::domain::random::{base62_string, hex};
use crate::providers::oidc::{OidcError, OidcProvider};
use crate::store::accounts::{self, NewUser};
use crate::store::oidc::{self as attempts, Attempt};
use crate::store::{Db, StoreError, Tx};

/// How long a sign-in may stay at the provider.
pub const ATTEMPT_MINUTES: i64 = 10;

/// The password hash of a user made by single sign-on: no PHC string, so no password matches.
use super::password::NO_PASSWORD;

/// Single sign-on as configured: the provider, and what to do with someone unknown.
pub struct SingleSignOn {
    provider: OidcProvider,
    provision_account: Option<String>,
    provision_role: Role,
}

/// Why a sign-in through the provider did not happen, as the page says it.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The provider could not be reached or answered badly (its discovery, token endpoint or
    /// ID token); the reason goes to the log, not to the page.
    #[error(
        "The identity provider could not complete the sign-in. Try again later, or tell your operator."
    )]
    Provider(OidcError),
    #[error("The identity provider did not sign you in ({0}). Start again from the sign-in page.")]
    Denied(String),
    #[error(
        "This sign-in is unknown, was already used or has expired. Start again from the sign-in page."
    )]
    UnknownAttempt,
    #[error(
        "The identity provider did not confirm an e-mail address for you, so you cannot be matched to a user of this dashboard."
    )]
    NoVerifiedEmail,
    #[error(
        "No user of this dashboard has the address {0}. Ask the instance administrator to add you."
    )]
    UnknownUser(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<StoreError> for Refusal {
    fn from(e: StoreError) -> Refusal {
        Refusal::Service(e.into())
    }
}

/// A sign-in sent to the provider: where the browser goes, and the binding for its cookie.
pub struct Begun {
    pub url: String,
    pub binding: String,
}

/// What the provider's redirect brought back.
pub struct Callback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    /// The binding cookie of the browser that began.
    pub binding: Option<String>,
}

fn digest(value: &str) -> String {
    hex(&Sha256::digest(value.as_bytes()))
}

fn random(len: usize) -> Result<String, ServiceError> {
    base62_string(len).map_err(|e| ServiceError::Store(e.into()))
}

impl SingleSignOn {
    /// Single sign-on from its settings; `None` when no issuer is set. Fails only if TLS
    /// cannot be set up.
    pub fn from_config(
        config: &OidcConfig,
        provision_role: Role,
    ) -> Result<Option<SingleSignOn>, reqwest::Error> {
        let Some(issuer) = config.issuer() else {
            return Ok(None);
        };
        let account = config.auto_provision_account.trim();
        Ok(Some(SingleSignOn {
            provider: OidcProvider::new(
                issuer,
                &config.client_id,
                &config.client_secret,
                &config.scopes,
            )?,
            provision_account: (!account.is_empty()).then(|| account.to_owned()),
            provision_role,
        }))
    }

    /// Reads the provider's discovery document and records the attempt (state and binding as
    /// digests, the nonce and the PKCE verifier for the callback).
    pub async fn begin(
        &self,
        store: &Store,
        redirect_uri: &str,
        now: Timestamp,
    ) -> Result<Begun, Refusal> {
        let (state, nonce, binding) = (random(43)?, random(43)?, random(43)?);
        let started = self
            .provider
            .start(redirect_uri, &state, &nonce)
            .await
            .map_err(Refusal::Provider)?;
        let attempt = Attempt {
            state_hash: digest(&state),
            binding_hash: digest(&binding),
            nonce,
            pkce_verifier: started.pkce_verifier,
            redirect_uri: redirect_uri.to_owned(),
            created_at: now,
            expires_at: now.plus_millis(ATTEMPT_MINUTES * 60_000),
        };
        store
            .run(move |db| {
                let tx = db.write()?;
                attempts::purge_expired(&tx, now)?;
                attempts::insert_attempt(&tx, &attempt)?;
                tx.commit()?;
                Ok::<_, StoreError>(())
            })
            .await?;
        Ok(Begun {
            url: started.url,
            binding,
        })
    }

    /// Takes the attempt back, checks the provider's answer and opens a session; returns the
    /// session's cookie token.
    pub async fn complete(
        &self,
        store: &Store,
        callback: Callback,
        client: Client,
        now: Timestamp,
        ttl_hours: u32,
    ) -> Result<String, Refusal> {
        if let Some(error) = callback.error {
            let shown: String = error
                .chars()
                .filter(|c| c.is_ascii_graphic())
                .take(64)
                .collect();
            return Err(Refusal::Denied(shown));
        }
        let (Some(state), Some(code), Some(binding)) =
            (callback.state, callback.code, callback.binding)
        else {
            return Err(Refusal::UnknownAttempt);
        };
        let state_hash = digest(&state);
        let attempt = store
            .run(move |db| take_attempt(db, &state_hash, &binding, now))
            .await?;
        let identity = self
            .provider
            .finish(
                &attempt.redirect_uri,
                &code,
                &attempt.pkce_verifier,
                &attempt.nonce,
            )
            .await
            .map_err(Refusal::Provider)?;
        let email = match identity.email.as_deref().map(parse_email) {
            Some(Ok(email)) if identity.email_verified => email,
            _ => return Err(Refusal::NoVerifiedEmail),
        };
        let provision = self
            .provision_account
            .clone()
            .map(|account| (account, self.provision_role));
        store
            .run(move |db| {
                let tx = db.write()?;
                let token = sign_in(&tx, &email, provision, &client, now, ttl_hours)?;
                tx.commit()?;
                Ok(token)
            })
            .await
    }
}

/// The attempt this state began, if it is live and this browser began it; deleted (committed)
/// so that its callback works once. A refusal leaves it as it was.
fn take_attempt(
    db: &mut Db,
    state_hash: &str,
    binding: &str,
    now: Timestamp,
) -> Result<Attempt, Refusal> {
    let tx = db.write()?;
    let Some(attempt) = attempts::attempt(&tx, state_hash)? else {
        return Err(Refusal::UnknownAttempt);
    };
    let same_browser: bool = digest(binding)
        .as_bytes()
        .ct_eq(attempt.binding_hash.as_bytes())
        .into();
    if !same_browser || attempt.expires_at <= now {
        return Err(Refusal::UnknownAttempt);
    }
    if !attempts::delete_attempt(&tx, state_hash)? {
        return Err(Refusal::UnknownAttempt);
    }
    tx.commit()?;
    Ok(attempt)
}

/// Opens a session for the user with this verified e-mail, creating them first when
/// auto-provisioning names a live account.
fn sign_in(
    tx: &Tx<'_>,
    email: &str,
    provision: Option<(String, Role)>,
    client: &Client,
    now: Timestamp,
    ttl_hours: u32,
) -> Result<String, Refusal> {
    let actor = Actor::User {
        email: email.to_owned(),
        ip_hash: Some(client.ip_hash.clone()),
    };
    let user_id = match accounts::user_id_by_email(tx, email)? {
        Some(id) => id,
        None => {
            let Some((account, role)) = provision else {
                return Err(Refusal::UnknownUser(email.to_owned()));
            };
            let Some(account_id) = provision_account(tx, &account)? else {
                tracing::warn!(
                    account = %account,
                    "auth.oidc.auto_provision_account names no live account (or several by that name); the sign-in was refused"
                );
                return Err(Refusal::UnknownUser(email.to_owned()));
            };
            provision_user(tx, &actor, email, &account_id, role, now)?
        }
    };
    let opened = sessions::open(tx, &user_id, "oidc", client, now, ttl_hours)?;
    let note = Note {
        account_id: opened.account_id.as_deref(),
        category: Category::Auth,
        action: "signed_in",
        target: None,
        description: format!("{email} signed in with single sign-on (oidc)"),
    };
    changes::record(tx, &actor, Change::Note(note), now)?;
    Ok(opened.token)
}

/// The live account auto-provisioning names: by id, else by its one name.
fn provision_account(tx: &Tx<'_>, account: &str) -> Result<Option<String>, StoreError> {
    if let Some(found) = accounts::get_account(tx, account)?.filter(|a| a.is_live()) {
        return Ok(Some(found.id));
    }
    let named: Vec<String> = accounts::list_accounts(tx)?
        .into_iter()
        .filter(|a| a.is_live() && a.name == account)
        .map(|a| a.id)
        .collect();
    Ok(match named.as_slice() {
        [one] => Some(one.clone()),
        _ => None,
    })
}

/// Creates a user with no usable password and their membership, with an activity row each.
fn provision_user(
    tx: &Tx<'_>,
    actor: &Actor,
    email: &str,
    account_id: &str,
    role: Role,
    now: Timestamp,
) -> Result<String, ServiceError> {
    let id = uuid::Uuid::new_v4().to_string();
    accounts::insert_user(
        tx,
        &NewUser {
            id: &id,
            email,
            password_hash: NO_PASSWORD,
            is_instance_admin: false,
            must_change_password: false,
            created_at: now,
        },
    )?;
    let created = Note::member(
        None,
        "created",
        &id,
        format!("Created user {email} at their first single sign-on"),
    );
    changes::record(tx, actor, Change::Note(created), now)?;
    accounts::insert_membership(tx, account_id, &id, role, now)?;
    let joined = Note::member(
        Some(account_id),
        "added",
        &id,
        format!("Added {email} as {role} at their first single sign-on"),
    );
    changes::record(tx, actor, Change::Note(joined), now)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provisioned_user_has_no_password_that_matches() {
        assert!(!super::super::password::verify_password("", NO_PASSWORD));
        assert!(!super::super::password::verify_password(
            NO_PASSWORD,
            NO_PASSWORD
        ));
    }
}
