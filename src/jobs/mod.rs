//! Scheduled maintenance (docs/keys.md, "Expiry and the scheduled jobs"): six jobs, each running
//! one blocking use case of `service::maintenance`, `service::generations` or `service::notify`
//! off the async threads.
//! The scheduler, the tests and the command line all run them through [`run_job`] or [`Job::run`].

pub(crate) mod deliverer;
pub(crate) mod generation;
pub(crate) mod mailer;
pub(crate) mod node;
mod scheduler;
pub(crate) mod syslog;

pub use scheduler::{Scheduler, validate_schedules};

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tracing::Instrument;

use crate::config::{Config, JobsConfig};
use crate::domain::Clock;
use crate::domain::generation::Catalog;
use crate::service::{ServiceError, generations, maintenance, notify};
use crate::store::Store;

/// Everything a job needs: the store, the configuration, the clock (replaceable in tests) and
/// the model catalog (for the providers' time limits).
#[derive(Clone)]
pub struct JobContext {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: Clock,
    pub catalog: Arc<Catalog>,
}

pub const JOB_NAMES: [&str; 6] = [
    "expire-rotated-keys",
    "warn-expiring-keys",
    "purge-request-logs",
    "purge-idempotency-keys",
    "fail-stuck-generations",
    "notify-keys",
];

/// How much longer than its providers' timeouts a generation may run before it is failed: room
/// for storing its files and for retrying the write of its outcome.
pub const STUCK_GENERATION_GRACE: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Job {
    ExpireRotatedKeys,
    WarnExpiringKeys,
    PurgeRequestLogs,
    PurgeIdempotencyKeys,
    FailStuckGenerations,
    NotifyKeys,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("unknown job {0:?}; the jobs are {names}", names = JOB_NAMES.join(", "))]
    UnknownJob(String),
    #[error("{job} failed: {source}")]
    Failed {
        job: &'static str,
        source: ServiceError,
    },
    #[error("invalid configuration: {0}")]
    Schedule(String),
    #[error("scheduler: {0}")]
    Scheduler(#[from] tokio_cron_scheduler::JobSchedulerError),
}

/// What one run did, small enough to print or log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "job", rename_all = "kebab-case")]
pub enum JobOutcome {
    ExpireRotatedKeys {
        keys_expired: u64,
    },
    WarnExpiringKeys {
        keys_warned: u64,
    },
    PurgeRequestLogs {
        request_logs_deleted: u64,
        refusal_rows_deleted: u64,
        webhook_deliveries_deleted: u64,
        client_addresses_cleared: u64,
    },
    PurgeIdempotencyKeys {
        idempotency_keys_deleted: u64,
    },
    FailStuckGenerations {
        generations_failed: u64,
    },
    NotifyKeys {
        rate_limited_notices: u64,
        unused_notices: u64,
        grace_ending_notices: u64,
    },
}

impl Job {
    pub const ALL: [Job; 6] = [
        Job::ExpireRotatedKeys,
        Job::WarnExpiringKeys,
        Job::PurgeRequestLogs,
        Job::PurgeIdempotencyKeys,
        Job::FailStuckGenerations,
        Job::NotifyKeys,
    ];

    pub fn name(self) -> &'static str {
        JOB_NAMES[self as usize]
    }

    pub fn parse(name: &str) -> Result<Job, JobError> {
        Job::ALL
            .into_iter()
            .find(|job| job.name() == name)
            .ok_or_else(|| JobError::UnknownJob(name.to_owned()))
    }

    /// The configuration key holding this job's cron string.
    pub fn config_key(self) -> &'static str {
        match self {
            Job::ExpireRotatedKeys => "jobs.expire_rotated_keys",
            Job::WarnExpiringKeys => "jobs.warn_expiring_keys",
            Job::PurgeRequestLogs => "jobs.purge_request_logs",
            Job::PurgeIdempotencyKeys => "jobs.purge_idempotency_keys",
            Job::FailStuckGenerations => "jobs.fail_stuck_generations",
            Job::NotifyKeys => "jobs.notify_keys",
        }
    }

    /// The job's cron string; empty when the job is disabled.
    pub fn schedule(self, config: &JobsConfig) -> &str {
        let cron = match self {
            Job::ExpireRotatedKeys => &config.expire_rotated_keys,
            Job::WarnExpiringKeys => &config.warn_expiring_keys,
            Job::PurgeRequestLogs => &config.purge_request_logs,
            Job::PurgeIdempotencyKeys => &config.purge_idempotency_keys,
            Job::FailStuckGenerations => &config.fail_stuck_generations,
            Job::NotifyKeys => &config.notify_keys,
        };
        cron.trim()
    }

    /// Runs the job once, now (by `ctx.clock`), on the blocking thread pool.
    pub async fn run(self, ctx: &JobContext) -> Result<JobOutcome, JobError> {
        // Every log line of the run, the store's included, carries the job's name.
        let span = tracing::info_span!("job", job = self.name());
        self.run_now(ctx).instrument(span).await
    }

    async fn run_now(self, ctx: &JobContext) -> Result<JobOutcome, JobError> {
        let now = ctx.clock.now();
        let config = ctx.config.clone();
        let catalog = ctx.catalog.clone();
        let result =
            ctx.store
                .run(move |db| match self {
                    Job::ExpireRotatedKeys => maintenance::record_expired_keys(db, now)
                        .map(|keys_expired| JobOutcome::ExpireRotatedKeys { keys_expired }),
                    Job::WarnExpiringKeys => {
                        maintenance::warn_expiring_keys(db, now, config.jobs.expiry_warning_days)
                            .map(|keys_warned| JobOutcome::WarnExpiringKeys { keys_warned })
                    }
                    Job::PurgeRequestLogs => {
                        let retention = maintenance::LogRetention {
                            days: config.logs.retention_days,
                            client_ip_days: config.logs.client_ip_days,
                        };
                        let hours = config.webhooks.queue_hours;
                        maintenance::purge_request_logs(db, now, retention, hours).map(|purged| {
                            JobOutcome::PurgeRequestLogs {
                                request_logs_deleted: purged.request_logs,
                                refusal_rows_deleted: purged.refusal_rows,
                                webhook_deliveries_deleted: purged.webhook_deliveries,
                                client_addresses_cleared: purged.client_addresses,
                            }
                        })
                    }
                    Job::PurgeIdempotencyKeys => maintenance::purge_idempotency_keys(db, now).map(
                        |idempotency_keys_deleted| JobOutcome::PurgeIdempotencyKeys {
                            idempotency_keys_deleted,
                        },
                    ),
                    Job::FailStuckGenerations => {
                        let allowed = |providers: &[String]| {
                            let limit = catalog.chain_timeout(providers) + STUCK_GENERATION_GRACE;
                            i64::try_from(limit.as_millis()).unwrap_or(i64::MAX)
                        };
                        generations::fail_overdue(db, now, allowed).map(|generations_failed| {
                            JobOutcome::FailStuckGenerations { generations_failed }
                        })
                    }
                    Job::NotifyKeys => {
                        let rules = notify::UsageNotices {
                            refusals_per_hour: config.jobs.ratelimit_refusals_per_hour,
                            unused_days: config.jobs.unused_key_days,
                        };
                        notify::notify_keys(db, now, rules).map(|sent| JobOutcome::NotifyKeys {
                            rate_limited_notices: sent.rate_limited,
                            unused_notices: sent.unused,
                            grace_ending_notices: sent.grace_ending,
                        })
                    }
                })
                .await;
        result.map_err(|source| JobError::Failed {
            job: self.name(),
            source,
        })
    }
}

/// Runs the job called `name` (one of [`JOB_NAMES`]) once.
pub async fn run_job(name: &str, ctx: &JobContext) -> Result<JobOutcome, JobError> {
    Job::parse(name)?.run(ctx).await
}

impl JobOutcome {
    pub fn job(&self) -> Job {
        match self {
            JobOutcome::ExpireRotatedKeys { .. } => Job::ExpireRotatedKeys,
            JobOutcome::WarnExpiringKeys { .. } => Job::WarnExpiringKeys,
            JobOutcome::PurgeRequestLogs { .. } => Job::PurgeRequestLogs,
            JobOutcome::PurgeIdempotencyKeys { .. } => Job::PurgeIdempotencyKeys,
            JobOutcome::FailStuckGenerations { .. } => Job::FailStuckGenerations,
            JobOutcome::NotifyKeys { .. } => Job::NotifyKeys,
        }
    }

    /// Whether the run changed anything (quiet runs are logged at debug level only).
    pub fn changed_anything(&self) -> bool {
        match *self {
            JobOutcome::ExpireRotatedKeys { keys_expired } => keys_expired > 0,
            JobOutcome::WarnExpiringKeys { keys_warned } => keys_warned > 0,
            JobOutcome::PurgeRequestLogs {
                request_logs_deleted,
                refusal_rows_deleted,
                webhook_deliveries_deleted,
                client_addresses_cleared,
            } => {
                request_logs_deleted
                    + refusal_rows_deleted
                    + webhook_deliveries_deleted
                    + client_addresses_cleared
                    > 0
            }
            JobOutcome::PurgeIdempotencyKeys {
                idempotency_keys_deleted,
            } => idempotency_keys_deleted > 0,
            JobOutcome::FailStuckGenerations { generations_failed } => generations_failed > 0,
            JobOutcome::NotifyKeys {
                rate_limited_notices,
                unused_notices,
                grace_ending_notices,
            } => rate_limited_notices + unused_notices + grace_ending_notices > 0,
        }
    }

    /// One line for people, e.g. `purge-idempotency-keys: deleted 3 idempotency records`.
    pub fn summary(&self) -> String {
        let what = match *self {
            JobOutcome::ExpireRotatedKeys { keys_expired } => {
                format!("recorded the expiry of {}", count(keys_expired, "key"))
            }
            JobOutcome::WarnExpiringKeys { keys_warned } => {
                format!("warned about {} expiring soon", count(keys_warned, "key"))
            }
            JobOutcome::PurgeRequestLogs {
                request_logs_deleted,
                refusal_rows_deleted,
                webhook_deliveries_deleted,
                client_addresses_cleared,
            } => format!(
                "deleted {}, {} and {}; cleared the client address of {}",
                count(request_logs_deleted, "request-log row"),
                count(refusal_rows_deleted, "daily refusal count"),
                count(webhook_deliveries_deleted, "webhook delivery"),
                count(client_addresses_cleared, "row")
            ),
            JobOutcome::PurgeIdempotencyKeys {
                idempotency_keys_deleted,
            } => format!(
                "deleted {}",
                count(idempotency_keys_deleted, "idempotency record")
            ),
            JobOutcome::FailStuckGenerations { generations_failed } => format!(
                "failed and refunded {}",
                count(generations_failed, "stuck generation")
            ),
            JobOutcome::NotifyKeys {
                rate_limited_notices,
                unused_notices,
                grace_ending_notices,
            } => format!(
                "sent {}, {} and {}",
                count(rate_limited_notices, "rate-limit notice"),
                count(unused_notices, "unused-key notice"),
                count(grace_ending_notices, "grace-ending notice")
            ),
        };
        format!("{}: {what}", self.job().name())
    }
}

fn count(n: u64, thing: &str) -> String {
    // "delivery" → "deliveries", "key" → "keys".
    let stem = thing
        .strip_suffix('y')
        .filter(|stem| !stem.ends_with(['a', 'e', 'i', 'o', 'u']));
    match (n, stem) {
        (1, _) => format!("1 {thing}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        (_, None) => format!("{n} {thing}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_is_found_by_its_name_and_unknown_names_list_the_valid_ones() {
        for job in Job::ALL {
            assert_eq!(Job::parse(job.name()).ok(), Some(job));
        }
        let err = Job::parse("purge-everything").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "unknown job \"purge-everything\"; the jobs are expire-rotated-keys, \
                 warn-expiring-keys, purge-request-logs, purge-idempotency-keys, \
                 fail-stuck-generations, notify-keys"
            )
        );
    }

    #[test]
    fn outcomes_read_as_sentences_and_serialise_with_the_job_name() {
        let outcome = JobOutcome::PurgeRequestLogs {
            request_logs_deleted: 1,
            refusal_rows_deleted: 2,
            webhook_deliveries_deleted: 0,
            client_addresses_cleared: 3,
        };
        assert_eq!(
            outcome.summary(),
            "purge-request-logs: deleted 1 request-log row, 2 daily refusal counts and 0 webhook \
             deliveries; cleared the client address of 3 rows"
        );
        let json = serde_json::to_value(&outcome).ok();
        assert_eq!(
            json,
            Some(serde_json::json!({
                "job": "purge-request-logs",
                "request_logs_deleted": 1,
                "refusal_rows_deleted": 2,
                "webhook_deliveries_deleted": 0,
                "client_addresses_cleared": 3
            }))
        );
    }
}
