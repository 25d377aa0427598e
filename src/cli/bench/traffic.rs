//! The made-up traffic `bench-seed` logs: which keys, routes, errors and latencies, and when.

use std::borrow::Cow;
use std::sync::Arc;

use crate::domain::key::ApiKey;
use crate::domain::{Region, Timestamp};
use crate::store::request_log::LogEntry;
use crate::wire::error::ErrorCode;
use crate::wire::error::ErrorCode::{
    AuthenticationFailed as Auth, ConcurrencyLimitExceeded as Busy, GenerationNotFound as NoGen,
    IdempotencyKeyReused as Reused, InsufficientCredits as Credits,
    InsufficientPermissions as Scope, InternalError as Internal, InvalidInput as Invalid,
    ModelNotFound as NoModel, ProviderError as Provider, RateLimitExceeded as Rate,
};

/// SplitMix64: a small deterministic generator, so that every seeded store has the same traffic.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (1.0 - self.unit(), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// An item of `table`, each as likely as its weight.
    fn pick<T: Copy>(&mut self, table: &[(u32, T)]) -> Option<T> {
        let total: u64 = table.iter().map(|(w, _)| u64::from(*w)).sum();
        let mut at = self.next_u64() % total.max(1);
        for (w, item) in table {
            if at < u64::from(*w) {
                return Some(*item);
            }
            at -= u64::from(*w);
        }
        None
    }
}

/// One /v1 operation's share of the traffic: its median latency and the errors it answers with.
struct Route {
    weight: u32,
    method: &'static str,
    template: &'static str,
    median_ms: f64,
    errors: &'static [(u32, ErrorCode)],
}

const GENERATE_ERRORS: &[(u32, ErrorCode)] = &[
    (5, Invalid),
    (4, Rate),
    (2, NoModel),
    (2, Scope),
    (1, Credits),
    (1, Busy),
    (1, Reused),
    (1, Auth),
    (1, Internal),
    (1, Provider),
];

const ROUTES: &[Route] = &[
    Route {
        weight: 30,
        method: "GET",
        template: "/v1/status",
        median_ms: 0.4,
        errors: &[(4, Rate), (2, Auth), (1, Internal)],
    },
    Route {
        weight: 20,
        method: "POST",
        template: "/v1/generate/image/{model_identifier}",
        median_ms: 35.0,
        errors: GENERATE_ERRORS,
    },
    Route {
        weight: 3,
        method: "POST",
        template: "/v1/generate/video/{model_identifier}",
        median_ms: 60.0,
        errors: GENERATE_ERRORS,
    },
    Route {
        weight: 22,
        method: "GET",
        template: "/v1/content/{generation_id}",
        median_ms: 1.2,
        errors: &[(4, NoGen), (3, Rate), (1, Auth)],
    },
    Route {
        weight: 6,
        method: "GET",
        template: "/v1/content/list",
        median_ms: 3.0,
        errors: &[(1, Invalid), (1, Rate)],
    },
    Route {
        weight: 8,
        method: "GET",
        template: "/v1/library/models",
        median_ms: 0.8,
        errors: &[(2, Rate), (1, Scope)],
    },
    Route {
        weight: 2,
        method: "GET",
        template: "/v1/library/providers",
        median_ms: 0.6,
        errors: &[(1, Rate)],
    },
    Route {
        weight: 3,
        method: "GET",
        template: "/v1/usage",
        median_ms: 6.0,
        errors: &[(1, Invalid), (1, Rate)],
    },
    Route {
        weight: 2,
        method: "GET",
        template: "/v1/user/account",
        median_ms: 0.7,
        errors: &[(1, Rate)],
    },
    Route {
        weight: 1,
        method: "GET",
        template: "/v1/user/billing",
        median_ms: 0.7,
        errors: &[(1, Rate)],
    },
    Route {
        weight: 2,
        method: "GET",
        template: "/v1/estimate/{model_identifier}",
        median_ms: 0.5,
        errors: &[(2, NoModel), (2, Invalid)],
    },
    Route {
        weight: 1,
        method: "DELETE",
        template: "/v1/content/{generation_id}",
        median_ms: 4.0,
        errors: &[(2, NoGen), (1, Scope)],
    },
    Route {
        weight: 1,
        method: "POST",
        template: "/v1/content/generation/cancel/{generation_id}",
        median_ms: 2.0,
        errors: &[(2, NoGen), (1, Scope)],
    },
];

const MODELS: &[(u32, &str)] = &[
    (6, "tidegate/pattern-1"),
    (3, "tidegate/gradient-1"),
    (1, "tidegate/motion-1"),
];

const USER_AGENTS: &[&str] = &[
    "babysea-python/1.8.2",
    "babysea-node/2.3.0",
    "python-requests/2.32.3",
    "curl/8.5.0",
    "Go-http-client/1.1",
];

/// How many requests in a thousand fail.
const ERRORS_PER_THOUSAND: u64 = 60;

/// Made-up requests, oldest first, spread evenly over the last `days` days: keys by a Zipf law
/// (exponent 1.1: with 10,000 keys the busiest has about 15 % of the rows and most have a
/// handful), routes and errors by the tables above, latencies log-normal around each route's
/// median (from 0.2 ms to seconds).
pub(super) struct Traffic {
    rng: Rng,
    keys: Vec<Arc<ApiKey>>,
    /// Cumulative key weights, for a binary search.
    cumulative: Vec<f64>,
    routes: Vec<(u32, usize)>,
    region: &'static str,
    start: i64,
    span: i64,
    count: u64,
    next: u64,
}

impl Traffic {
    pub(super) fn new(
        keys: Vec<Arc<ApiKey>>,
        count: u64,
        days: u32,
        now: Timestamp,
        region: Region,
    ) -> Self {
        let mut total = 0.0;
        let cumulative = (0..keys.len())
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).powf(1.1);
                total
            })
            .collect();
        let span = i64::from(days) * Timestamp::MS_PER_DAY;
        Traffic {
            rng: Rng(0x7469_6465_6761_7465),
            keys,
            cumulative,
            routes: ROUTES
                .iter()
                .enumerate()
                .map(|(i, r)| (r.weight, i))
                .collect(),
            region: region.as_str(),
            start: now.millis() - span,
            span,
            count,
            next: 0,
        }
    }

    fn key(&mut self) -> (usize, Arc<ApiKey>) {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let at = self.rng.unit() * total;
        let rank = self
            .cumulative
            .partition_point(|&c| c <= at)
            .min(self.keys.len().saturating_sub(1));
        (rank, Arc::clone(&self.keys[rank]))
    }

    fn hex(&mut self, words: usize) -> String {
        (0..words)
            .map(|_| format!("{:016x}", self.rng.next_u64()))
            .collect()
    }
}

impl Iterator for Traffic {
    type Item = LogEntry;

    fn next(&mut self) -> Option<LogEntry> {
        if self.next >= self.count || self.keys.is_empty() {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let offset = (i as f64 + self.rng.unit()) / self.count as f64 * self.span as f64;
        let (rank, key) = self.key();
        let route = &ROUTES[self.rng.pick(&self.routes)?];
        let error = if self.rng.next_u64() % 1000 < ERRORS_PER_THOUSAND {
            self.rng.pick(route.errors)
        } else {
            None
        };
        let endpoint = if route.template.contains("{model_identifier}") {
            let model = self.rng.pick(MODELS)?;
            route.template.replace("{model_identifier}", model)
        } else if route.template.contains("{generation_id}") {
            let id = uuid::Uuid::from_u64_pair(self.rng.next_u64(), self.rng.next_u64());
            route.template.replace("{generation_id}", &id.to_string())
        } else {
            route.template.to_owned()
        };
        // Refusals before any work are fast; the rest are log-normal around the median.
        let median = if error.is_some_and(|e| e.status() == 401 || e.status() == 429) {
            0.3
        } else {
            route.median_ms
        };
        let latency_ms = (median * (1.1 * self.rng.normal()).exp()).clamp(0.2, 30_000.0);
        // A key's clients come from a few addresses.
        let address = self.rng.next_u64() % 3;
        let ip_hash = {
            let mut seeded = Rng(((rank as u64) << 8) | address);
            (0..4)
                .map(|_| format!("{:016x}", seeded.next_u64()))
                .collect()
        };
        let status = error.map_or(200, ErrorCode::status);
        let replayed =
            route.method == "POST" && error.is_none() && self.rng.next_u64().is_multiple_of(100);
        Some(LogEntry {
            request_id: format!("req_{}", self.hex(2)),
            key,
            method: Cow::Borrowed(route.method),
            endpoint,
            route: route.template.to_owned(),
            query: match route.template {
                "/v1/content/list" => Some("limit=20".into()),
                "/v1/usage" => Some("days=30".into()),
                _ => None,
            },
            status_code: status,
            error_code: error.map(ErrorCode::code),
            idempotency_replayed: replayed,
            ip_hash,
            // Documentation addresses (RFC 5737), as recent rows keep them.
            client_ip: Some(format!("192.0.2.{}", rank % 250 + address as usize + 1)),
            user_agent: Some(USER_AGENTS[rank % USER_AGENTS.len()].to_owned()),
            region: self.region,
            latency_us: (latency_ms * 1000.0) as i64,
            created_at: self.start + offset as i64,
            // A 401 is a key that was refused (revoked, expired, …): not a use of it.
            authenticated: status != 401,
            decided_at: None,
            arrived: std::time::Instant::now(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: usize) -> Vec<Arc<ApiKey>> {
        (0..n)
            .map(|i| {
                let mut key = super::super::seeded_key(
                    "acc",
                    format!("bye_{i}"),
                    String::new(),
                    Timestamp(0),
                );
                key.id = format!("key-{i}");
                Arc::new(key)
            })
            .collect()
    }

    #[test]
    fn seeded_traffic_is_in_time_order_with_matching_error_codes_and_busiest_first() {
        let now = Timestamp(1_800_000_000_000);
        let rows: Vec<LogEntry> = Traffic::new(keys(100), 20_000, 90, now, Region::Us).collect();
        assert_eq!(rows.len(), 20_000);
        let first = rows[0].created_at;
        assert!(
            first >= now.millis() - 90 * Timestamp::MS_PER_DAY,
            "{first}"
        );
        assert!(rows.windows(2).all(|w| w[0].created_at <= w[1].created_at));
        assert!(rows.iter().all(|r| r.created_at <= now.millis()));
        for r in &rows {
            match r.error_code {
                None => assert_eq!(r.status_code, 200),
                Some(code) => {
                    let parsed = ErrorCode::parse(code).map(ErrorCode::status);
                    assert_eq!(parsed, Some(r.status_code), "{code}");
                }
            }
            assert!(!r.endpoint.contains('{'), "{}", r.endpoint);
            assert!(
                (200..=30_000_000).contains(&r.latency_us),
                "{}",
                r.latency_us
            );
        }
        let errors = rows.iter().filter(|r| r.status_code != 200).count();
        assert!((800..1600).contains(&errors), "{errors} errors");
        let busiest = rows.iter().filter(|r| r.key.id == "key-0").count();
        let second = rows.iter().filter(|r| r.key.id == "key-1").count();
        assert!(busiest > second && second > 0, "{busiest} {second}");
        let statuses = rows.iter().filter(|r| r.route == "/v1/status").count();
        assert!((5_000..7_000).contains(&statuses), "{statuses}");
    }
}
