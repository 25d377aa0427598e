//! Providers behind fake upstreams: failover, timeouts, circuits, an explicit order, the
//! submit-then-poll protocol, and the health and usage they report.

use serde_json::json;

use crate::upstream::{Mode, app_with_fakes};

backend_tests!(providers_fail_over_time_out_and_open_their_circuit);
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
            .query_map(&[&&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
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

backend_tests!(a_test_keys_generations_run_on_the_local_provider_only);
async fn a_test_keys_generations_run_on_the_local_provider_only() {
    let (app, fakes) = app_with_fakes(&[]).await;
    // No credits: a test key's generations need none.
    let (_, test_key) = app.create_key(&["--test"]);
    assert!(test_key.contains("_test_"), "{test_key}");
    // Even when the client names the upstreams, a test key's generation never reaches them: the
    // local renderer stands in for a model it does not serve.
    let id = app
        .generate(
            "image",
            "remote/painter",
            &test_key,
            json!({"generation_prompt": "a test", "generation_provider_order": "alpha, beta"}),
        )
        .await;
    let record = app.wait_for(&test_key, &id, &["succeeded", "failed"]).await;
    assert_eq!(record["generation_status"], "succeeded", "{record}");
    assert_eq!(record["generation_provider_used"], "local", "{record}");
    assert_eq!(
        record["generation_provider_order"],
        json!(["local"]),
        "{record}"
    );
    let (status, ct, bytes) = app
        .fetch(record["generation_output_file"][0].as_str().unwrap())
        .await;
    assert_eq!((status, ct.as_str()), (200, "image/png"));
    assert!(image::load_from_memory(&bytes).is_ok());
    assert_eq!(fakes.alpha.requests() + fakes.beta.requests(), 0);

    // A live key's goes to the model's providers, as before.
    app.add_credits("1");
    let (_, live_key) = app.create_key(&[]);
    let id = app
        .generate(
            "image",
            "remote/painter",
            &live_key,
            json!({"generation_prompt": "a live one"}),
        )
        .await;
    let record = app.wait_for(&live_key, &id, &["succeeded", "failed"]).await;
    assert_eq!(record["generation_provider_used"], "alpha", "{record}");
    assert_eq!(fakes.alpha.requests(), 1);
}
