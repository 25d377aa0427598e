//! The instance's key policy (docs/keys.md, "Key policy"): the default of every account without
//! its own, and the ceiling an account's own policy may not be looser than.

use serde_json::{Value, json};

use crate::helpers::{assert_error, spawn_app};
use crate::operators::administrator;
use crate::people::{page, person};

backend_tests!(the_instance_policy_is_the_default_and_the_ceiling_of_every_account);
async fn the_instance_policy_is_the_default_and_the_ceiling_of_every_account() {
    let app = spawn_app().await;
    let admin = administrator(&app).await;
    let owner = person(&app, "owner@example.com", "owner").await;
    let manager = app.manager_key();
    let url = format!("{}/instance/key-policy", app.address);
    let rows = || app.count("SELECT count(*) FROM instance_key_policy", &[]);

    // Bad input comes back beside its field, nothing stored; only the administrator sends it.
    let res = admin
        .client
        .post(&url)
        .form(&[("csrf", admin.csrf.as_str()), ("max_lifetime_days", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body = res.text().await.unwrap();
    assert!(body.contains("id=\"max_lifetime_days-error\""), "{body}");
    assert!(body.contains("value=\"0\""), "the input is kept");
    let res = owner
        .client
        .post(&url)
        .form(&[("csrf", owner.csrf.as_str()), ("max_lifetime_days", "60")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(rows(), 0, "nothing stored");

    let res = admin
        .client
        .post(&url)
        .form(&[
            ("csrf", admin.csrf.as_str()),
            ("default_expiry_days", "14"),
            ("max_lifetime_days", "60"),
            ("require_expiry", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(rows(), 1);
    assert!(
        page(&admin.client, &app, "/instance")
            .await
            .contains("value=\"60\"")
    );

    // An account without its own policy is under the instance's.
    let (_, body) = app.api("GET", "/policy", &manager, None).await;
    assert_eq!(body["data"]["max_lifetime_days"], 60);
    assert_eq!(body["data"]["default_expiry_days"], 14);
    let (status, body) = app
        .api(
            "POST",
            "/api-keys",
            &manager,
            Some(json!({ "name": "n", "preset": "read_only" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"]["expires_at"].is_string(),
        "the instance's default expiry applies"
    );
    let (status, body) = app
        .api(
            "POST",
            "/api-keys",
            &manager,
            Some(json!({ "name": "n", "preset": "read_only", "expires_in_days": 61 })),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // An account's own policy may be stricter, never looser.
    for (policy, field) in [
        (
            json!({ "max_lifetime_days": 90, "require_expiry": true }),
            "max_lifetime_days",
        ),
        (json!({ "require_expiry": true }), "max_lifetime_days"),
        (json!({ "max_lifetime_days": 30 }), "require_expiry"),
    ] {
        let (status, body) = app.api("PUT", "/policy", &manager, Some(policy)).await;
        assert_eq!(status, 400, "{body}");
        let error = assert_error(&body, "BSE2001");
        assert_eq!(error["details"]["field"], field, "{body}");
        assert!(
            error["message"].as_str().unwrap().contains("instance"),
            "{body}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM key_policies", &[]), 0);
    let stricter = json!({ "max_lifetime_days": 30, "require_expiry": true });
    let (status, body) = app.api("PUT", "/policy", &manager, Some(stricter)).await;
    assert_eq!(status, 200, "{body}");
    let (_, body): (u16, Value) = app.api("GET", "/policy", &manager, None).await;
    assert_eq!(body["data"]["max_lifetime_days"], 30);
    assert_eq!(
        body["data"]["default_expiry_days"], 14,
        "the instance's default still applies"
    );
}
