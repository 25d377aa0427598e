//! Who hears of notices by e-mail (docs/notifications.md, "Who is e-mailed"): owners choose the
//! notices and the members, each member mutes their own, bad input is refused beside its field
//! with nothing stored; and the notices routed through the one place (grace ending, endpoint
//! disabled, low balance) reach webhooks and the outbox. The mail server here refuses
//! connections, so each message stays in the outbox with its recipients for the test to read.

use serde_json::{Value, json};
use tidegate::testing::Job;

use crate::helpers::{TestApp, eventually};
use crate::notifications::{assert_documented, quiet_app};
use crate::people::{page, person};
use crate::receiver::{self, Answer};
use crate::webhooks::{add_endpoint, wait_for_event};

const DAY_MS: i64 = 86_400_000;

const NOTICES: [&str; 9] = [
    "apikey.expiring",
    "apikey.expired",
    "apikey.grace_ending",
    "apikey.leaked",
    "apikey.budget_reached",
    "apikey.unused",
    "ratelimit.exceeded",
    "webhook.disabled",
    "credits.low_balance",
];

/// A server whose notices are e-mailed through a server that is not there.
async fn mailing_app() -> TestApp {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    quiet_app(&[
        ("smtp.host", json!("127.0.0.1")),
        ("smtp.port", json!(closed)),
        ("smtp.security", json!("none")),
        ("smtp.from", json!("tidegate@example.com")),
    ])
    .await
}

/// The subject and recipients of each message in the outbox, oldest first.
fn outbox(app: &TestApp) -> Vec<(String, String)> {
    app.db()
        .query_map(
            "SELECT subject, recipients FROM email_outbox ORDER BY created_at, id",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn stored(app: &TestApp, table: &str) -> i64 {
    app.count(&format!("SELECT count(*) FROM {table}"), &[])
}

fn form<'a>(name: &'a str, values: &[&'a str]) -> Vec<(&'a str, &'a str)> {
    values.iter().map(|v| (name, *v)).collect()
}

/// Posts a notifications form as `who`; the status and the page sent back, if any.
async fn save(
    app: &TestApp,
    who: &crate::people::Person,
    which: &str,
    values: Vec<(&str, &str)>,
) -> (u16, String) {
    let mut body = vec![("csrf", who.csrf.as_str())];
    body.extend(values);
    let res = who
        .client
        .post(format!("{}/notifications/{which}", app.address))
        .form(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

backend_tests!(multi_thread: owners_choose_notices_and_members_and_each_member_mutes_their_own);
async fn owners_choose_notices_and_members_and_each_member_mutes_their_own() {
    let app = mailing_app().await;
    let carol = person(&app, "carol@example.com", "owner").await;
    let dave = person(&app, "dave@example.com", "member").await;

    // By default the owners are e-mailed every notice; members are not.
    app.create_key(&["--expires-in-days", "3"]);
    Job::WarnExpiringKeys.run(&app.jobs).await.unwrap();
    let first = outbox(&app);
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0].1.contains("carol@example.com"), "{first:?}");
    assert!(!first[0].1.contains("dave@example.com"), "{first:?}");

    let shown = page(&carol.client, &app, "/notifications").await;
    for notice in NOTICES {
        assert!(
            shown.contains(&format!("name=\"email\" value=\"{notice}\" checked")),
            "{notice}"
        );
    }
    // A member sees the page and changes only their own choice.
    let theirs = page(&dave.client, &app, "/notifications").await;
    assert!(theirs.contains("Owners choose who is e-mailed"));
    assert_eq!(save(&app, &dave, "email", form("email", &[])).await.0, 403);
    let dave_id = dave.user_id.clone();
    assert_eq!(
        save(&app, &dave, "recipients", form("recipients", &[&dave_id]))
            .await
            .0,
        403
    );
    assert_eq!(stored(&app, "notification_events"), 0);
    assert_eq!(stored(&app, "notification_recipients"), 0);

    // An unknown notice or member is refused beside its field, with nothing stored.
    let (status, body) = save(
        &app,
        &carol,
        "email",
        form("email", &["apikey.expired", "apikey.bogus"]),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("id=\"email-error\""), "{body}");
    assert!(body.contains("Unknown notice"), "{body}");
    assert!(
        body.contains("name=\"email\" value=\"apikey.expired\" checked"),
        "the input is kept"
    );
    assert!(!body.contains("name=\"email\" value=\"apikey.expiring\" checked"));
    let (status, body) = save(
        &app,
        &carol,
        "recipients",
        form("recipients", &["not-a-member"]),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("id=\"recipients-error\""), "{body}");
    let (status, body) = save(&app, &dave, "receive", form("receive", &["nope"])).await;
    assert_eq!(status, 400);
    assert!(body.contains("id=\"receive-error\""), "{body}");
    assert_eq!(stored(&app, "notification_events"), 0);
    assert_eq!(stored(&app, "notification_recipients"), 0);
    assert_eq!(stored(&app, "notification_mutes"), 0);

    // Carol e-mails everything but the expiry warnings, to herself and Dave; Dave mutes
    // expired keys for himself.
    let but_expiring: Vec<&str> = NOTICES[1..].to_vec();
    assert_eq!(
        save(&app, &carol, "email", form("email", &but_expiring))
            .await
            .0,
        303
    );
    let chosen = [carol.user_id.as_str(), dave_id.as_str()];
    assert_eq!(
        save(&app, &carol, "recipients", form("recipients", &chosen))
            .await
            .0,
        303
    );
    let wanted: Vec<&str> = NOTICES
        .iter()
        .copied()
        .filter(|n| *n != "apikey.expired")
        .collect();
    assert_eq!(
        save(&app, &dave, "receive", form("receive", &wanted))
            .await
            .0,
        303
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM activity WHERE action = 'notifications_changed'",
            &[]
        ),
        2
    );

    let shown = page(&dave.client, &app, "/notifications").await;
    assert!(!shown.contains("name=\"receive\" value=\"apikey.expired\" checked"));
    assert!(shown.contains("name=\"receive\" value=\"apikey.grace_ending\" checked"));

    // A second key's expiry warning is e-mailed to nobody; both expiries to Carol alone (the
    // sessions have lapsed by then; the choices stay).
    app.create_key(&["--expires-in-days", "2"]);
    Job::WarnExpiringKeys.run(&app.jobs).await.unwrap();
    assert_eq!(outbox(&app).len(), 1, "expiry warnings are not e-mailed");
    app.clock.advance(4 * DAY_MS);
    Job::ExpireRotatedKeys.run(&app.jobs).await.unwrap();
    let mails = outbox(&app);
    let expired: Vec<_> = mails[1..]
        .iter()
        .filter(|m| m.0.contains("expired"))
        .collect();
    assert_eq!(expired.len(), 2, "{mails:?}");
    for (_, to) in &expired {
        assert_eq!(
            to, "carol@example.com",
            "Dave muted it; the admin is not chosen"
        );
    }
}

backend_tests!(multi_thread: a_rotated_key_still_in_use_is_announced_once_before_its_grace_ends);
async fn a_rotated_key_still_in_use_is_announced_once_before_its_grace_ends() {
    let app = mailing_app().await;
    let receiver = receiver::start();
    add_endpoint(&app, &receiver, "apikey.grace_ending");
    let (old_id, old_key) = app.create_key(&[]);
    let rotated = app.cli_json(&["keys", "rotate", &old_id, "--grace-hours", "48"]);
    let new_id = rotated["id"].as_str().unwrap().to_owned();

    // Not used since the rotation: nothing to say, even within the last day.
    app.clock.advance(30 * 3_600_000);
    Job::NotifyKeys.run(&app.jobs).await.unwrap();
    assert_eq!(receiver.of("apikey.grace_ending").len(), 0);

    // Used after the rotation: one notice, however often the job runs.
    let (status, _) = app.get_json("/v1/status", &old_key).await;
    assert_eq!(status, 200);
    eventually("the use recorded", || {
        app.count(
            "SELECT count(*) FROM api_keys WHERE id = ?1 AND last_used_at > rotated_at",
            &[&old_id.as_str()],
        ) == 1
    })
    .await;
    Job::NotifyKeys.run(&app.jobs).await.unwrap();
    Job::NotifyKeys.run(&app.jobs).await.unwrap();
    let got = wait_for_event(&receiver, "apikey.grace_ending", 1).await;
    assert_documented(&got[0]);
    let data = &got[0]["webhook_data"];
    assert_eq!(data["apikey_id"], old_id.as_str());
    assert_eq!(data["replaced_by"], new_id.as_str());
    assert_eq!(
        app.count(
            "SELECT count(*) FROM webhook_events WHERE event = 'apikey.grace_ending'",
            &[]
        ),
        1
    );
    let mails = outbox(&app);
    assert!(
        mails
            .iter()
            .any(|(subject, _)| subject.contains("stops working within a day")),
        "{mails:?}"
    );
    assert!(!mails.iter().any(|(s, _)| s.contains(&old_key)));
}

backend_tests!(multi_thread: a_disabled_endpoint_and_a_low_balance_are_notices_with_their_e_mail);
async fn a_disabled_endpoint_and_a_low_balance_are_notices_with_their_e_mail() {
    let app = mailing_app().await;
    let gone = receiver::start();
    gone.answer(Answer::Gone);
    add_endpoint(&app, &gone, "apikey.created");
    let watcher = receiver::start();
    add_endpoint(&app, &watcher, "webhook.disabled,credits.low_balance");

    app.create_key(&[]);
    let disabled = wait_for_event(&watcher, "webhook.disabled", 1).await;
    assert_documented(&disabled[0]);
    let data: &Value = &disabled[0]["webhook_data"];
    assert_eq!(data["reason"], "gone");
    assert_eq!(data["endpoint_url"], gone.url.as_str());
    eventually("its e-mail", || {
        outbox(&app)
            .iter()
            .any(|(s, _)| s.starts_with("Webhook endpoint") && s.ends_with("was disabled"))
    })
    .await;
    assert_eq!(
        app.count(
            "SELECT count(*) FROM notices_sent WHERE kind = 'webhook.disabled'",
            &[]
        ),
        1
    );

    // The default 0.500 alert, crossed by a generation's 0.010.
    app.add_credits("0.505");
    let (_, key) = app.create_key(&[]);
    app.generate(
        "image",
        "tidegate/pattern-1",
        &key,
        json!({"generation_prompt": "a lighthouse"}),
    )
    .await;
    let low = wait_for_event(&watcher, "credits.low_balance", 1).await;
    assert_documented(&low[0]);
    assert!(
        outbox(&app)
            .iter()
            .any(|(s, _)| s.starts_with("The credit balance is down to")),
        "{:?}",
        outbox(&app)
    );
}
