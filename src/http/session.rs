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
use crate::http::state::AppState;
use crate::service::sessions::{self, Session};
use crate::service::{Actor, ServiceError, cause_chain};

pub const SESSION_COOKIE: &str = "tidegate_session";

/// The pages a person whose password must be replaced may still open.
const WHILE_CHANGING_PASSWORD: [&str; 2] = ["/password", "/logout"];

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("sign-in required")]
    SignIn,
    #[error("choose a new password first")]
    ChangePassword,
    #[error("the form has expired; reload the page and try again")]
    Csrf,
    #[error("only owners of this workspace can do this")]
    Forbidden,
    #[error("this key has already been shown; it is never shown again")]
    Gone,
    #[error("not found in this workspace")]
    NotFound,
    #[error("{0}")]
    Refused(String),
    #[error("the page could not be shown")]
    Internal,
}

impl ResponseError for AdminError {
    fn status_code(&self) -> StatusCode {
        match self {
            AdminError::SignIn | AdminError::ChangePassword => StatusCode::SEE_OTHER,
            AdminError::Csrf | AdminError::Forbidden => StatusCode::FORBIDDEN,
            AdminError::Gone => StatusCode::GONE,
            AdminError::NotFound => StatusCode::NOT_FOUND,
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
            other => HttpResponse::build(other.status_code())
                .content_type("text/plain; charset=utf-8")
                .body(format!("{other}\n")),
        }
    }
}

/// A use case's refusal becomes a page saying why; the system's own failure is logged once,
/// with its causes, and the page says only that it could not be shown.
impl From<ServiceError> for AdminError {
    fn from(e: ServiceError) -> AdminError {
        match e {
            ServiceError::NotFound(_) => AdminError::NotFound,
            ServiceError::InvalidState(message) => AdminError::Refused(message),
            ServiceError::Forbidden(_) => AdminError::Forbidden,
            ServiceError::Invalid { field, message, .. } => {
                AdminError::Refused(format!("{field}: {message}"))
            }
            ServiceError::Store(_) => {
                tracing::error!(error = %cause_chain(&e), "page failed");
                AdminError::Internal
            }
        }
    }
}

pub struct AdminSession(pub Session);

impl AdminSession {
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
        Actor::User {
            email: self.0.email.clone(),
            ip_hash: Some(state.gate.ip_hasher.hash(ip)),
        }
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
            Ok(AdminSession(session))
        })
    }
}

/// Who a guard lets through: a rule on the role in the current workspace.
pub trait RoleRule {
    fn allows(role: Role) -> bool;
}

/// The owners and the primary owner.
pub struct Owners;

impl RoleRule for Owners {
    fn allows(role: Role) -> bool {
        role.is_owner()
    }
}

/// The primary owner alone.
pub struct PrimaryOwner;

impl RoleRule for PrimaryOwner {
    fn allows(role: Role) -> bool {
        role.is_primary()
    }
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
                _ => return Err(AdminError::Forbidden),
            };
            Ok(Guarded {
                session,
                account_id,
                rule: PhantomData,
            })
        })
    }
}
