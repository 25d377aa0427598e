//! Generation end to end: a client changes only the base URL and runs the whole flow (library,
//! estimate, generate, replay, list, cancel, delete, usage).

use serde_json::{Value, json};

use crate::generation_record::check_record;
use crate::helpers::{assert_error, eventually};
use crate::upstream::app_with_fakes;

backend_tests!(a_client_runs_the_whole_flow_with_only_the_base_url_changed);
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
    // As the document says: the replayed body keeps its id; the header names this request.
    let header = headers["x-request-id"].to_str().unwrap();
    assert_ne!(header, created["request_id"].as_str().unwrap());
    let doc: serde_json::Value = app
        .get("/v1/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    let said = doc["paths"]["/v1/status"]["get"]["responses"]["200"]["headers"]["X-Request-Id"]
        ["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(said.contains("Idempotency-Replayed"), "{said}");
    let replay_rows = app.count(
        "SELECT count(*) FROM request_logs WHERE idempotency_replayed = 1",
        &[],
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
