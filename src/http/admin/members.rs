//! The members page (docs/admin.md, "Members"): members and roles, invite, change role, remove and
//! transfer primary ownership, under the rules of docs/keys.md, "Roles" (checked in the service).

use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::form::SentBack;
use crate::domain::account::Role;
use crate::http::assets::{ASSETS, Assets};
use crate::http::session::{AdminError, AdminSession, OwnerSession};
use crate::http::state::AppState;
use crate::service::ServiceError;
use crate::service::members::{self, Acting, Member};
use crate::service::sessions::Session;

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage<'a> {
    assets: &'a Assets,
    session: &'a Session,
    members: Vec<Member>,
    /// The signed-in person's role here.
    role: Option<Role>,
    invited: Option<(&'a str, &'a str)>,
    sent: SentBack,
}

impl MembersPage<'_> {
    fn manages(&self, target: &Role) -> bool {
        self.role.is_some_and(|r| r.manages(*target))
    }

    fn is_primary(&self) -> bool {
        self.role.is_some_and(Role::is_primary)
    }

    fn is_owner(&self) -> bool {
        self.role.is_some_and(Role::is_owner)
    }
}

fn render(
    session: &Session,
    members: Vec<Member>,
    invited: Option<(&str, &str)>,
    sent: SentBack,
) -> Result<HttpResponse, AdminError> {
    let page = MembersPage {
        assets: &ASSETS,
        session,
        members,
        role: session.role,
        invited,
        sent,
    };
    super::render_page_with(page.sent.status(), &page)
}

async fn load(state: &AppState, account: String) -> Result<Vec<Member>, AdminError> {
    state
        .store
        .run(move |c| members::list_members(c, &account))
        .await
        .map_err(AdminError::from)
}

pub async fn page(
    session: AdminSession,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let account = session.account_id()?;
    let members = load(&state, account).await?;
    render(&session.0, members, None, SentBack::none())
}

#[derive(Deserialize)]
pub struct MemberForm {
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    role: String,
}

pub async fn act(
    req: HttpRequest,
    owner: OwnerSession,
    path: web::Path<(String, String)>,
    form: web::Form<MemberForm>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AdminError> {
    let (session, account) = (owner.session, owner.account_id);
    session.check_csrf(&form.csrf)?;
    let (target, action) = path.into_inner();
    let actor = session.actor(&req, &state);
    let role = session.role().unwrap_or(Role::Member);
    let (user_id, now) = (session.0.user_id.clone(), state.clock.now());
    let MemberForm {
        email,
        role: new_role,
        ..
    } = form.into_inner();
    let typed = vec![("email", email.clone()), ("role", new_role.clone())];
    let form_name = if action == "invite" {
        "invite"
    } else {
        "members"
    };
    let result = state
        .store
        .run(move |c| {
            let acting = Acting {
                actor: &actor,
                user_id: &user_id,
                role,
            };
            Ok::<_, ServiceError>(match action.as_str() {
                "invite" => members::invite(c, &acting, &account, &email, &new_role, now),
                "role" => members::change_role(c, &acting, &account, &target, &new_role, now)
                    .map(|()| None),
                "remove" => members::remove(c, &acting, &account, &target, now).map(|()| None),
                "transfer" => members::transfer(c, &acting, &account, &target, now).map(|()| None),
                _ => Err(ServiceError::NotFound("action")),
            })
        })
        .await?;
    let account = session.account_id()?;
    match result {
        // A new user's one-time password is shown once, on this response only.
        Ok(Some(password)) => {
            let members = load(&state, account).await?;
            let invited = typed[0].1.trim().to_lowercase();
            render(
                &session.0,
                members,
                Some((&invited, &password)),
                SentBack::none(),
            )
        }
        Ok(None) => Ok(HttpResponse::SeeOther()
            .insert_header((LOCATION, "/members"))
            .finish()),
        Err(e) => {
            let sent = SentBack::refused(form_name, typed, e)?;
            let members = load(&state, account).await?;
            render(&session.0, members, None, sent)
        }
    }
}
