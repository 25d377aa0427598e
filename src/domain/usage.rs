//! Usage figures: requests per route or per day, and a provider's attempts, summed from the
//! daily roll-ups.

use std::collections::BTreeMap;

use super::Money;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteUsage {
    pub route: String,
    pub total: i64,
    pub success: i64,
    pub client_errors: i64,
    pub server_errors: i64,
    pub error_codes: BTreeMap<String, i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayUsage {
    pub day: String,
    pub total: i64,
    pub success: i64,
    pub client_errors: i64,
    pub server_errors: i64,
}

/// One provider's attempts over a period (`usage_providers` of `GET /v1/usage`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProviderUsage {
    pub provider: String,
    pub submissions: i64,
    pub used: i64,
    pub cancelled: i64,
    pub discarded: i64,
    pub failed: i64,
    pub estimated_cost: Money,
    pub wasted_cost: Money,
}

/// What became of a request, as the charts split it (docs/admin.md, "Charts").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    ClientError,
    AuthRefused,
    RateLimited,
    ServerError,
}

impl Outcome {
    /// Bottom up, as the bars stack them.
    pub const ALL: [Outcome; 5] = [
        Outcome::Success,
        Outcome::ClientError,
        Outcome::AuthRefused,
        Outcome::RateLimited,
        Outcome::ServerError,
    ];

    /// 401 and 403 are refusals of the key (unknown, revoked, out of scope, address not
    /// allowed); 429 a limit; other 4xx the client's mistakes.
    pub fn of(status: u16) -> Outcome {
        match status {
            0..=399 => Outcome::Success,
            401 | 403 => Outcome::AuthRefused,
            429 => Outcome::RateLimited,
            400..=499 => Outcome::ClientError,
            _ => Outcome::ServerError,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Success => "Succeeded",
            Outcome::ClientError => "Client errors",
            Outcome::AuthRefused => "Auth refused",
            Outcome::RateLimited => "Rate limited",
            Outcome::ServerError => "Server errors",
        }
    }

    /// The CSS class of the series' colour.
    pub fn class(self) -> &'static str {
        match self {
            Outcome::Success => "o-ok",
            Outcome::ClientError => "o-client",
            Outcome::AuthRefused => "o-auth",
            Outcome::RateLimited => "o-limit",
            Outcome::ServerError => "o-server",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Upper bounds of the latency buckets in microseconds (1, 2.5, 5 steps); one more bucket holds
/// the slower requests.
pub const LATENCY_BOUNDS_US: [i64; 17] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000, 30_000_000,
];
pub const LATENCY_BUCKETS: usize = LATENCY_BOUNDS_US.len() + 1;

/// Requests by outcome and a latency histogram: one hour of the hourly roll-up, or any sum of
/// them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub outcomes: [i64; 5],
    pub latency: [i64; LATENCY_BUCKETS],
}

impl Tally {
    pub fn add(&mut self, status: u16, latency_us: i64) {
        self.outcomes[Outcome::of(status).index()] += 1;
        let bucket = LATENCY_BOUNDS_US.partition_point(|bound| *bound < latency_us);
        self.latency[bucket] += 1;
    }

    pub fn merge(&mut self, other: &Tally) {
        for (a, b) in self.outcomes.iter_mut().zip(other.outcomes) {
            *a += b;
        }
        for (a, b) in self.latency.iter_mut().zip(other.latency) {
            *a += b;
        }
    }

    pub fn total(&self) -> i64 {
        self.outcomes.iter().sum()
    }

    pub fn count(&self, outcome: Outcome) -> i64 {
        self.outcomes[outcome.index()]
    }

    /// 4xx of any kind.
    pub fn client_side(&self) -> i64 {
        self.count(Outcome::ClientError)
            + self.count(Outcome::AuthRefused)
            + self.count(Outcome::RateLimited)
    }

    /// The latency under which a share `q` (0 to 1) of the requests finished, in microseconds,
    /// read from the histogram by linear interpolation inside the bucket it falls in (so within
    /// that bucket's bounds); `None` without requests. The open last bucket answers its lower
    /// bound.
    pub fn percentile(&self, q: f64) -> Option<i64> {
        let total: i64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
        let mut below = 0i64;
        for (i, n) in self.latency.iter().enumerate() {
            if *n > 0 && (below + n) as f64 >= rank {
                let low = if i == 0 { 0 } else { LATENCY_BOUNDS_US[i - 1] };
                let Some(high) = LATENCY_BOUNDS_US.get(i) else {
                    return Some(low);
                };
                let within = (rank - below as f64) / *n as f64;
                return Some(low + ((high - low) as f64 * within).round() as i64);
            }
            below += n;
        }
        None
    }
}

/// A latency in microseconds as people read it: "180 µs", "4.2 ms", "1.3 s".
pub fn latency_text(us: i64) -> String {
    match us {
        ..1_000 => format!("{us} µs"),
        1_000..10_000 => format!("{:.1} ms", us as f64 / 1_000.0),
        10_000..1_000_000 => format!("{} ms", (us + 500) / 1_000),
        _ => format!("{:.1} s", us as f64 / 1_000_000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_fall_into_the_five_outcomes() {
        assert_eq!(Outcome::of(200), Outcome::Success);
        assert_eq!(Outcome::of(304), Outcome::Success);
        assert_eq!(Outcome::of(401), Outcome::AuthRefused);
        assert_eq!(Outcome::of(403), Outcome::AuthRefused);
        assert_eq!(Outcome::of(429), Outcome::RateLimited);
        assert_eq!(Outcome::of(402), Outcome::ClientError);
        assert_eq!(Outcome::of(404), Outcome::ClientError);
        assert_eq!(Outcome::of(503), Outcome::ServerError);
    }

    #[test]
    fn latencies_land_in_the_bucket_whose_bound_holds_them() {
        let mut t = Tally::default();
        for us in [0, 100, 101, 250, 30_000_000, 30_000_001] {
            t.add(200, us);
        }
        assert_eq!(&t.latency[..3], &[2, 2, 0]);
        assert_eq!(t.latency[16], 1);
        assert_eq!(t.latency[17], 1);
        assert_eq!(t.total(), 6);
    }

    #[test]
    fn percentiles_are_interpolated_inside_their_bucket() {
        let mut t = Tally::default();
        assert_eq!(t.percentile(0.5), None);
        // 100 requests between 1 and 2.5 ms: the median is halfway.
        for _ in 0..100 {
            t.add(200, 2_000);
        }
        assert_eq!(t.percentile(0.5), Some(1_750));
        assert_eq!(t.percentile(0.95), Some(2_425));
        // Five slow ones beyond the last bound read as that bound.
        for _ in 0..5 {
            t.add(500, 40_000_000);
        }
        assert_eq!(t.percentile(1.0), Some(30_000_000));
        assert_eq!(t.count(Outcome::ServerError), 5);
    }

    #[test]
    fn latencies_read_in_their_unit() {
        assert_eq!(latency_text(180), "180 µs");
        assert_eq!(latency_text(4_240), "4.2 ms");
        assert_eq!(latency_text(86_400), "86 ms");
        assert_eq!(latency_text(1_300_000), "1.3 s");
    }
}
