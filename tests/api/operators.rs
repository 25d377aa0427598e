//! The instance administrator and the people of one account: the administrator reaches every
//! account and is recorded as such there; nobody else sees an account they are not in; a
//! password someone else chose is replaced at the first sign-in; everyone changes their own;
//! a store made before every account had a primary owner is repaired at start.

use crate::helpers::{TestApp, spawn_app, spawn_app_in};
use crate::people::{
    CHOSEN_PASSWORD, Person, browser, choose_password, csrf_in, page, person, post, sign_in,
};

/// The instance administrator, signed in with a password they chose.
pub async fn administrator(app: &TestApp) -> Person {
    let reset = app.cli_json(&["users", "set-password", "--email", "admin@localhost"]);
    let one_time = reset["password"].as_str().unwrap();
    let client = browser();
    assert_eq!(
        sign_in(app, &client, "admin@localhost", one_time)
            .await
            .status(),
        303
    );
    choose_password(app, &client, one_time).await;
    let shown = page(&client, app, "/keys").await;
    let user_id: String = app
        .db()
        .query_row(
            "SELECT id FROM users WHERE email = 'admin@localhost'",
            &[],
            |r| r.get(0),
        )
        .unwrap();
    Person {
        client,
        csrf: csrf_in(&shown),
        user_id,
    }
}

/// An account whose primary owner is `owner` (a new user), and its id.
fn account_of(app: &TestApp, name: &str, owner: &str) -> String {
    let created = app.cli_json(&["accounts", "create", "--name", name, "--owner", owner]);
    assert_eq!(created["primary_owner"]["email"], owner);
    assert!(
        created["primary_owner"]["password"].is_string(),
        "a new user"
    );
    created["id"].as_str().unwrap().to_owned()
}

fn activity_by(app: &TestApp, account: &str, action: &str) -> Vec<String> {
    let db = app.db();
    let mut stmt = db
        .prepare("SELECT actor FROM activity WHERE account_id = ?1 AND action = ?2 ORDER BY id")
        .unwrap();
    stmt.query_map(&[&account, &action], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

backend_tests!(the_administrator_opens_any_account_and_acts_there_as_the_administrator);
async fn the_administrator_opens_any_account_and_acts_there_as_the_administrator() {
    let app = spawn_app().await;
    let beta = account_of(&app, "Beta", "beta@example.com");
    app.cli_json(&[
        "keys",
        "create",
        "--account",
        &beta,
        "--name",
        "beta-ci",
        "--preset",
        "read_only",
    ]);
    let admin = administrator(&app).await;

    // Listed by name, with its primary owner, keys and credits, and offered in the switcher.
    let instance = page(&admin.client, &app, "/instance").await;
    assert!(instance.contains("Beta") && instance.contains("beta@example.com"));
    assert!(instance.contains("1 active"), "its key is counted");
    assert!(instance.contains("aria-label=\"Open Beta\""));
    let keys = page(&admin.client, &app, "/keys").await;
    assert!(keys.contains("Other accounts (as administrator)"));
    assert!(keys.contains("Beta · administrator"));

    // Opened, it shows its keys, with a banner saying in what capacity.
    assert_eq!(
        post(&app, &admin, "/workspace", &[("account_id", &beta)]).await,
        303
    );
    let keys = page(&admin.client, &app, "/keys").await;
    assert!(keys.contains("beta-ci"));
    assert!(keys.contains("as the instance administrator"));

    // With the primary owner's rights: settings and credits.
    assert_eq!(
        post(&app, &admin, "/settings/name", &[("value", "Beta Ltd")]).await,
        303
    );
    assert_eq!(
        post(&app, &admin, "/settings/credits", &[("value", "5")]).await,
        303
    );
    let name: String = app
        .db()
        .query_row("SELECT name FROM accounts WHERE id = ?1", &[&&beta], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(name, "Beta Ltd");
    assert_eq!(
        activity_by(&app, &beta, "renamed"),
        ["instance-admin:admin@localhost"]
    );
    assert_eq!(
        activity_by(&app, &beta, "added"),
        ["instance-admin:admin@localhost"]
    );
    // Where the administrator is a member, they act as themselves.
    assert_eq!(
        post(
            &app,
            &admin,
            "/workspace",
            &[("account_id", &app.account_id)]
        )
        .await,
        303
    );
    assert_eq!(
        post(&app, &admin, "/settings/name", &[("value", "Acme Inc")]).await,
        303
    );
    assert_eq!(
        activity_by(&app, &app.account_id, "renamed"),
        ["user:admin@localhost"]
    );
}

backend_tests!(an_owner_of_one_account_never_sees_another);
async fn an_owner_of_one_account_never_sees_another() {
    let app = spawn_app().await;
    let beta = account_of(&app, "Beta", "beta@example.com");
    let (beta_key_id, _) = {
        let key = app.cli_json(&[
            "keys",
            "create",
            "--account",
            &beta,
            "--name",
            "beta-only",
            "--preset",
            "read_only",
        ]);
        (key["id"].as_str().unwrap().to_owned(), ())
    };
    let owner = person(&app, "owner@example.com", "owner").await;

    let keys = page(&owner.client, &app, "/keys").await;
    assert!(!keys.contains("Beta") && !keys.contains("beta-only"));
    assert!(!keys.contains("href=\"/instance\""), "no Instance link");

    // Switching to it, opening its key or the Instance page: refused, as pages.
    let res = owner
        .client
        .post(format!("{}/workspace", app.address))
        .form(&[("csrf", owner.csrf.as_str()), ("account_id", beta.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("You are not a member of that workspace.")
    );
    for (path, status, says) in [
        (
            format!("/keys/{beta_key_id}"),
            404,
            "There is no API key with this id in this workspace.",
        ),
        (
            "/instance".to_owned(),
            403,
            "Only the instance administrator can open the Instance page.",
        ),
    ] {
        let res = owner
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), status, "{path}");
        let body = res.text().await.unwrap();
        assert!(body.contains(says), "{path}: {body}");
        assert!(!body.contains("beta-only"));
    }
    // The management API on the dashboard session answers for the owner's account only.
    let res = owner
        .client
        .get(format!("{}/api/v1/api-keys", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(!res.text().await.unwrap().contains("beta-only"));
    let session: Option<String> = app
        .db()
        .query_row(
            "SELECT s.account_id FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE u.email = 'owner@example.com'",
            &[],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(session.as_deref(), Some(app.account_id.as_str()));
}

fn must_change(app: &TestApp, email: &str) -> bool {
    app.db()
        .query_row(
            "SELECT must_change_password FROM users WHERE email = ?1",
            &[&email],
            |r| r.get::<i64>(0),
        )
        .unwrap()
        == 1
}

fn password_hash(app: &TestApp, email: &str) -> String {
    app.db()
        .query_row(
            "SELECT password_hash FROM users WHERE email = ?1",
            &[&email],
            |r| r.get(0),
        )
        .unwrap()
}

backend_tests!(a_password_someone_else_chose_is_replaced_before_anything_else);
async fn a_password_someone_else_chose_is_replaced_before_anything_else() {
    let app = spawn_app().await;
    let user = app.cli_json(&[
        "users",
        "create",
        "--email",
        "new@example.com",
        "--account",
        &app.account_id,
        "--role",
        "member",
    ]);
    let one_time = user["password"].as_str().unwrap();
    assert!(must_change(&app, "new@example.com"));
    let client = browser();
    assert_eq!(
        sign_in(&app, &client, "new@example.com", one_time)
            .await
            .status(),
        303
    );
    // Nothing opens but the password page (and signing out).
    for path in ["/keys", "/activity", "/settings", "/members"] {
        let res = client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(res.headers()["location"], "/password", "{path}");
    }
    let res = client
        .get(format!("{}/api/v1/api-keys", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "nor the management API");
    let shown = page(&client, &app, "/password").await;
    assert!(shown.contains("Choose your own password to continue."));
    assert!(
        !shown.contains("href=\"/keys\">API keys"),
        "no navigation yet"
    );
    let csrf = csrf_in(&shown);

    // Bad choices come back with the message next to the field, and change nothing.
    let before = password_hash(&app, "new@example.com");
    for (current, new, confirm, says) in [
        (
            "wrong",
            CHOSEN_PASSWORD,
            CHOSEN_PASSWORD,
            "This is not your current password.",
        ),
        (
            one_time,
            "short",
            "short",
            "The new password must be at least 12 characters.",
        ),
        (
            one_time,
            one_time,
            one_time,
            "The new password must differ from the current password.",
        ),
        (
            one_time,
            CHOSEN_PASSWORD,
            "something else",
            "This does not match the new password.",
        ),
    ] {
        let res = client
            .post(format!("{}/password", app.address))
            .form(&[
                ("csrf", csrf.as_str()),
                ("current_password", current),
                ("new_password", new),
                ("confirm_password", confirm),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "{says}");
        let body = res.text().await.unwrap();
        assert!(body.contains(says), "{says}: {body}");
        assert!(!body.contains(one_time), "a password is never sent back");
    }
    assert_eq!(password_hash(&app, "new@example.com"), before);
    assert!(must_change(&app, "new@example.com"));

    choose_password(&app, &client, one_time).await;
    assert!(!must_change(&app, "new@example.com"));
    page(&client, &app, "/keys").await;
    assert_eq!(
        activity_by_action(&app, "password_changed"),
        ["user:new@example.com"]
    );
}

fn activity_by_action(app: &TestApp, action: &str) -> Vec<String> {
    let db = app.db();
    let mut stmt = db
        .prepare("SELECT actor FROM activity WHERE action = ?1 ORDER BY id")
        .unwrap();
    stmt.query_map(&[&action], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

backend_tests!(changing_ones_password_ends_ones_other_sessions);
async fn changing_ones_password_ends_ones_other_sessions() {
    let app = spawn_app().await;
    let me = person(&app, "owner@example.com", "owner").await;
    // The same person signed in elsewhere.
    let elsewhere = browser();
    assert_eq!(
        sign_in(&app, &elsewhere, "owner@example.com", CHOSEN_PASSWORD)
            .await
            .status(),
        303
    );
    page(&elsewhere, &app, "/keys").await;
    let other = person(&app, "someone@example.com", "member").await;

    let new = "an even better password";
    let res = me
        .client
        .post(format!("{}/password", app.address))
        .form(&[
            ("csrf", me.csrf.as_str()),
            ("current_password", CHOSEN_PASSWORD),
            ("new_password", new),
            ("confirm_password", new),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/password?changed=1");
    let shown = page(&me.client, &app, "/password?changed=1").await;
    assert!(shown.contains("Your password was changed. Your other sessions were signed out."));

    // This session goes on; the other one of the same person has ended; others are untouched.
    page(&me.client, &app, "/keys").await;
    let res = elsewhere
        .get(format!("{}/keys", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login");
    page(&other.client, &app, "/keys").await;
    // The old password no longer opens anything; the new one does.
    let again = browser();
    assert_eq!(
        sign_in(&app, &again, "owner@example.com", CHOSEN_PASSWORD)
            .await
            .status(),
        401
    );
    assert_eq!(
        sign_in(&app, &again, "owner@example.com", new)
            .await
            .status(),
        303
    );
}

backend_tests!(a_store_made_before_primary_owners_is_repaired_at_start);
async fn a_store_made_before_primary_owners_is_repaired_at_start() {
    let app = spawn_app().await;
    let first = app.cli_json(&[
        "users",
        "create",
        "--email",
        "first@example.com",
        "--account",
        &app.account_id,
        "--role",
        "owner",
    ]);
    app.cli_json(&[
        "users",
        "create",
        "--email",
        "second@example.com",
        "--account",
        &app.account_id,
        "--role",
        "owner",
    ]);
    let lonely = app.cli_json(&["accounts", "create", "--name", "Lonely"]);
    let lonely = lonely["id"].as_str().unwrap().to_owned();
    // As an earlier version left it: no primary owners, and the old name of the default plan.
    let db = app.db();
    db.execute(
        "DELETE FROM memberships WHERE role = 'primary-owner' AND account_id IN (?1, ?2)",
        &[&app.account_id.as_str(), &lonely.as_str()],
    )
    .unwrap();
    db.execute(
        "UPDATE memberships SET created_at = created_at - 1000 WHERE user_id = ?1",
        &[&first["id"].as_str().unwrap()],
    )
    .unwrap();
    db.execute("UPDATE accounts SET plan = 'unlimited'", &[])
        .unwrap();
    drop(db);
    let data_dir = app.data_dir;

    let app = spawn_app_in(data_dir, &[]).await;
    let primary = |account: &str| primary_owner_of(&app, account);
    let acme: String = app
        .db()
        .query_row("SELECT id FROM accounts WHERE name = 'Acme'", &[], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(primary(&acme), "first@example.com", "its oldest owner");
    assert_eq!(
        primary(&lonely),
        "admin@localhost",
        "no owner: the administrator"
    );
    let descriptions: Vec<String> = {
        let db = app.db();
        let mut stmt = db
            .prepare("SELECT actor || ' ' || description FROM activity WHERE action = 'primary_owner_assigned' ORDER BY id")
            .unwrap();
        stmt.query_map(&[], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(descriptions.len(), 2, "{descriptions:?}");
    assert!(descriptions[0].starts_with("system Made first@example.com"));
    let plans = app.count(
        "SELECT count(*) FROM accounts WHERE plan = 'unthrottled'",
        &[],
    );
    assert_eq!(plans, app.count("SELECT count(*) FROM accounts", &[]));
    // The audit chain holds through the repair, and a second start changes nothing.
    assert_eq!(app.cli(&["audit", "verify"]).status, 0);
    let rows = app.count("SELECT count(*) FROM activity", &[]);
    let data_dir = app.data_dir;
    let app = spawn_app_in(data_dir, &[]).await;
    assert_eq!(app.count("SELECT count(*) FROM activity", &[]), rows);
}

fn primary_owner_of(app: &TestApp, account: &str) -> String {
    app.db()
        .query_row(
            "SELECT u.email FROM memberships m JOIN users u ON u.id = m.user_id
             WHERE m.account_id = ?1 AND m.role = 'primary-owner'",
            &[&account],
            |r| r.get(0),
        )
        .unwrap()
}

backend_tests!(accounts_create_names_a_new_or_existing_primary_owner);
async fn accounts_create_names_a_new_or_existing_primary_owner() {
    let app = spawn_app().await;
    // Someone new: a user with a one-time password to replace.
    let beta = account_of(&app, "Beta", "beta@example.com");
    assert_eq!(primary_owner_of(&app, &beta), "beta@example.com");
    assert!(must_change(&app, "beta@example.com"));
    let hash = password_hash(&app, "beta@example.com");

    // Someone who exists keeps their password and gets a second workspace.
    let gamma = app.cli_json(&[
        "accounts",
        "create",
        "--name",
        "Gamma",
        "--owner",
        "Beta@Example.com",
    ]);
    assert_eq!(gamma["primary_owner"]["email"], "beta@example.com");
    assert!(gamma["primary_owner"]["password"].is_null(), "{gamma}");
    let gamma = gamma["id"].as_str().unwrap();
    assert_eq!(primary_owner_of(&app, gamma), "beta@example.com");
    assert_eq!(password_hash(&app, "beta@example.com"), hash);
    let text = app.cli(&[
        "accounts",
        "create",
        "--name",
        "Delta",
        "--owner",
        "beta@example.com",
    ]);
    assert_eq!(text.status, 0, "{}", text.stderr);
    assert!(text.stdout.contains("Primary owner: beta@example.com"));
    assert!(!text.stdout.contains("password"), "{}", text.stdout);

    // Nobody named: the instance administrator.
    let epsilon = app.cli_json(&["accounts", "create", "--name", "Epsilon"]);
    assert_eq!(epsilon["primary_owner"]["email"], "admin@localhost");
    assert_eq!(
        primary_owner_of(&app, epsilon["id"].as_str().unwrap()),
        "admin@localhost"
    );

    // A bad address makes nothing.
    let accounts = app.count("SELECT count(*) FROM accounts", &[]);
    let users = app.count("SELECT count(*) FROM users", &[]);
    let out = app.cli(&[
        "accounts",
        "create",
        "--name",
        "Zeta",
        "--owner",
        "not an address",
    ]);
    assert_ne!(out.status, 0);
    assert!(out.stderr.contains("e-mail"), "{}", out.stderr);
    assert_eq!(app.count("SELECT count(*) FROM accounts", &[]), accounts);
    assert_eq!(app.count("SELECT count(*) FROM users", &[]), users);
}
