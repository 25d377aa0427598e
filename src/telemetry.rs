//! Structured logs on stderr; `RUST_LOG` overrides the configured level.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, TelemetryConfig};

/// actix-http logs every malformed request at error level, so any client could fill the log;
/// the listener logs them at debug level instead.
const QUIET: &str = "actix_http::h1::dispatcher=off";

pub fn init(config: &TelemetryConfig) {
    let filter = EnvFilter::try_from_default_env()
        // The scheduler library announces every job it creates at info level.
        .or_else(|_| EnvFilter::try_new(format!("{},tokio_cron_scheduler=warn", config.level)))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let filter = match QUIET.parse() {
        Ok(quiet) if !filter.to_string().contains("actix_http") => filter.add_directive(quiet),
        _ => filter,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (tests, embedded use) keeps the first subscriber.
    let _ = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// The error and every cause under it, joined with ": ", each said once: for the one log line
/// an unexpected failure gets.
pub fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}
