use base64::Engine as _;

use super::answer::{BASE64, MAX_FILE_BYTES};
use super::testing::{spec, tiny_png};
use super::*;
use crate::providers::ProviderKind;

fn upstream(base: &str, secret: Option<&str>) -> Upstream {
    let mut spec = spec(ProviderKind::HttpAsync, base);
    spec.secret = secret.map(str::to_owned);
    Upstream::new(&spec, client().unwrap(), Duration::from_secs(30)).unwrap()
}

#[test]
fn urls_stay_under_the_base_path_whatever_the_id() {
    let u = upstream("http://127.0.0.1:9/api/", None);
    assert_eq!(
        u.url(&["predictions", "../../admin", "cancel"]).as_str(),
        "http://127.0.0.1:9/api/predictions/..%2F..%2Fadmin/cancel"
    );
}

#[test]
fn a_base_url_that_is_not_http_is_refused() {
    for base in ["file:///tmp", "not a url", "mailto:a@b.c"] {
        let err = Upstream::new(
            &spec(ProviderKind::OpenaiImages, base),
            client().unwrap(),
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(err.contains("base_url"), "{base}: {err}");
    }
}

#[test]
fn excerpts_are_short_single_line_and_never_carry_the_secret() {
    let u = upstream("http://127.0.0.1:9", Some("sk-live-123"));
    assert_eq!(
        u.excerpt("bad key sk-live-123\nretry"),
        "bad key [redacted] retry"
    );
    let long = u.excerpt(&"é".repeat(500));
    assert_eq!(long.chars().count(), 200);
    assert!(long.ends_with('…'));
}

#[test]
fn base64_and_data_url_files_are_sniffed() {
    let u = upstream("http://127.0.0.1:9", None);
    let encoded = BASE64.encode(tiny_png());
    let file = u.file_from_base64(&encoded, &mut Budget::new()).unwrap();
    assert_eq!(file.extension, "png");
    let unknown = BASE64.encode(b"hello, not an image");
    assert!(matches!(
        u.file_from_base64(&unknown, &mut Budget::new()),
        Err(ProviderError::Garbage(_))
    ));
}

#[test]
fn a_budget_refuses_files_past_the_caps() {
    let mut budget = Budget::new();
    assert!(budget.take(MAX_FILE_BYTES + 1).is_err());
    for _ in 0..5 {
        budget.take(MAX_FILE_BYTES).unwrap();
    }
    assert!(budget.take(MAX_FILE_BYTES).is_err());
}

#[test]
fn out_of_credit_codes_are_recognised_where_openai_puts_them() {
    let quota = serde_json::json!({ "error": { "type": "insufficient_quota" } });
    let billing = serde_json::json!({ "error": { "code": "billing_hard_limit_reached" } });
    let other = serde_json::json!({ "error": { "code": "rate_limit_exceeded" } });
    assert!(says_out_of_credit(&quota) && says_out_of_credit(&billing));
    assert!(!says_out_of_credit(&other));
}
