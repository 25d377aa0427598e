//! What a generate request may not do: name another account's generation, send a bad field,
//! or reuse an idempotency key while its first request is still being accepted.

use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::{SendChecked, assert_error, spawn_app_with};

backend_tests!(another_accounts_generation_is_not_found);
async fn another_accounts_generation_is_not_found() {
    let app = spawn_app_with(&[]).await;
    app.add_credits("1");
    let (_, key) = app.create_key(&[]);
    let id = app
        .generate(
            "image",
            "tidegate/gradient-1",
            &key,
            json!({"generation_prompt": "mine"}),
        )
        .await;
    let other = app.cli_json(&["accounts", "create", "--name", "Other"]);
    let stranger = app.cli_json(&[
        "keys",
        "create",
        "--account",
        other["id"].as_str().unwrap(),
        "--name",
        "s",
        "--preset",
        "full_access",
    ]);
    let stranger = stranger["key"].as_str().unwrap();
    for (method, path) in [
        ("GET", format!("/v1/content/{id}")),
        ("DELETE", format!("/v1/content/{id}")),
        ("POST", format!("/v1/content/generation/cancel/{id}")),
    ] {
        let (status, body) = app.send_json(method, &path, stranger).await;
        assert_eq!(status, 404, "{method} {path}");
        assert_error(&body, "BSE2012");
    }
    let (_, body) = app.get_json("/v1/content/list", stranger).await;
    assert_eq!(body["total"], 0);
    assert_eq!(app.generations(), 1);
}

backend_tests!(every_bad_field_is_named_and_nothing_is_created);
async fn every_bad_field_is_named_and_nothing_is_created() {
    let app = spawn_app_with(&[]).await;
    app.add_credits("1");
    let (_, key) = app.create_key(&[]);
    let image = "/v1/generate/image/tidegate/pattern-1";
    let video = "/v1/generate/video/tidegate/motion-1";
    let cases: Vec<(&str, Value, &str)> = vec![
        (image, json!({}), "generation_prompt"),
        (image, json!({"generation_prompt": ""}), "generation_prompt"),
        (
            image,
            json!({"generation_prompt": "x".repeat(4001)}),
            "generation_prompt",
        ),
        (image, json!({"generation_prompt": 5}), "generation_prompt"),
        (
            image,
            json!({"generation_prompt": "x", "generation_ratio": "5:1"}),
            "generation_ratio",
        ),
        (
            image,
            json!({"generation_prompt": "x", "generation_output_format": "bmp"}),
            "generation_output_format",
        ),
        (
            image,
            json!({"generation_prompt": "x", "generation_output_number": 5}),
            "generation_output_number",
        ),
        (
            image,
            json!({"generation_prompt": "x", "generation_output_number": 0}),
            "generation_output_number",
        ),
        (
            image,
            json!({"generation_prompt": "x", "generation_input_file": ["https://a.example/x.png"]}),
            "generation_input_file",
        ),
        (
            image,
            json!({"generation_prompt": "x", "generation_provider_order": "local, nowhere"}),
            "generation_provider_order",
        ),
        (
            image,
            json!({"generation_prompt": "x", "generation_duration": 2}),
            "generation_duration",
        ),
        (
            image,
            json!({"generation_prompt": "x", "palette": "neon"}),
            "palette",
        ),
        (
            image,
            json!({"generation_prompt": "x", "seed": "seven"}),
            "seed",
        ),
        (
            image,
            json!({"generation_prompt": "x", "unknown_field": true}),
            "unknown_field",
        ),
        (
            video,
            json!({"generation_prompt": "x"}),
            "generation_duration",
        ),
        (
            video,
            json!({"generation_prompt": "x", "generation_duration": 3}),
            "generation_duration",
        ),
        (
            video,
            json!({"generation_prompt": "x", "generation_duration": 2, "generation_resolution": "4k"}),
            "generation_resolution",
        ),
        (
            video,
            json!({"generation_prompt": "x", "generation_duration": 2, "generation_generate_audio": true}),
            "generation_generate_audio",
        ),
        (
            video,
            json!({"generation_prompt": "x", "generation_duration": 2, "generation_output_format": "png"}),
            "generation_output_format",
        ),
        (
            "/v1/generate/video/tidegate/pattern-1",
            json!({"generation_prompt": "x"}),
            "model_identifier",
        ),
        (
            "/v1/generate/image/tidegate/motion-1",
            json!({"generation_prompt": "x"}),
            "model_identifier",
        ),
    ];
    for (path, body, field) in cases {
        let (status, _, res) = app.post_json(path, &key, &body, None).await;
        assert_eq!(status, 400, "{path} {body}: {res}");
        assert_eq!(
            assert_error(&res, "BSE2001")["details"]["field"],
            field,
            "{body}"
        );
    }
    let (status, _, res) = app
        .post_json(
            image,
            &key,
            &json!({"generation_prompt": "x"}),
            Some("not valid!"),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        assert_error(&res, "BSE2001")["details"]["field"],
        "Idempotency-Key"
    );
    let (status, _, res) = app
        .post_json(
            "/v1/generate/image/acme/none",
            &key,
            &json!({"generation_prompt": "x"}),
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert_error(&res, "BSE2011");
    for (path, field) in [
        ("/v1/content/list?limit=0", "limit"),
        ("/v1/content/list?offset=-1", "offset"),
        ("/v1/estimate/tidegate/motion-1?duration=3", "duration"),
    ] {
        let (status, res) = app.get_json(path, &key).await;
        assert_eq!(status, 400, "{path}");
        assert_eq!(assert_error(&res, "BSE2001")["details"]["field"], field);
    }
    assert_eq!(app.generations(), 0);
    assert_eq!(app.balance(), 1000, "no credits moved");
    // The same key while its first request is still being accepted: 409 BSE2016, retryable.
    let raw = br#"{"generation_prompt":"twice at once"}"#;
    let fingerprint: String = sha2::Sha256::digest(raw)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    app.db()
        .execute(
            "INSERT INTO idempotency_keys (account_id, route, idempotency_key, fingerprint, state,
                 request_id, created_at)
             VALUES (?1, ?2, 'busy', ?3, 'in_progress', 'req_first', ?4)",
            &[
                &app.account_id,
                &image,
                &fingerprint,
                &app.clock.now().millis(),
            ],
        )
        .unwrap();
    let res = app
        .client
        .post(format!("{}{image}", app.address))
        .bearer_auth(&key)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", "busy")
        .body(raw.to_vec())
        .send_checked()
        .await;
    assert_eq!(res.status(), 409);
    let error = assert_error(&res.json().await.unwrap(), "BSE2016");
    assert_eq!(error["retryable"], true);

    let (status, _, _) = app
        .post_json(
            image,
            &key,
            &json!({"generation_prompt": ""}),
            Some("retry-me"),
        )
        .await;
    assert_eq!(status, 400);
    let (status, _, _) = app
        .post_json(
            image,
            &key,
            &json!({"generation_prompt": "fixed"}),
            Some("retry-me"),
        )
        .await;
    assert_eq!(status, 200);
}
