//! Generated files: the local renderer's formats, the generations pages, and a restart that
//! resumes pending generations and refunds interrupted ones.

use serde_json::json;

use crate::helpers::{TestApp, spawn_app_in, spawn_app_with};

backend_tests!(the_local_provider_renders_every_declared_format_deterministically);
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

backend_tests!(a_restart_resumes_pending_generations_and_refunds_interrupted_ones);
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
        conn.execute("INSERT INTO generations (id, account_id, environment, model_identifier, model_type,
                 provider_order, status, prompt, ratio, output_format, output_number, cost, created_at)
             VALUES (?1, ?2, 'live', 'tidegate/gradient-1', 'image', '[\"local\"]', ?3, 'left over',
                 '1:1', 'webp', 1, 4, 0)", &[&id, &account, &status])
        .unwrap();
        conn.execute("INSERT INTO credit_ledger (account_id, kind, amount, reservation_id, actor, created_at)
             VALUES (?1, 'reserve', -4, ?2, 'test', 0)", &[&account, &id])
        .unwrap();
        conn.execute(
            "UPDATE accounts SET credit_balance = credit_balance - 4 WHERE id = ?1",
            &[&account],
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

backend_tests!(the_generations_page_shows_thumbnails_outputs_and_the_record);
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
