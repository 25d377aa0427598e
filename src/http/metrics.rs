//! Counters for `GET /metrics` (Prometheus text format, when `server.metrics = true`).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Default)]
pub struct Metrics {
    pub v1_requests: [AtomicU64; 6],
    pub firewall_refusals: AtomicU64,
    pub auth_failures: AtomicU64,
    pub log_failures: AtomicU64,
    /// Shared with the listener, which refuses connections over an address's limit.
    pub connections_refused: std::sync::Arc<AtomicU64>,
}

impl Metrics {
    pub fn count_response(&self, status: u16) {
        let class = usize::from(status / 100).min(5);
        self.v1_requests[class].fetch_add(1, Ordering::Relaxed);
    }

    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP tidegate_v1_responses_total /v1 responses by status class."
        );
        let _ = writeln!(out, "# TYPE tidegate_v1_responses_total counter");
        for (class, n) in self.v1_requests.iter().enumerate().skip(1) {
            let _ = writeln!(
                out,
                "tidegate_v1_responses_total{{class=\"{class}xx\"}} {}",
                n.load(Ordering::Relaxed)
            );
        }
        for (name, help, counter) in [
            (
                "tidegate_firewall_refusals_total",
                "Requests refused by the schema firewall.",
                &self.firewall_refusals,
            ),
            (
                "tidegate_auth_failures_total",
                "Failed authentications (BSE1001/BSE1002).",
                &self.auth_failures,
            ),
            (
                "tidegate_request_log_failures_total",
                "Requests refused because the log could not be written.",
                &self.log_failures,
            ),
            (
                "tidegate_connections_refused_total",
                "Connections closed at once because their address held too many.",
                &self.connections_refused,
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                counter.load(Ordering::Relaxed)
            );
        }
        out
    }
}
