//! The `openai_images` adapter: an upstream speaking OpenAI's `POST /v1/images/generations`,
//! such as OpenAI itself or a local inference server with the same API. `base_url` is the
//! server's root, without `/v1`.

use std::time::{Duration, Instant};

use reqwest::Client;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::job::{OutputFile, ProviderError, ProviderJob, ProviderOutput};
use super::spec::ProviderSpec;
use super::upstream::{Budget, Upstream, check_count, garbage, merge_specific, read_json};
use crate::domain::generation::parse_ratio;

/// The one request is the whole generation, so it may take the provider's whole timeout.
const LONGEST_REQUEST: Duration = Duration::from_secs(3600);

/// The side every size keeps when the ratio is not square.
const SHORT_SIDE: u32 = 1024;

#[derive(Deserialize)]
struct ImagesAnswer {
    data: Vec<ImageData>,
}

#[derive(Deserialize)]
struct ImageData {
    b64_json: Option<String>,
    url: Option<String>,
}

/// An `openai_images` provider.
#[derive(Debug)]
pub struct OpenAiImages {
    upstream: Upstream,
}

impl OpenAiImages {
    /// Fails when the spec's `base_url` is not an http(s) URL.
    pub fn new(spec: &ProviderSpec, client: Client) -> Result<Self, String> {
        Ok(OpenAiImages {
            upstream: Upstream::new(spec, client, LONGEST_REQUEST)?,
        })
    }

    /// Asks for `job.output_number` images and returns them with their sniffed types.
    /// `predict_time` is the time the upstream took to answer.
    pub async fn generate(&self, job: &ProviderJob) -> Result<ProviderOutput, ProviderError> {
        let started = Instant::now();
        let url = self.upstream.url(&["v1", "images", "generations"]);
        let request = self.upstream.post(url).json(&request_body(job));
        let answer: ImagesAnswer = read_json(self.upstream.send(request).await?).await?;
        let predict_time = started.elapsed().as_secs_f64();
        let files = self.files(answer.data, job.output_number).await?;
        Ok(ProviderOutput {
            files,
            predict_time: Some(predict_time),
        })
    }

    async fn files(
        &self,
        data: Vec<ImageData>,
        asked: u32,
    ) -> Result<Vec<OutputFile>, ProviderError> {
        let wanted = check_count(data.len(), asked)?;
        let mut budget = Budget::new();
        let mut files = Vec::with_capacity(wanted);
        for item in data.into_iter().take(wanted) {
            let file = match (item.b64_json, item.url) {
                (Some(b64), _) => self.upstream.file_from_base64(&b64, &mut budget)?,
                (None, Some(url)) => self.upstream.file_from_reference(&url, &mut budget).await?,
                (None, None) => return Err(garbage("an image has neither b64_json nor url")),
            };
            files.push(file);
        }
        Ok(files)
    }
}

fn request_body(job: &ProviderJob) -> Value {
    let mut body = Map::new();
    body.insert("model".to_owned(), json!(job.raw_model_id));
    body.insert("prompt".to_owned(), json!(job.prompt));
    body.insert("n".to_owned(), json!(job.output_number));
    body.insert("size".to_owned(), json!(size_for_ratio(&job.ratio)));
    body.insert(
        "output_format".to_owned(),
        json!(output_format(&job.output_format)),
    );
    body.insert("response_format".to_owned(), json!("b64_json"));
    merge_specific(&mut body, &job.specific);
    Value::Object(body)
}

/// `WxH` for a `W:H` ratio: the short side 1024, the long side the nearest multiple of 64, which
/// gives OpenAI's own sizes for 1:1, 16:9, 9:16, 3:2 and 2:3.
fn size_for_ratio(ratio: &str) -> String {
    let (w, h) = parse_ratio(ratio).unwrap_or((1, 1));
    let long = |long: u32, short: u32| {
        let exact = f64::from(SHORT_SIDE) * f64::from(long) / f64::from(short);
        (exact / 64.0).round() as u32 * 64
    };
    if w >= h {
        format!("{}x{SHORT_SIDE}", long(w, h))
    } else {
        format!("{SHORT_SIDE}x{}", long(h, w))
    }
}

fn output_format(extension: &str) -> &'static str {
    match extension {
        "jpg" | "jpeg" => "jpeg",
        "webp" => "webp",
        _ => "png",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use actix_web::{HttpRequest, HttpResponse, web};
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::providers::ProviderKind;
    use crate::providers::upstream::client;
    use crate::providers::upstream::testing::{FakeUpstream, job, spec, tiny_png};

    const ROUTE: &str = "/v1/images/generations";

    /// A fake upstream whose generations route always answers `status` with `body`.
    fn answering(status: u16, body: Value) -> FakeUpstream {
        FakeUpstream::start(move |cfg| {
            let body = body.clone();
            cfg.route(
                ROUTE,
                web::post().to(move || {
                    let body = body.clone();
                    async move { HttpResponse::build(code(status)).json(body) }
                }),
            );
        })
    }

    fn code(status: u16) -> actix_web::http::StatusCode {
        actix_web::http::StatusCode::from_u16(status).unwrap()
    }

    fn adapter(fake: &FakeUpstream) -> OpenAiImages {
        OpenAiImages::new(
            &spec(ProviderKind::OpenaiImages, &fake.base_url),
            client().unwrap(),
        )
        .unwrap()
    }

    fn png_b64() -> Value {
        json!({ "b64_json": STANDARD.encode(tiny_png()) })
    }

    #[actix_web::test]
    async fn b64_json_images_come_back_as_png_files() {
        let seen = Arc::new(Mutex::new(None));
        let recorder = seen.clone();
        let fake = FakeUpstream::start(move |cfg| {
            let recorder = recorder.clone();
            cfg.route(
                ROUTE,
                web::post().to(move |req: HttpRequest, body: web::Json<Value>| {
                    let auth = req.headers().get("authorization").cloned();
                    *recorder.lock().unwrap() = Some((auth, body.into_inner()));
                    async move { HttpResponse::Ok().json(json!({ "data": [png_b64(), png_b64()] })) }
                }),
            );
        });
        let mut job = job(2);
        job.specific.insert("quality".to_owned(), json!("high"));
        job.specific
            .insert("model".to_owned(), json!("not-this-one"));

        let output = adapter(&fake).generate(&job).await.unwrap();

        assert_eq!(output.files.len(), 2);
        assert!(output.files.iter().all(|f| f.extension == "png"));
        assert!(output.predict_time.is_some());
        let (auth, body) = seen.lock().unwrap().clone().unwrap();
        assert_eq!(auth.unwrap(), "Bearer sk-test-secret");
        assert_eq!(
            body,
            json!({
                "model": "painter-v2", "prompt": "a lighthouse at dusk", "n": 2,
                "size": "1792x1024", "output_format": "png", "response_format": "b64_json",
                "quality": "high"
            })
        );
    }

    #[actix_web::test]
    async fn url_images_are_downloaded() {
        let fake = FakeUpstream::start(|cfg| {
            cfg.route(
                ROUTE,
                web::post().to(|| async {
                    HttpResponse::Ok().json(json!({ "data": [{ "url": "/files/1.png" }] }))
                }),
            )
            .route(
                "/files/1.png",
                web::get().to(|| async { HttpResponse::Ok().body(tiny_png()) }),
            );
        });

        let output = adapter(&fake).generate(&job(1)).await.unwrap();

        assert_eq!(output.files[0].extension, "png");
        assert_eq!(output.files[0].bytes, tiny_png());
    }

    /// A fake upstream whose one image is at `/moved`, which redirects to `location`.
    fn redirecting(location: &'static str) -> FakeUpstream {
        FakeUpstream::start(move |cfg| {
            cfg.route(
                ROUTE,
                web::post().to(|| async {
                    HttpResponse::Ok().json(json!({ "data": [{ "url": "/moved" }] }))
                }),
            )
            .route(
                "/moved",
                web::get().to(move || async move {
                    HttpResponse::Found()
                        .insert_header(("location", location))
                        .finish()
                }),
            )
            .route(
                "/files/1.png",
                web::get().to(|| async { HttpResponse::Ok().body(tiny_png()) }),
            );
        })
    }

    #[actix_web::test]
    async fn downloads_follow_http_redirects_but_no_other_scheme() {
        let http = redirecting("/files/1.png");
        let ftp = redirecting("ftp://127.0.0.1/1.png");

        let output = adapter(&http).generate(&job(1)).await.unwrap();
        let err = adapter(&ftp).generate(&job(1)).await.unwrap_err();

        assert_eq!(output.files[0].bytes, tiny_png());
        assert!(matches!(err, ProviderError::Garbage(_)), "{err:?}");
    }

    #[actix_web::test]
    async fn an_upstream_error_is_a_status_with_its_message_and_without_the_secret() {
        let fake = answering(
            500,
            json!({ "error": { "message": "model crashed; key sk-test-secret" } }),
        );

        let err = adapter(&fake).generate(&job(1)).await.unwrap_err();

        assert_eq!(
            err,
            ProviderError::Status {
                status: 500,
                message: "model crashed; key [redacted]".to_owned()
            }
        );
    }

    #[actix_web::test]
    async fn payment_required_and_quota_codes_mean_the_credits_are_exhausted() {
        let payment = answering(402, json!({ "error": { "message": "pay up" } }));
        let quota = answering(
            429,
            json!({ "error": { "message": "quota", "code": "insufficient_quota" } }),
        );

        for fake in [payment, quota] {
            let err = adapter(&fake).generate(&job(1)).await.unwrap_err();
            assert_eq!(err, ProviderError::CreditsExhausted);
        }
    }

    #[actix_web::test]
    async fn unusable_answers_are_garbage() {
        let not_json = FakeUpstream::start(|cfg| {
            cfg.route(
                ROUTE,
                web::post().to(|| async { HttpResponse::Ok().body("<html>oops</html>") }),
            );
        });
        let not_an_image = answering(200, json!({ "data": [{ "b64_json": "aGVsbG8=" }] }));
        let too_few = answering(200, json!({ "data": [png_b64()] }));
        let bad_scheme = answering(200, json!({ "data": [{ "url": "file:///etc/passwd" }] }));

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

    #[actix_web::test]
    async fn a_redirecting_api_is_not_followed() {
        let fake = FakeUpstream::start(|cfg| {
            cfg.route(
                ROUTE,
                web::post().to(|| async {
                    HttpResponse::Found()
                        .insert_header(("location", "http://127.0.0.1:9/elsewhere"))
                        .finish()
                }),
            );
        });

        let err = adapter(&fake).generate(&job(1)).await.unwrap_err();

        assert!(
            matches!(err, ProviderError::Status { status: 302, .. }),
            "{err:?}"
        );
    }

    #[actix_web::test]
    async fn a_slow_upstream_is_cut_off_by_the_callers_timeout() {
        let fake = FakeUpstream::start(|cfg| {
            cfg.route(
                ROUTE,
                web::post().to(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    HttpResponse::Ok().finish()
                }),
            );
        });
        let adapter = adapter(&fake);
        let job = job(1);

        let outcome =
            tokio::time::timeout(Duration::from_millis(200), adapter.generate(&job)).await;

        assert!(outcome.is_err());
    }

    #[actix_web::test]
    async fn the_per_request_timeout_comes_from_the_provider_timeout() {
        let fake = FakeUpstream::start(|cfg| {
            cfg.route(
                ROUTE,
                web::post().to(|| async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    HttpResponse::Ok().finish()
                }),
            );
        });
        let mut spec = spec(ProviderKind::OpenaiImages, &fake.base_url);
        spec.timeout_seconds = 0.2;
        let adapter = OpenAiImages::new(&spec, client().unwrap()).unwrap();

        let err = adapter.generate(&job(1)).await.unwrap_err();

        assert_eq!(err, ProviderError::Timeout);
    }

    #[actix_web::test]
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
}
