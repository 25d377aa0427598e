//! Test support for the adapters: a fake upstream on a free local port, a provider spec pointing
//! at it, a job, and a real PNG to answer with.

use std::io::Cursor;

use serde_json::Map;
use wiremock::MockServer;

use crate::domain::generation::ModelType;
use crate::providers::{BreakerConfig, ProviderJob, ProviderKind, ProviderSpec};

/// A fake upstream on a free local port, answering what the test mounts on it.
pub(crate) async fn fake_upstream() -> MockServer {
    MockServer::start().await
}

pub(crate) fn spec(kind: ProviderKind, base_url: &str) -> ProviderSpec {
    ProviderSpec {
        id: "upstream".to_owned(),
        name: "Upstream".to_owned(),
        kind,
        description: String::new(),
        website: String::new(),
        docs: String::new(),
        base_url: Some(base_url.to_owned()),
        secret: Some("sk-test-secret".to_owned()),
        secret_file: None,
        timeout_seconds: 30.0,
        poll_interval_ms: 10,
        breaker: BreakerConfig::default(),
    }
}

pub(crate) fn job(output_number: u32) -> ProviderJob {
    ProviderJob {
        last_frame: None,
        generation_id: "gen-1".to_owned(),
        model_identifier: "acme/painter".to_owned(),
        model_type: ModelType::Image,
        raw_model_id: "painter-v2".to_owned(),
        prompt: "a lighthouse at dusk".to_owned(),
        ratio: "16:9".to_owned(),
        output_format: "png".to_owned(),
        output_number,
        input_files: Vec::new(),
        duration: None,
        resolution: None,
        generate_audio: false,
        specific: Map::new(),
    }
}

/// A valid 2×2 PNG.
pub(crate) fn tiny_png() -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image::RgbImage::new(2, 2)
        .write_to(&mut bytes, image::ImageFormat::Png)
        .unwrap();
    bytes.into_inner()
}
