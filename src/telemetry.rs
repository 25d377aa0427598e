//! Structured logs on stderr; `RUST_LOG` overrides the configured level.

use tracing_subscriber::EnvFilter;

use std::io::IsTerminal;

use crate::config::{ColorChoice, LogFormat, TelemetryConfig};

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
    let color = match config.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(color)
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

/// A latency distribution for `/metrics`: counts in power-of-two buckets of microseconds (1 µs
/// to about 8 s), recorded without a lock from any thread.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [std::sync::atomic::AtomicU64; BUCKETS],
    sum_us: std::sync::atomic::AtomicU64,
}

const BUCKETS: usize = 24;

impl Histogram {
    pub fn record(&self, took: std::time::Duration) {
        use std::sync::atomic::Ordering::Relaxed;
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        // Bucket i holds what took at most 2^i µs; the last one everything longer too.
        let bucket = (u64::BITS - us.saturating_sub(1).leading_zeros()) as usize;
        self.buckets[bucket.min(BUCKETS - 1)].fetch_add(1, Relaxed);
        self.sum_us.fetch_add(us, Relaxed);
    }

    /// Appends the histogram in Prometheus' text format, bounds in seconds.
    pub fn render(&self, name: &str, help: &str, out: &mut String) {
        use std::fmt::Write;
        use std::sync::atomic::Ordering::Relaxed;
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut count = 0;
        for (i, bucket) in self.buckets.iter().enumerate() {
            count += bucket.load(Relaxed);
            if i + 1 < BUCKETS {
                let le = (1u64 << i) as f64 / 1e6;
                let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {count}");
            }
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_us.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Histogram;

    #[test]
    fn a_histogram_counts_each_duration_in_the_first_bucket_that_holds_it() {
        let h = Histogram::default();
        for us in [1, 2, 3, 4, 5, 1_000] {
            h.record(Duration::from_micros(us));
        }
        let mut out = String::new();
        h.render("t", "test", &mut out);
        assert!(out.contains("t_bucket{le=\"0.000001\"} 1\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"0.000002\"} 2\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"0.000004\"} 4\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"0.000008\"} 5\n"), "{out}");
        assert!(out.contains("t_bucket{le=\"0.001024\"} 6\n"), "{out}");
        assert!(
            out.contains("t_bucket{le=\"+Inf\"} 6\nt_sum 0.001015\nt_count 6\n"),
            "{out}"
        );
    }
}
