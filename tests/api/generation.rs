//! Generation end to end: the client flow, validation, credits, idempotency, providers with fake
//! upstreams, media, and recovery after a crash.

use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::{
    SendChecked, TestApp, assert_error, eventually, spawn_app_in, spawn_app_with,
};
use crate::upstream::{Mode, app_with_fakes};

fn is_time(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.ends_with('Z') && s.len() == 24)
}

fn check_record(r: &Value, video: bool) {
    for (field, ok) in [
        ("account_id", r["account_id"].is_string()),
        ("generation_id", r["generation_id"].is_string()),
        ("model_identifier", r["model_identifier"].is_string()),
        (
            "generation_provider_order",
            r["generation_provider_order"].is_array(),
        ),
        (
            "generation_provider_used",
            r["generation_provider_used"].is_string(),
        ),
        (
            "generation_prediction_id",
            r["generation_prediction_id"].is_string()
                || r.get("generation_prediction_id") == Some(&Value::Null),
        ),
        ("generation_status", r["generation_status"] == "succeeded"),
        ("generation_prompt", r["generation_prompt"].is_string()),
        ("generation_ratio", r["generation_ratio"].is_string()),
        (
            "generation_output_format",
            r["generation_output_format"].is_string(),
        ),
        (
            "generation_output_number",
            r["generation_output_number"].is_u64(),
        ),
        (
            "generation_input_file",
            r.get("generation_input_file") == Some(&Value::Null)
                || r["generation_input_file"].is_array(),
        ),
        (
            "generation_output_file",
            r["generation_output_file"].is_array(),
        ),
        (
            "generation_created_at",
            is_time(&r["generation_created_at"]),
        ),
        (
            "generation_started_at",
            is_time(&r["generation_started_at"]),
        ),
        (
            "generation_completed_at",
            is_time(&r["generation_completed_at"]),
        ),
        (
            "generation_metrics_total_time",
            r["generation_metrics_total_time"].is_number(),
        ),
        (
            "generation_metrics_predict_time",
            r["generation_metrics_predict_time"].is_number(),
        ),
    ] {
        assert!(ok, "{field} in {r}");
    }
    assert_eq!(r.get("generation_duration").is_some(), video, "{r}");
    if video {
        assert!(r["generation_duration"].is_u64() && r["generation_resolution"].is_string());
        assert!(r["generation_generate_audio"].is_boolean());
    }
    assert!(r.get("generation_error").is_none() && r.get("generation_removed").is_none());
}

#[tokio::test]
async fn a_client_runs_the_whole_flow_with_only_the_base_url_changed() {
    let (app, fakes) = app_with_fakes(&[]).await;
    app.add_credits("10");
    let (_, key) = app.create_key(&[]);

    let (status, body) = app.get_json("/v1/status", &key).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (200, Some("API connected successfully"))
    );

    // Library.
    let (_, body) = app.get_json("/v1/library/models", &key).await;
    let models = body["data"]["models"].as_array().unwrap();
    assert_eq!(body["data"]["models_total"], models.len());
    let pattern = models
        .iter()
        .find(|m| m["model_identifier"] == "tidegate/pattern-1")
        .unwrap();
    assert_eq!(pattern["model_type"], "image");
    assert!(pattern["model_pricing"].is_number() && pattern["model_supported_provider"].is_array());
    assert!(pattern["schema"]["generation_ratio"].is_array());
    assert!(pattern["schema"]["generation_output_format"].is_array());
    assert!(pattern["schema"]["generation_output_number"].is_u64());
    // The SDK declares the names only; the parameters themselves are beside them.
    let names = pattern["specific_schema"].as_array().unwrap();
    assert!(names.iter().all(Value::is_string), "{pattern}");
    let parameters = pattern["specific_parameters"].as_array().unwrap();
    assert_eq!(names.len(), parameters.len());
    assert!(names.contains(&json!("seed")), "{pattern}");
    let motion = models
        .iter()
        .find(|m| m["model_identifier"] == "tidegate/motion-1")
        .unwrap();
    assert!(
        motion["model_pricing"].is_object() && motion["schema"]["generation_duration"].is_array()
    );
    let (_, body) = app.get_json("/v1/library/providers", &key).await;
    let local = &body["data"]["providers"][0];
    assert_eq!(local["provider_id"], "local");
    assert_eq!(
        body["data"]["providers_total"],
        body["data"]["providers"].as_array().unwrap().len()
    );
    for field in [
        "provider_id",
        "provider_name",
        "provider_description",
        "provider_website",
        "provider_docs",
        "provider_status",
    ] {
        assert!(local[field].is_string(), "{field}: {local}");
    }
    let imp = &local["babysea_implementation"];
    for field in [
        "error_mapping",
        "cost_tracking",
        "schema_conversion",
        "health_monitoring",
    ] {
        assert!(imp[field].is_string(), "{field}: {imp}");
    }
    // Only values the SDK knows.
    assert_eq!(imp["delivery_method"], "synchronous");
    assert_eq!(imp["cancel_method"], Value::Null);
    assert_eq!(imp["webhook_verification"], Value::Null);
    assert_eq!(imp["tidegate_cancel_method"], "worker_abort");
    assert_eq!(
        (imp["error_mapping"].as_str(), imp["cost_tracking"].as_str()),
        (Some("bse_error_codes"), Some("per_generation_usd"))
    );
    assert_eq!(imp["failover_strategy"], "sequential_provider_chain");
    assert!(imp["supported_media_types"].is_array() && imp["supported_models_total"].is_u64());

    // Estimate: 3 images at 0.010, a 4 s 360p video at 0.020/s.
    let (status, body) = app
        .get_json("/v1/estimate/tidegate/pattern-1?count=3", &key)
        .await;
    assert_eq!(status, 200, "{body}");
    let e = &body["data"];
    assert_eq!(
        (
            e["assets_count"].as_u64(),
            e["cost_per_generation"].as_f64()
        ),
        (Some(3), Some(0.01))
    );
    assert_eq!(
        (
            e["cost_total_consumed"].as_f64(),
            e["credit_balance"].as_f64()
        ),
        (Some(0.03), Some(10.0))
    );
    assert_eq!(
        (
            e["credit_balance_can_afford"].as_bool(),
            e["credit_balance_max_affordable"].as_u64()
        ),
        (Some(true), Some(1000))
    );
    assert!(e.get("cost_per_second").is_none());
    let (_, body) = app
        .get_json(
            "/v1/estimate/tidegate/motion-1?duration=4&resolution=360p&count=500",
            &key,
        )
        .await;
    let e = &body["data"];
    assert_eq!(
        (
            e["cost_per_second"].as_f64(),
            e["duration_seconds"].as_u64()
        ),
        (Some(0.02), Some(4))
    );
    assert_eq!(
        (
            e["cost_per_generation"].as_f64(),
            e["assets_count"].as_u64()
        ),
        (Some(0.08), Some(100))
    );
    assert_eq!(e["resolution"], "360p");
    let (status, body) = app
        .get_json(
            "/v1/estimate/tidegate/pattern-1?duration=4&audio=true",
            &key,
        )
        .await;
    assert_eq!(
        status, 200,
        "image models ignore the video parameters: {body}"
    );
    assert!(body["data"].get("duration_seconds").is_none());
    let (status, body) = app.get_json("/v1/estimate/acme/nothing", &key).await;
    assert_eq!(status, 404);
    assert_error(&body, "BSE2011");

    // Generate an image, idempotently, and poll it to completion.
    let image_body = json!({
        "generation_prompt": "a lighthouse at dusk",
        "generation_ratio": "16:9",
        "generation_output_format": "png",
        "seed": 7,
    });
    let (status, headers, created) = app
        .post_json(
            "/v1/generate/image/tidegate/pattern-1",
            &key,
            &image_body,
            Some("order-1"),
        )
        .await;
    assert_eq!(status, 200, "{created}");
    assert!(headers.get("idempotency-replayed").is_none());
    assert_eq!(created["message"], "Generation initialized");
    let d = &created["data"];
    assert_eq!(
        (
            d["generation_initialized"].as_bool(),
            d["model_identifier"].as_str()
        ),
        (Some(true), Some("tidegate/pattern-1"))
    );
    assert_eq!(d["generation_provider_order"], json!(["local"]));
    let image_id = d["generation_id"].as_str().unwrap().to_owned();
    // A string, as the SDK declares: the generation id until a provider assigns its own.
    assert_eq!(d["generation_prediction_id"], image_id.as_str());
    let record = app
        .wait_for(&key, &image_id, &["succeeded", "failed"])
        .await;
    check_record(&record, false);
    assert_eq!(record["generation_provider_used"], "local");
    let url = record["generation_output_file"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        url.starts_with(&format!("{}/media/{image_id}/", app.address)),
        "{url}"
    );
    let (status, ct, bytes) = app.fetch(&url).await;
    assert_eq!((status, ct.as_str()), (200, "image/png"));
    let img = image::load_from_memory(&bytes).expect("a decodable PNG");
    let ratio = f64::from(img.width()) / f64::from(img.height());
    assert!(
        (ratio - 16.0 / 9.0).abs() < 0.02,
        "{}x{}",
        img.width(),
        img.height()
    );

    // The same request again is a replay; another body under the same key is refused.
    let (status, headers, replayed) = app
        .post_json(
            "/v1/generate/image/tidegate/pattern-1",
            &key,
            &image_body,
            Some("order-1"),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(headers["idempotency-replayed"], "true");
    assert_eq!(replayed["data"]["generation_id"], image_id.as_str());
    assert_eq!(replayed["request_id"], created["request_id"]);
    let replay_rows = app.count(
        "SELECT count(*) FROM request_logs WHERE idempotency_replayed = 1",
        [],
    );
    assert_eq!(replay_rows, 1);
    let (status, _, body) = app
        .post_json(
            "/v1/generate/image/tidegate/pattern-1",
            &key,
            &json!({"generation_prompt": "something else"}),
            Some("order-1"),
        )
        .await;
    assert_eq!(status, 409);
    assert_error(&body, "BSE2015");

    // A video.
    let video_id = app
        .generate(
            "video",
            "tidegate/motion-1",
            &key,
            json!({"generation_prompt": "waves", "generation_duration": 1, "generation_ratio": "16:9"}),
        )
        .await;
    let record = app
        .wait_for(&key, &video_id, &["succeeded", "failed"])
        .await;
    check_record(&record, true);
    assert_eq!(
        (
            record["generation_duration"].as_u64(),
            record["generation_resolution"].as_str()
        ),
        (Some(1), Some("240p"))
    );
    let (status, ct, bytes) = app
        .fetch(record["generation_output_file"][0].as_str().unwrap())
        .await;
    assert_eq!((status, ct.as_str()), (200, "video/mp4"));
    assert_eq!(&bytes[4..8], b"ftyp");
    let ranged = app
        .client
        .get(record["generation_output_file"][0].as_str().unwrap())
        .header("Range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), 206, "players can seek");
    assert_eq!(
        ranged.headers()["content-range"],
        format!("bytes 0-99/{}", bytes.len()).as_str()
    );
    assert_eq!(ranged.bytes().await.unwrap(), bytes[..100]);

    // List: newest first, paginated envelope.
    let (status, body) = app
        .get_json("/v1/content/list?limit=1&offset=0", &key)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            body["total"].as_i64(),
            body["limit"].as_i64(),
            body["offset"].as_i64()
        ),
        (Some(2), Some(1), Some(0))
    );
    assert_eq!(
        body["data"]["generations"][0]["generation_id"],
        video_id.as_str()
    );
    let (_, body) = app
        .get_json("/v1/content/list?limit=1&offset=1", &key)
        .await;
    assert_eq!(
        body["data"]["generations"][0]["generation_id"],
        image_id.as_str()
    );

    // Cancel one that is still running upstream, then replay its generate.
    let slow = json!({"generation_prompt": "patience"});
    let (_, _, created) = app
        .post_json(
            "/v1/generate/image/remote/slow",
            &key,
            &slow,
            Some("slow-1"),
        )
        .await;
    let slow_id = created["data"]["generation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_for(&key, &slow_id, &["processing"]).await;
    eventually("the upstream to be polled for the prediction", || {
        fakes.queue.polls() >= 1
    })
    .await;
    assert_eq!(fakes.queue.requests(), 1);
    let before = app.balance();
    let (status, body) = app
        .send_json(
            "POST",
            &format!("/v1/content/generation/cancel/{slow_id}"),
            &key,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let c = &body["data"];
    assert_eq!(
        (
            c["generation_status"].as_str(),
            c["credits_refunded"].as_bool(),
            c["credits_refunded_amount"].as_f64()
        ),
        (Some("canceled"), Some(true), Some(0.02))
    );
    assert_eq!(c["provider_cancel_sent"], true);
    assert_eq!(fakes.queue.cancels(), 1);
    assert_eq!(app.balance(), before + 20);
    let (status, body) = app
        .send_json(
            "POST",
            &format!("/v1/content/generation/cancel/{slow_id}"),
            &key,
        )
        .await;
    assert_eq!(status, 409);
    assert_error(&body, "BSE2013");
    let (_, headers, replayed) = app
        .post_json(
            "/v1/generate/image/remote/slow",
            &key,
            &slow,
            Some("slow-1"),
        )
        .await;
    assert_eq!(headers["idempotency-replayed"], "true");
    assert_eq!(
        replayed["data"],
        json!({"generation_id": slow_id, "generation_status": "canceled"})
    );

    // Delete: the record and its files go.
    let (status, body) = app
        .send_json("DELETE", &format!("/v1/content/{image_id}"), &key)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"],
        json!({"generation_id": image_id, "files_deleted": 1})
    );
    let (status, body) = app.get_json(&format!("/v1/content/{image_id}"), &key).await;
    assert_eq!(status, 404);
    assert_error(&body, "BSE2012");
    assert_eq!(app.fetch(&url).await.0, 404);

    // Usage now counts generations and provider submissions.
    let (_, body) = app.get_json("/v1/usage", &key).await;
    let u = &body["data"];
    assert_eq!(u["usage_total_generations"], 3);
    assert_eq!(u["usage_total_provider_submissions"], 3);
    let local = u["usage_providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "local")
        .unwrap();
    assert_eq!(
        (
            local["total_submissions"].as_i64(),
            local["used_count"].as_i64()
        ),
        (Some(2), Some(2))
    );
    let queue = u["usage_providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "queue")
        .unwrap();
    assert_eq!(queue["cancelled_count"], 1);
    assert_eq!(queue["wasted_estimated_cost"].as_f64(), Some(0.02));
    assert_eq!(
        app.cli(&["check"]).status,
        0,
        "the balance equals the ledger"
    );
}

#[tokio::test]
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

#[tokio::test]
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
            rusqlite::params![app.account_id, image, fingerprint, app.clock.now().millis()],
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

#[tokio::test]
async fn credits_are_reserved_with_the_record_and_settled_once() {
    let (app, fakes) = app_with_fakes(&[]).await;
    app.add_credits("0.065");
    let (_, key) = app.create_key(&[]);
    let (_, test_key) = app.create_key(&["--test"]);

    let id = app
        .generate(
            "image",
            "tidegate/pattern-1",
            &key,
            json!({"generation_prompt": "one"}),
        )
        .await;
    assert_eq!(app.balance(), 55, "reserved at once");
    app.wait_for(&key, &id, &["succeeded"]).await;
    let kinds: Vec<(String, i64)> = app
        .db()
        .prepare("SELECT kind, amount FROM credit_ledger WHERE reservation_id = ?1 ORDER BY id")
        .unwrap()
        .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        kinds,
        [("reserve".to_owned(), -10), ("charge".to_owned(), 0)]
    );

    // Both painter providers fail: the generation fails and the reservation is refunded.
    fakes.alpha.set(Mode::Fail);
    fakes.beta.set(Mode::Fail);
    let failed = app
        .generate(
            "image",
            "remote/painter",
            &key,
            json!({"generation_prompt": "two"}),
        )
        .await;
    let record = app.wait_for(&key, &failed, &["failed"]).await;
    assert_eq!(record["generation_error_code"], "BSE4003");
    assert!(
        record["generation_error"]
            .as_str()
            .unwrap()
            .contains("alpha")
    );
    assert!(
        !record["generation_error"]
            .as_str()
            .unwrap()
            .contains("sk-alpha-secret")
    );
    assert_eq!(app.balance(), 55, "refunded");
    let second_refund = app.db().execute(
        "INSERT INTO credit_ledger (account_id, kind, amount, reservation_id, actor, created_at)
         VALUES (?1, 'refund', 50, ?2, 'test', 0)",
        [&app.account_id, &failed],
    );
    assert!(
        second_refund.is_err(),
        "the schema allows one settlement per reservation"
    );

    // Short of credits: 402 and nothing created.
    let before = app.generations();
    let (status, _, body) = app
        .post_json(
            "/v1/generate/image/remote/painter",
            &key,
            &json!({"generation_prompt": "three", "generation_output_number": 2}),
            Some("too-dear"),
        )
        .await;
    assert_eq!(status, 402, "{body}");
    assert_error(&body, "BSE1004");
    assert_eq!((app.generations(), app.balance()), (before, 55));

    // A test key spends nothing.
    let free = app
        .generate(
            "image",
            "remote/painter",
            &test_key,
            json!({"generation_prompt": "four", "generation_output_number": 2}),
        )
        .await;
    assert_eq!(app.balance(), 55);
    app.wait_for(&test_key, &free, &["failed"]).await;
    assert_eq!(app.balance(), 55);
    assert_eq!(app.cli(&["check"]).status, 0);

    // A settlement lost outside Tidegate is reported by `tidegate check`.
    app.db()
        .execute(
            "DELETE FROM credit_ledger WHERE reservation_id = ?1 AND kind = 'charge'",
            [&id],
        )
        .unwrap();
    let check = app.cli(&["check"]);
    assert_ne!(check.status, 0);
    assert!(
        check.stdout.contains(&format!(
            "reservation {id} is neither settled nor in flight"
        )),
        "{}",
        check.stdout
    );
}

#[tokio::test]
async fn providers_fail_over_time_out_and_open_their_circuit() {
    let (app, fakes) = app_with_fakes(&[]).await;
    app.add_credits("10");
    let (_, key) = app.create_key(&[]);
    let painter = |n: u32| json!({"generation_prompt": format!("painting {n}")});

    // 5xx, garbage and a timeout on alpha each fail over to beta.
    for (n, mode, code) in [
        (1, Mode::Fail, "BSE4001"),
        (2, Mode::Garbage, "BSE4001"),
        (3, Mode::Hold, "BSE4002"),
    ] {
        fakes.alpha.set(mode);
        let id = app
            .generate("image", "remote/painter", &key, painter(n))
            .await;
        let record = app.wait_for(&key, &id, &["succeeded", "failed"]).await;
        assert_eq!(
            record["generation_provider_used"], "beta",
            "{mode:?}: {record}"
        );
        let (status, ct, bytes) = app
            .fetch(record["generation_output_file"][0].as_str().unwrap())
            .await;
        assert_eq!((status, ct.as_str()), (200, "image/png"));
        assert!(image::load_from_memory(&bytes).is_ok());
        let attempts: Vec<(String, String, Option<String>)> = app
            .db()
            .prepare("SELECT provider, outcome, error_code FROM generation_attempts WHERE generation_id = ?1 ORDER BY id")
            .unwrap()
            .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            attempts,
            [
                ("alpha".into(), "failed".into(), Some(code.into())),
                ("beta".into(), "used".into(), None)
            ]
        );
    }

    // Three failures out of three: alpha's circuit is open and it is no longer called.
    let (_, body) = app.get_json("/v1/health/inference/providers", &key).await;
    let h = &body["data"];
    assert_eq!(h["service"], "providers");
    assert_eq!(h["healthy"], false);
    let alpha = h["providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "alpha")
        .unwrap();
    assert_eq!(alpha["status"], "degraded");
    assert_eq!(alpha["window"]["failures"], 3);
    assert_eq!(alpha["failure_rate"].as_f64(), Some(1.0));
    let (_, body) = app.get_json("/v1/health/inference/models", &key).await;
    let painter_health = body["data"]["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model_identifier"] == "remote/painter")
        .unwrap()
        .clone();
    assert_eq!(
        painter_health["providers"]["alpha"],
        json!({"available": false, "raw_model_id": "paint-v1"})
    );
    assert_eq!(painter_health["providers"]["beta"]["available"], true);
    assert_eq!(painter_health["model_pricing"], 0.05);
    // A model priced per resolution: no number to give, so no `model_pricing`.
    let motion_health = body["data"]["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model_identifier"] == "tidegate/motion-1")
        .unwrap()
        .clone();
    assert!(
        motion_health.get("model_pricing").is_none(),
        "{motion_health}"
    );
    assert_eq!(motion_health["model_pricing_by_resolution"]["360p"], 0.02);
    let calls = fakes.alpha.requests();
    fakes.alpha.set(Mode::Ok);
    let id = app
        .generate("image", "remote/painter", &key, painter(4))
        .await;
    let record = app.wait_for(&key, &id, &["succeeded"]).await;
    assert_eq!(record["generation_provider_used"], "beta");
    assert_eq!(fakes.alpha.requests(), calls, "an open circuit is skipped");

    // An explicit order is honoured.
    let id = app
        .generate(
            "image",
            "remote/painter",
            &key,
            json!({"generation_prompt": "b first", "generation_provider_order": "beta"}),
        )
        .await;
    let record = app.wait_for(&key, &id, &["succeeded"]).await;
    assert_eq!(record["generation_provider_order"], json!(["beta"]));

    // The submit-then-poll upstream: its prediction id and reported time reach the record.
    fakes.queue.set(Mode::Ok);
    let id = app
        .generate(
            "image",
            "remote/slow",
            &key,
            json!({"generation_prompt": "queued"}),
        )
        .await;
    let record = app.wait_for(&key, &id, &["succeeded"]).await;
    assert_eq!(record["generation_provider_used"], "queue");
    assert!(
        record["generation_prediction_id"]
            .as_str()
            .unwrap()
            .starts_with("pred_")
    );
    assert_eq!(
        record["generation_metrics_predict_time"].as_f64(),
        Some(0.25)
    );

    // A video's end frame reaches the upstream.
    let id = app
        .generate(
            "video",
            "remote/clip",
            &key,
            json!({"generation_prompt": "ending", "generation_duration": 2,
                   "generation_input_file_last_content": "https://frames.example/last.png"}),
        )
        .await;
    app.wait_for(&key, &id, &["succeeded"]).await;
    assert_eq!(
        fakes.queue.last_submit()["input"]["input_file_last_content"],
        "https://frames.example/last.png"
    );

    // A prediction the upstream reports failed is over there: nothing is sent to cancel it.
    fakes.queue.set(Mode::FailLater);
    let cancels = fakes.queue.cancels();
    let id = app
        .generate(
            "image",
            "remote/slow",
            &key,
            json!({"generation_prompt": "doomed"}),
        )
        .await;
    let record = app.wait_for(&key, &id, &["failed"]).await;
    let error = (
        &record["generation_error_code"],
        &record["generation_error"],
    );
    assert_eq!(error.0, "BSE4001");
    assert!(
        error.1.as_str().unwrap().contains("out of memory"),
        "{record}"
    );
    assert_eq!(fakes.queue.cancels(), cancels);

    // The provider usage shows the failures.
    let (_, body) = app.get_json("/v1/usage", &key).await;
    let alpha = body["data"]["usage_providers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["provider"] == "alpha")
        .unwrap()
        .clone();
    assert_eq!(
        (
            alpha["total_submissions"].as_i64(),
            alpha["failed_count"].as_i64()
        ),
        (Some(3), Some(3))
    );

    let (_, body) = app.get_json("/v1/health/storage", &key).await;
    assert_eq!(
        (
            body["data"]["service"].as_str(),
            body["data"]["healthy"].as_bool()
        ),
        (Some("storage"), Some(true))
    );
    assert!(body["data"]["latency_ms"].is_number());
    let (_, body) = app.get_json("/v1/health/cache", &key).await;
    assert_eq!(
        (
            body["data"]["engine"].as_str(),
            body["data"]["healthy"].as_bool()
        ),
        (Some("sqlite"), Some(true))
    );
}

#[tokio::test]
async fn the_in_flight_cap_and_allowed_models_are_enforced() {
    let (app, fakes) = app_with_fakes(&[]).await;
    app.db()
        .execute(
            "UPDATE accounts SET plan = 'free' WHERE id = ?1",
            [&app.account_id],
        )
        .unwrap();
    app.add_credits("1");
    let (_, key) = app.create_key(&[]);
    let (_, limited) = app.create_key(&["--allowed-models", "tidegate/gradient-1"]);
    let first = app
        .generate(
            "image",
            "remote/slow",
            &key,
            json!({"generation_prompt": "hold"}),
        )
        .await;
    app.wait_for(&key, &first, &["processing"]).await;
    eventually("the upstream to be polled for the first", || {
        fakes.queue.polls() >= 1
    })
    .await;
    let (status, headers, body) = app
        .post_json(
            "/v1/generate/image/tidegate/pattern-1",
            &key,
            &json!({"generation_prompt": "x"}),
            None,
        )
        .await;
    assert_eq!(status, 429, "{body}");
    assert_error(&body, "BSE1009");
    assert!(headers.contains_key("retry-after"));
    assert_eq!(app.generations(), 1);
    let (status, _) = app
        .send_json(
            "POST",
            &format!("/v1/content/generation/cancel/{first}"),
            &key,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(fakes.queue.cancels(), 1);

    let (status, _, body) = app
        .post_json(
            "/v1/generate/image/tidegate/pattern-1",
            &limited,
            &json!({"generation_prompt": "x"}),
            None,
        )
        .await;
    assert_eq!(status, 403);
    assert_error(&body, "BSE1003");
    let (status, _, _) = app
        .post_json(
            "/v1/generate/image/tidegate/gradient-1",
            &limited,
            &json!({"generation_prompt": "x"}),
            None,
        )
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_restart_resumes_pending_generations_and_refunds_interrupted_ones() {
    let app = spawn_app_with(&[]).await;
    app.add_credits("1");
    let (_, key) = app.create_key(&[]);
    let account = app.account_id.clone();
    let conn = app.db();
    for (id, status) in [
        ("11111111-1111-4111-8111-111111111111", "pending"),
        ("22222222-2222-4222-8222-222222222222", "processing"),
    ] {
        conn.execute(
            "INSERT INTO generations (id, account_id, environment, model_identifier, model_type,
                 provider_order, status, prompt, ratio, output_format, output_number, cost, created_at)
             VALUES (?1, ?2, 'live', 'tidegate/gradient-1', 'image', '[\"local\"]', ?3, 'left over',
                 '1:1', 'webp', 1, 4, 0)",
            rusqlite::params![id, account, status],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO credit_ledger (account_id, kind, amount, reservation_id, actor, created_at)
             VALUES (?1, 'reserve', -4, ?2, 'test', 0)",
            rusqlite::params![account, id],
        )
        .unwrap();
        conn.execute(
            "UPDATE accounts SET credit_balance = credit_balance - 4 WHERE id = ?1",
            [&account],
        )
        .unwrap();
    }
    drop(conn);
    assert_eq!(app.balance(), 992);

    let TestApp { data_dir, .. } = app;
    let mut again = spawn_app_in(data_dir, &[]).await;
    again.account_id = account;
    let resumed = again
        .wait_for(&key, "11111111-1111-4111-8111-111111111111", &["succeeded"])
        .await;
    let (status, ct, bytes) = again
        .fetch(resumed["generation_output_file"][0].as_str().unwrap())
        .await;
    assert_eq!((status, ct.as_str()), (200, "image/webp"));
    assert!(image::load_from_memory(&bytes).is_ok());
    let failed = again
        .wait_for(&key, "22222222-2222-4222-8222-222222222222", &["failed"])
        .await;
    assert_eq!(failed["generation_error_code"], "BSE4001");
    assert_eq!(
        again.balance(),
        996,
        "the interrupted one was refunded, the resumed one charged"
    );
    assert_eq!(again.cli(&["check"]).status, 0);
}

#[tokio::test]
async fn the_generations_page_shows_thumbnails_outputs_and_the_record() {
    let app = spawn_app_with(&[]).await;
    app.add_credits("1");
    let (_, key) = app.create_key(&[]);
    let image = app
        .generate(
            "image",
            "tidegate/gradient-1",
            &key,
            json!({"generation_prompt": "<b>bold</b> sunrise"}),
        )
        .await;
    app.wait_for(&key, &image, &["succeeded"]).await;
    let video = app
        .generate(
            "video",
            "tidegate/motion-1",
            &key,
            json!({"generation_prompt": "tide", "generation_duration": 1}),
        )
        .await;
    app.wait_for(&key, &video, &["succeeded"]).await;
    let member = crate::people::person(&app, "viewer@example.com", "member")
        .await
        .client;

    let html = crate::people::page(&member, &app, "/generations").await;
    assert!(html.contains("2 generations, newest first"), "{html}");
    assert!(
        html.find(&video).unwrap() < html.find(&image).unwrap(),
        "newest first"
    );
    assert!(html.contains(&format!(
        "<img class=\"thumb\" src=\"/media/{image}/0.png\""
    )));
    assert!(!html.contains("<b>bold</b>") && unescaped(&html).contains("<b>bold</b> sunrise"));
    assert!(html.contains("0.004"), "the cost is shown");

    let html = crate::people::page(&member, &app, &format!("/generations/{video}")).await;
    assert!(
        html.contains(&format!("<video src=\"/media/{video}/0.mp4\"")),
        "{html}"
    );
    assert!(
        unescaped(&html).contains("\"generation_status\": \"succeeded\""),
        "the record as JSON"
    );
    let html = crate::people::page(&member, &app, &format!("/generations/{image}")).await;
    assert!(html.contains(&format!("<img src=\"/media/{image}/0.png\"")));

    let other = app.cli_json(&["accounts", "create", "--name", "Other"]);
    app.cli_json(&[
        "credits",
        "add",
        "--account",
        other["id"].as_str().unwrap(),
        "--amount",
        "1",
    ]);
    let stranger_key = app.cli_json(&[
        "keys",
        "create",
        "--account",
        other["id"].as_str().unwrap(),
        "--name",
        "s",
        "--preset",
        "full_access",
    ]);
    let theirs = app
        .generate(
            "image",
            "tidegate/gradient-1",
            stranger_key["key"].as_str().unwrap(),
            json!({"generation_prompt": "theirs"}),
        )
        .await;
    let res = member
        .get(format!("{}/generations/{theirs}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        404,
        "another workspace's generation is not shown"
    );
}

/// The text of escaped HTML, for comparing with what was sent.
fn unescaped(html: &str) -> String {
    [
        ("&#60;", "<"),
        ("&#62;", ">"),
        ("&#34;", "\""),
        ("&#39;", "'"),
        ("&lt;", "<"),
        ("&gt;", ">"),
        ("&quot;", "\""),
        ("&amp;", "&"),
    ]
    .iter()
    .fold(html.to_owned(), |s, (from, to)| s.replace(from, to))
}

#[tokio::test]
async fn the_local_provider_renders_every_declared_format_deterministically() {
    let app = spawn_app_with(&[]).await;
    app.add_credits("1");
    let (_, key) = app.create_key(&[]);
    let mut outputs = Vec::new();
    for (kind, model, format, mime, extra) in [
        (
            "image",
            "tidegate/pattern-1",
            "jpg",
            "image/jpeg",
            json!({"generation_ratio": "3:4"}),
        ),
        (
            "image",
            "tidegate/gradient-1",
            "webp",
            "image/webp",
            json!({"generation_ratio": "9:16"}),
        ),
        (
            "image",
            "tidegate/gradient-1",
            "webp",
            "image/webp",
            json!({"generation_ratio": "9:16"}),
        ),
        (
            "video",
            "tidegate/motion-1",
            "gif",
            "image/gif",
            json!({"generation_duration": 1, "generation_ratio": "1:1"}),
        ),
    ] {
        let mut body = json!({"generation_prompt": "same prompt", "generation_output_format": format, "seed": 3});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let id = app.generate(kind, model, &key, body).await;
        let record = app.wait_for(&key, &id, &["succeeded"]).await;
        let (status, ct, bytes) = app
            .fetch(record["generation_output_file"][0].as_str().unwrap())
            .await;
        assert_eq!((status, ct.as_str()), (200, mime), "{model} {format}");
        outputs.push(bytes);
    }
    // Decoded as the format asked for: the content type only follows the file's extension.
    let jpeg = image::load_from_memory_with_format(&outputs[0], image::ImageFormat::Jpeg).unwrap();
    assert_eq!(jpeg.width() * 4, jpeg.height() * 3, "3:4");
    let webp = image::load_from_memory_with_format(&outputs[1], image::ImageFormat::WebP).unwrap();
    assert_eq!(webp.width() * 16, webp.height() * 9, "9:16");
    assert_eq!(
        outputs[1], outputs[2],
        "the same prompt and parameters give the same file"
    );
    let gif = image::codecs::gif::GifDecoder::new(std::io::Cursor::new(&outputs[3])).unwrap();
    let frames = image::AnimationDecoder::into_frames(gif)
        .collect_frames()
        .unwrap();
    assert_eq!(frames.len(), 8, "one second at 8 frames per second");
}
