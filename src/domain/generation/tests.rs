use serde::Deserialize;

use super::pricing::{cost_of, estimate};
use super::request::parse;
use super::*;
use crate::domain::Money;

/// A model of the embedded catalog (`config/models.toml`).
fn model(identifier: &str) -> Model {
    #[derive(Deserialize)]
    struct File {
        models: Vec<Model>,
    }
    let file: File = toml::from_str(include_str!("../../../config/models.toml")).unwrap();
    file.models
        .into_iter()
        .find(|m| m.identifier == identifier)
        .unwrap()
}

#[test]
fn defaults_fill_in_and_unknown_fields_are_named() {
    let m = &model("tidegate/pattern-1");
    let r = parse(
        br#"{"generation_prompt":"a lighthouse"}"#,
        m,
        ModelType::Image,
    )
    .unwrap();
    assert_eq!(
        (r.ratio.as_str(), r.output_format.as_str(), r.output_number),
        ("1:1", "png", 1)
    );
    let e = parse(
        br#"{"generation_prompt":"x","colour":"red"}"#,
        m,
        ModelType::Image,
    )
    .unwrap_err();
    assert_eq!(e.field, "colour");
    let e = parse(
        br#"{"generation_prompt":"x","generation_duration":2}"#,
        m,
        ModelType::Image,
    )
    .unwrap_err();
    assert_eq!(e.field, "generation_duration");
    let e = parse(br#"{"generation_prompt":"x"}"#, m, ModelType::Video).unwrap_err();
    assert_eq!(e.field, "model_identifier");
    let e = parse(
        br#"{"generation_prompt":"x","seed":-1}"#,
        m,
        ModelType::Image,
    )
    .unwrap_err();
    assert_eq!(e.field, "seed");
}

#[test]
fn video_needs_a_duration_and_prices_per_second() {
    let m = &model("tidegate/motion-1");
    let e = parse(br#"{"generation_prompt":"x"}"#, m, ModelType::Video).unwrap_err();
    assert_eq!(e.field, "generation_duration");
    let r = parse(
        br#"{"generation_prompt":"x","generation_duration":4,"generation_resolution":"360p"}"#,
        m,
        ModelType::Video,
    )
    .unwrap();
    assert_eq!(cost_of(m, &r), Ok(Money(80)));
    let est = estimate(m, 3, Some(2), None, false).unwrap();
    assert_eq!((est.per_generation, est.total), (Money(20), Money(60)));
}

#[test]
fn model_identifiers_have_one_slash_and_a_small_alphabet() {
    for ok in ["local/flux-lite", "bfl/flux.1_pro", "a/b"] {
        assert!(super::is_model_identifier(ok), "{ok}");
    }
    for bad in ["", "a", "a/", "/b", "a/b/c", "A/b", "a b/c"] {
        assert!(!super::is_model_identifier(bad), "{bad}");
    }
}
