use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::providers::ProviderKind;
use crate::providers::upstream::client;
use crate::providers::upstream::testing::{fake_upstream, job, spec, tiny_png};
use serde_json::json;

const ROUTE: &str = "/v1/images/generations";

/// Answers `verb route` on `fake` with `answer`.
async fn serve(fake: &MockServer, verb: &str, route: &str, answer: ResponseTemplate) {
    Mock::given(method(verb))
        .and(path(route))
        .respond_with(answer)
        .mount(fake)
        .await;
}

/// A fake upstream whose generations route always answers `status` with `body`.
async fn answering(status: u16, body: Value) -> MockServer {
    let fake = fake_upstream().await;
    serve(
        &fake,
        "POST",
        ROUTE,
        ResponseTemplate::new(status).set_body_json(body),
    )
    .await;
    fake
}

fn adapter(fake: &MockServer) -> OpenAiImages {
    OpenAiImages::new(
        &spec(ProviderKind::OpenaiImages, &fake.uri()),
        client().unwrap(),
    )
    .unwrap()
}

fn png_b64() -> Value {
    json!({ "b64_json": STANDARD.encode(tiny_png()) })
}

#[tokio::test]
async fn b64_json_images_come_back_as_png_files() {
    let fake = answering(200, json!({ "data": [png_b64(), png_b64()] })).await;
    let mut job = job(2);
    job.specific.insert("quality".to_owned(), json!("high"));
    job.specific
        .insert("model".to_owned(), json!("not-this-one"));

    let output = adapter(&fake).generate(&job).await.unwrap();

    assert_eq!(output.files.len(), 2);
    assert!(output.files.iter().all(|f| f.extension == "png"));
    assert!(output.predict_time.is_some());
    let seen = fake.received_requests().await.unwrap();
    let [request] = seen.as_slice() else {
        panic!("{} requests", seen.len())
    };
    let auth = request.headers.get("authorization").cloned();
    assert_eq!(auth.unwrap(), "Bearer sk-test-secret");
    assert_eq!(
        request.body_json::<Value>().unwrap(),
        json!({
            "model": "painter-v2", "prompt": "a lighthouse at dusk", "n": 2,
            "size": "1792x1024", "output_format": "png", "response_format": "b64_json",
            "quality": "high"
        })
    );
}

#[tokio::test]
async fn url_images_are_downloaded() {
    let fake = answering(200, json!({ "data": [{ "url": "/files/1.png" }] })).await;
    let png = ResponseTemplate::new(200).set_body_bytes(tiny_png());
    serve(&fake, "GET", "/files/1.png", png).await;

    let output = adapter(&fake).generate(&job(1)).await.unwrap();

    assert_eq!(output.files[0].extension, "png");
    assert_eq!(output.files[0].bytes, tiny_png());
}

/// A fake upstream whose one image is at `/moved`, which redirects to `location`.
async fn redirecting(location: &str) -> MockServer {
    let fake = answering(200, json!({ "data": [{ "url": "/moved" }] })).await;
    let moved = ResponseTemplate::new(302).insert_header("location", location);
    serve(&fake, "GET", "/moved", moved).await;
    let png = ResponseTemplate::new(200).set_body_bytes(tiny_png());
    serve(&fake, "GET", "/files/1.png", png).await;
    fake
}

#[tokio::test]
async fn downloads_follow_http_redirects_but_no_other_scheme() {
    let http = redirecting("/files/1.png").await;
    let ftp = redirecting("ftp://127.0.0.1/1.png").await;

    let output = adapter(&http).generate(&job(1)).await.unwrap();
    let err = adapter(&ftp).generate(&job(1)).await.unwrap_err();

    assert_eq!(output.files[0].bytes, tiny_png());
    assert!(matches!(err, ProviderError::Garbage(_)), "{err:?}");
}

#[tokio::test]
async fn an_upstream_error_is_a_status_with_its_message_and_without_the_secret() {
    let fake = answering(
        500,
        json!({ "error": { "message": "model crashed; key sk-test-secret" } }),
    )
    .await;

    let err = adapter(&fake).generate(&job(1)).await.unwrap_err();

    assert_eq!(
        err,
        ProviderError::Status {
            status: 500,
            message: "model crashed; key [redacted]".to_owned()
        }
    );
}

#[tokio::test]
async fn payment_required_and_quota_codes_mean_the_credits_are_exhausted() {
    let payment = answering(402, json!({ "error": { "message": "pay up" } })).await;
    let quota = answering(
        429,
        json!({ "error": { "message": "quota", "code": "insufficient_quota" } }),
    )
    .await;

    for fake in [payment, quota] {
        let err = adapter(&fake).generate(&job(1)).await.unwrap_err();
        assert_eq!(err, ProviderError::CreditsExhausted);
    }
}

#[tokio::test]
async fn unusable_answers_are_garbage() {
    let not_json = fake_upstream().await;
    let html = ResponseTemplate::new(200).set_body_string("<html>oops</html>");
    serve(&not_json, "POST", ROUTE, html).await;
    let not_an_image = answering(200, json!({ "data": [{ "b64_json": "aGVsbG8=" }] })).await;
    let too_few = answering(200, json!({ "data": [png_b64()] })).await;
    let bad_scheme = answering(200, json!({ "data": [{ "url": "file:///etc/passwd" }] })).await;

    for (fake, asked) in [
        (not_json, 1),
        (not_an_image, 1),
        (too_few, 2),
        (bad_scheme, 1),
    ] {
        let err = adapter(&fake).generate(&job(asked)).await.unwrap_err();
        assert!(matches!(err, ProviderError::Garbage(_)), "{err:?}");
    }
}

#[tokio::test]
async fn a_redirecting_api_is_not_followed() {
    let fake = fake_upstream().await;
    let elsewhere =
        ResponseTemplate::new(302).insert_header("location", "http://127.0.0.1:9/elsewhere");
    serve(&fake, "POST", ROUTE, elsewhere).await;

    let err = adapter(&fake).generate(&job(1)).await.unwrap_err();

    assert!(
        matches!(err, ProviderError::Status { status: 302, .. }),
        "{err:?}"
    );
}

/// A fake upstream that takes 30 s to answer.
async fn slow() -> MockServer {
    let fake = fake_upstream().await;
    let late = ResponseTemplate::new(200).set_delay(Duration::from_secs(30));
    serve(&fake, "POST", ROUTE, late).await;
    fake
}

#[tokio::test]
async fn a_slow_upstream_is_cut_off_by_the_callers_timeout() {
    let fake = slow().await;
    let adapter = adapter(&fake);
    let job = job(1);

    let outcome = tokio::time::timeout(Duration::from_millis(200), adapter.generate(&job)).await;

    assert!(outcome.is_err());
}

#[tokio::test]
async fn the_per_request_timeout_comes_from_the_provider_timeout() {
    let fake = slow().await;
    let mut spec = spec(ProviderKind::OpenaiImages, &fake.uri());
    spec.timeout_seconds = 0.2;
    let adapter = OpenAiImages::new(&spec, client().unwrap()).unwrap();

    let err = adapter.generate(&job(1)).await.unwrap_err();

    assert_eq!(err, ProviderError::Timeout);
}

#[tokio::test]
async fn an_upstream_that_is_not_listening_is_a_transport_error() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let spec = spec(ProviderKind::OpenaiImages, &base);

    let err = OpenAiImages::new(&spec, client().unwrap())
        .unwrap()
        .generate(&job(1))
        .await
        .unwrap_err();

    let ProviderError::Transport(message) = err else {
        panic!("{err:?}")
    };
    assert!(!message.contains("127.0.0.1"), "{message}");
}

#[test]
fn sizes_follow_the_ratio_with_a_1024_short_side() {
    let cases = [
        ("1:1", "1024x1024"),
        ("16:9", "1792x1024"),
        ("9:16", "1024x1792"),
        ("3:2", "1536x1024"),
        ("4:3", "1344x1024"),
        ("3:4", "1024x1344"),
        ("21:9", "2368x1024"),
        ("nonsense", "1024x1024"),
    ];
    for (ratio, size) in cases {
        assert_eq!(size_for_ratio(ratio), size, "{ratio}");
    }
}

#[test]
fn output_formats_use_openai_names() {
    assert_eq!(output_format("jpg"), "jpeg");
    assert_eq!(output_format("webp"), "webp");
    assert_eq!(output_format("png"), "png");
}
