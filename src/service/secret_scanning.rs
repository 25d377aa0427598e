//! GitHub's secret scanning reports (docs/keys.md, "Leaked keys"): the public keys they are
//! checked with, and the endpoint's own rate limit, per node and per minute.

use std::sync::Mutex;

use crate::providers::github_keys::PublicKeys;

/// The endpoint's keys and its own rate limit (per node, per minute).
pub struct SecretScanning {
    pub keys: PublicKeys,
    per_minute: u32,
    window: Mutex<(i64, u32)>,
}

impl SecretScanning {
    pub fn new(config: &crate::config::SecretScanningConfig) -> Result<SecretScanning, String> {
        Ok(SecretScanning {
            keys: PublicKeys::new(config)?,
            per_minute: config.requests_per_minute,
            window: Mutex::new((0, 0)),
        })
    }

    /// Counts a report in the present minute; the seconds to wait when it is one too many.
    pub fn admit(&self, now_ms: i64) -> Result<(), u64> {
        let minute = now_ms.div_euclid(60_000);
        let mut window = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if window.0 != minute {
            *window = (minute, 0);
        }
        if window.1 >= self.per_minute {
            return Err(u64::try_from(60 - now_ms.rem_euclid(60_000) / 1000).unwrap_or(60));
        }
        window.1 += 1;
        Ok(())
    }
}
