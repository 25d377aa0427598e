//! Every form sent back with bad input: the page again, in the layout, with the message next to
//! the field it is about, what was typed still in the form, and nothing changed in the store.

use crate::helpers::TestApp;
use crate::operators::administrator;
use crate::people::{Person, person};

/// Posts `fields` (with the person's CSRF token) and returns the status and the page.
async fn send(app: &TestApp, who: &Person, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let mut form = vec![("csrf", who.csrf.as_str())];
    form.extend_from_slice(fields);
    let res = who
        .client
        .post(format!("{}{path}", app.address))
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/html"), "{path}: {kind}");
    (status, res.text().await.unwrap())
}

/// The page sent back: 400, in the layout, `error_id` next to its field saying `says`, and every
/// `kept` value still in the form.
fn sent_back(
    path: &str,
    (status, page): &(u16, String),
    error_id: &str,
    says: &str,
    kept: &[&str],
) {
    assert_eq!(*status, 400, "{path}: {page}");
    assert!(page.contains("<nav"), "{path}: the page is in the layout");
    let at = page
        .find(&format!("id=\"{error_id}\""))
        .unwrap_or_else(|| panic!("{path}: no #{error_id} in {page}"));
    let message = &page[at..page[at..].find("</p>").map_or(page.len(), |end| at + end)];
    assert!(
        message.contains(says),
        "{path}: {message:?} should say {says:?}"
    );
    assert!(
        page.contains(&format!("aria-describedby=\"{error_id}\""))
            || page.contains(&format!(" {error_id}\"")),
        "{path}: the field points at its message"
    );
    for value in kept {
        assert!(
            page.contains(&format!("value=\"{value}\"")) || page.contains(&format!(">{value}<")),
            "{path}: {value:?} is kept"
        );
    }
}

/// Everything a form could change, to compare before and after.
fn state(app: &TestApp) -> Vec<i64> {
    [
        "SELECT count(*) FROM accounts",
        "SELECT count(*) FROM users",
        "SELECT count(*) FROM memberships",
        "SELECT count(*) FROM api_keys",
        "SELECT count(*) FROM webhook_endpoints",
        "SELECT count(*) FROM credit_ledger",
        "SELECT count(*) FROM low_balance_thresholds",
        "SELECT count(*) FROM activity",
        "SELECT count(*) FROM accounts WHERE name = 'Acme' AND plan = 'unthrottled'",
    ]
    .iter()
    .map(|sql| app.count(sql, &[]))
    .collect()
}

/// A form, what is sent, the id of the message expected, a part of it, and what must be kept.
type Case<'a> = (
    &'a Person,
    &'a str,
    Vec<(&'a str, &'a str)>,
    &'a str,
    &'a str,
    Vec<&'a str>,
);

backend_tests!(every_form_sends_bad_input_back_next_to_its_field_and_changes_nothing);
async fn every_form_sends_bad_input_back_next_to_its_field_and_changes_nothing() {
    let app = crate::helpers::spawn_app().await;
    let owner = person(&app, "owner@example.com", "primary-owner").await;
    let admin = administrator(&app).await;
    let before = state(&app);

    let long_name = "n".repeat(101);
    let cases: Vec<Case> = vec![
        (
            &owner,
            "/settings/name",
            vec![("value", &long_name)],
            "name-error",
            "100",
            vec![&long_name],
        ),
        (
            &owner,
            "/settings/plan",
            vec![("value", "gold")],
            "plan-error",
            "gold",
            vec![],
        ),
        (
            &owner,
            "/settings/credits",
            vec![("value", "-5"), ("reference", "invoice 7")],
            "amount-error",
            "",
            vec!["-5", "invoice 7"],
        ),
        (
            &owner,
            "/settings/threshold-add",
            vec![("value", "lots")],
            "threshold-error",
            "",
            vec!["lots"],
        ),
        (
            &owner,
            "/members/new/invite",
            vec![("email", "not an address"), ("role", "member")],
            "email-error",
            "e-mail",
            vec!["not an address"],
        ),
        (
            &owner,
            "/webhooks",
            vec![
                ("url", "ftp://example.com/hook"),
                ("description", "billing receiver"),
                ("events", "generation.completed"),
            ],
            "url-error",
            "http",
            vec!["ftp://example.com/hook", "billing receiver"],
        ),
        (
            &owner,
            "/keys/new",
            vec![
                ("name", "deploy bot"),
                ("mode", "full_access"),
                ("ips", "10.0.0.0/99"),
            ],
            "ips-error",
            "10.0.0.0/99",
            vec!["deploy bot", "10.0.0.0/99"],
        ),
        (
            &owner,
            "/keys/new",
            vec![
                ("name", "deploy bot"),
                ("mode", "full_access"),
                ("rate_limit", "fast"),
            ],
            "rate_limit-error",
            "",
            vec!["deploy bot", "fast"],
        ),
        (
            &owner,
            "/keys/new",
            vec![
                ("name", "deploy bot"),
                ("mode", "full_access"),
                ("budget_credits", "-3"),
                ("budget_period", "week"),
            ],
            "budget-error",
            "credits",
            vec!["deploy bot", "-3"],
        ),
        (
            &owner,
            "/keys/new",
            vec![
                ("name", "metered bot"),
                ("mode", "full_access"),
                ("quota_requests", "-5"),
                ("quota_refill", "daily"),
            ],
            "quota-error",
            "whole number",
            vec!["metered bot", "-5"],
        ),
        (
            &admin,
            "/instance/accounts",
            vec![("name", "Beta"), ("owner_email", "beta at example")],
            "account-owner-error",
            "e-mail",
            vec!["Beta", "beta at example"],
        ),
        (
            &admin,
            "/instance/accounts",
            vec![("name", ""), ("owner_email", "beta@example.com")],
            "account-name-error",
            "",
            vec!["beta@example.com"],
        ),
    ];
    for (who, path, fields, error_id, says, kept) in &cases {
        let answer = send(&app, who, path, fields).await;
        sent_back(path, &answer, error_id, says, kept);
    }
    // Someone's own password: the current one is checked, nothing else is.
    let answer = send(
        &app,
        &owner,
        "/password",
        &[
            ("current_password", "not my password"),
            ("new_password", "another long password"),
            ("confirm_password", "another long password"),
        ],
    )
    .await;
    sent_back("/password", &answer, "current_password-error", "", &[]);

    assert_eq!(state(&app), before, "no form changed anything");
}
