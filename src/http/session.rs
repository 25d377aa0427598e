//! The signed-in person behind a request, and what they may do. A handler's signature says who
//! may call it: `AdminSession` needs a session (without one the browser is sent to the sign-in
//! page), `OwnerSession` an owner of the current workspace, `PrimaryOwnerSession` its primary
//! owner. Anyone else is refused before the handler runs.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use subtle::ConstantTimeEq;

use crate::domain::account::Role;
use crate::http::page_error;
use crate::http::state::AppState;
use crate::service::sessions::{self, Session};
use crate::service::{Actor, ServiceError, cause_chain};

pub const SESSION_COOKIE: &str = "tidegate_session";

/// The pages a person whose password must be replaced may still open.
const WHILE_CHANGING_PASSWORD: [&str; 2] = ["/password", "/logout"];

/// The pages a person who must set up a second factor may still open.
const WHILE_ENROLLING: [&str; 3] = ["/security/two-factor", "/password", "/logout"];

/// Why a page cannot be shown. Each becomes a page in the layout saying what is wrong for the
/// person who sees it, with a way back (`page_error`); signing in and choosing a password are
/// redirects.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("sign-in required")]
    SignIn,
    #[error("choose a new password first")]
    ChangePassword,
    #[error("set up a second factor first")]
    SetUpSecondFactor,
    #[error(
        "This form has expired or did not come from this dashboard. Go back, reload the page and try again."
    )]
    Csrf,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Gone(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error(
        "You are not a member of any workspace yet. Ask an owner of one to invite you, or the instance administrator to add you."
    )]
    NoWorkspace,
    #[error("{0}")]
    BadForm(String),
    #[error("{0}")]
    Refused(String),
    #[error("The page could not be shown. The error was logged; try again, or tell your operator.")]
    Internal,
}

impl AdminError {
    /// Something the person asked for by id that this workspace does not have.
    pub fn not_found(what: &str) -> AdminError {
        AdminError::NotFound(match what {
            "page" | "action" | "setting" => "There is no such page.".to_owned(),
            "api key" => "There is no API key with this id in this workspace.".to_owned(),
            what => format!("There is no {what} with this id in this workspace."),
        })
    }
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::SignIn | AdminError::ChangePassword | AdminError::SetUpSecondFactor => {
                StatusCode::SEE_OTHER
            }
            AdminError::Csrf | AdminError::Forbidden(_) => StatusCode::FORBIDDEN,
            AdminError::Gone(_) => StatusCode::GONE,
            AdminError::NotFound(_) | AdminError::NoWorkspace => StatusCode::NOT_FOUND,
            AdminError::BadForm(_) => StatusCode::BAD_REQUEST,
            AdminError::Refused(_) => StatusCode::CONFLICT,
            AdminError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AdminError::SignIn => HttpResponse::SeeOther()
                .insert_header((LOCATION, "/login"))
                .finish(),
            AdminError::ChangePassword => HttpResponse::SeeOther()
                .insert_header((LOCATION, "/password"))
                .finish(),
            AdminError::SetUpSecondFactor => HttpResponse::SeeOther()
                .insert_header((LOCATION, "/security/two-factor"))
                .finish(),
            other => page_error::render(other.status_code(), &other.to_string()),
        }
    }
}

/// A use case's refusal becomes a page saying why; the system's own failure is logged once,
/// with its causes, and the page says only that it could not be shown.
impl From<ServiceError> for AdminError {
    fn from(e: ServiceError) -> AdminError {
        match e {
            ServiceError::NotFound(what) => AdminError::not_found(what),
            ServiceError::InvalidState(message) => AdminError::Refused(as_sentence(&message)),
            ServiceError::Forbidden(message) => AdminError::Forbidden(as_sentence(&message)),
            ServiceError::Invalid { field, message, .. } => {
                AdminError::BadForm(format!("{}: {message}.", field.replace('_', " ")))
            }
            ServiceError::Store(_) => {
                tracing::error!(error = %cause_chain(&e), "page failed");
                AdminError::Internal
            }
        }
    }
}

/// A service's message ("your role does not allow …") as a sentence.
pub fn as_sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut sentence: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !sentence.ends_with('.') {
        sentence.push('.');
    }
    sentence
}

pub struct AdminSession(pub Session);

impl AdminSession {
    /// The current workspace's id; a person in none is told how to get one.
    pub fn account_id(&self) -> Result<String, AdminError> {
        self.0.account_id.clone().ok_or(AdminError::NoWorkspace)
    }

    /// The signed-in person's role in the current workspace, if one is selected.
    pub fn role(&self) -> Option<Role> {
        self.0.role
    }

    /// Whether the signed-in person may manage the current workspace's keys, webhook endpoints
    /// and members (pages show their controls only then).
    pub fn can_manage(&self) -> bool {
        self.role().is_some_and(Role::is_owner)
    }

    /// The signed-in person as the activity log names them, with the keyed hash of their address.
    pub fn actor(&self, req: &HttpRequest, state: &AppState) -> Actor {
        let ip = crate::http::pipeline::Caller::new(req, state).client_ip;
        self.0.actor(Some(state.gate.ip_hasher.hash(ip)))
    }

    /// Every form post carries the session's CSRF token; compared in constant time.
    pub fn check_csrf(&self, sent: &str) -> Result<(), AdminError> {
        let expected = self.0.csrf_token.as_bytes();
        if expected.len() == sent.len() && bool::from(expected.ct_eq(sent.as_bytes())) {
            Ok(())
        } else {
            Err(AdminError::Csrf)
        }
    }
}

impl FromRequest for AdminSession {
    type Error = AdminError;
    type Future = Pin<Box<dyn Future<Output = Result<AdminSession, AdminError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let may_wait = WHILE_CHANGING_PASSWORD.contains(&req.path());
        let may_enrol = WHILE_ENROLLING.contains(&req.path());
        Box::pin(async move {
            let (Some(token), Some(state)) = (token, state) else {
                return Err(AdminError::SignIn);
            };
            let now = state.clock.now();
            let session = state
                .store
                .run(move |db| sessions::load(db, &token, now))
                .await?
                .ok_or(AdminError::SignIn)?;
            if session.must_change_password && !may_wait {
                return Err(AdminError::ChangePassword);
            }
            if session.must_enrol && !session.must_change_password && !may_enrol {
                return Err(AdminError::SetUpSecondFactor);
            }
            Ok(AdminSession(session))
        })
    }
}

/// Who a guard lets through: a rule on the role in the current workspace.
pub trait RoleRule {
    fn allows(role: Role) -> bool;
    /// What a person whose role does not allow it reads.
    const REFUSAL: &'static str;
}

/// The owners and the primary owner.
pub struct Owners;

impl RoleRule for Owners {
    fn allows(role: Role) -> bool {
        role.is_owner()
    }
    const REFUSAL: &'static str =
        "Only owners of this workspace can do this. Ask one of them, or the primary owner.";
}

/// The primary owner alone.
pub struct PrimaryOwner;

impl RoleRule for PrimaryOwner {
    fn allows(role: Role) -> bool {
        role.is_primary()
    }
    const REFUSAL: &'static str = "Only the primary owner of this workspace can do this. Ask them, or the instance administrator.";
}

/// A signed-in person whose role in the current workspace `R` allows, with that workspace's
/// id; anyone else is refused with 403 before the handler runs.
pub struct Guarded<R> {
    pub session: AdminSession,
    pub account_id: String,
    rule: PhantomData<R>,
}

/// An owner (or the primary owner) of the current workspace.
pub type OwnerSession = Guarded<Owners>;

/// The primary owner of the current workspace.
pub type PrimaryOwnerSession = Guarded<PrimaryOwner>;

impl<R: RoleRule + 'static> FromRequest for Guarded<R> {
    type Error = AdminError;
    type Future = Pin<Box<dyn Future<Output = Result<Guarded<R>, AdminError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let session = AdminSession::from_request(req, payload);
        Box::pin(async move {
            let session = session.await?;
            let account_id = match (&session.0.account_id, session.role()) {
                (Some(account), Some(role)) if R::allows(role) => account.clone(),
                (None, _) => return Err(AdminError::NoWorkspace),
                _ => return Err(AdminError::Forbidden(R::REFUSAL.to_owned())),
            };
            Ok(Guarded {
                session,
                account_id,
                rule: PhantomData,
            })
        })
    }
}
