//! The cron scheduler: one tokio-cron-scheduler job per configured cron string. Each run logs its
//! outcome; a failing job is logged and the others go on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job as CronJob, JobScheduler};

use super::{Job, JobContext, JobError};
use crate::config::JobsConfig;

const SYNTAX: &str = "expected 6 or 7 fields in range: second minute hour day-of-month month \
                      day-of-week [year], in UTC";

/// Checks every non-empty cron string, naming the key of the first bad one. Run at start-up (by
/// configuration validation), so a typo stops the server instead of silently disabling a job.
pub fn validate_schedules(config: &JobsConfig) -> Result<(), String> {
    for job in Job::ALL {
        let cron = job.schedule(config);
        if cron.is_empty() {
            continue;
        }
        check_cron(cron).map_err(|why| {
            format!(
                "{}: invalid cron expression {cron:?} ({why})",
                job.config_key()
            )
        })?;
    }
    Ok(())
}

/// Parses with the scheduler's own parser, so what passes here is what it will accept.
fn check_cron(cron: &str) -> Result<(), &'static str> {
    let mut parsed = CronJob::new_async(cron, |_, _| Box::pin(async {})).map_err(|_| SYNTAX)?;
    let data = parsed.job_data().map_err(|_| SYNTAX)?;
    // The scheduler silently drops a job with no next run (e.g. 30 February, a past year).
    if data.next_tick == 0 {
        return Err("it never fires");
    }
    Ok(())
}

pub struct Scheduler {
    /// `None` when every job is disabled.
    inner: Option<JobScheduler>,
    /// One lock per job, held while it runs.
    running: Vec<Arc<Mutex<()>>>,
    stopping: Arc<AtomicBool>,
}

impl Scheduler {
    /// Registers every enabled job and starts ticking. Must be called inside a tokio runtime.
    pub async fn start(ctx: JobContext) -> Result<Scheduler, JobError> {
        validate_schedules(&ctx.config.jobs).map_err(JobError::Schedule)?;
        let stopping = Arc::new(AtomicBool::new(false));
        let enabled: Vec<(Job, String)> = Job::ALL
            .into_iter()
            .map(|job| (job, job.schedule(&ctx.config.jobs).to_owned()))
            .filter(|(_, cron)| !cron.is_empty())
            .collect();
        if enabled.is_empty() {
            tracing::info!("every scheduled job is disabled");
            return Ok(Scheduler {
                inner: None,
                running: Vec::new(),
                stopping,
            });
        }
        let mut inner = JobScheduler::new().await?;
        // Initialised up front: `add` would otherwise log "Uninited" at info level.
        inner.init().await?;
        let mut running = Vec::new();
        for (job, cron) in enabled {
            let lock = Arc::new(Mutex::new(()));
            running.push(lock.clone());
            let (ctx, stopping) = (ctx.clone(), stopping.clone());
            let task = CronJob::new_async(cron.as_str(), move |_, _| {
                let (ctx, lock, stopping) = (ctx.clone(), lock.clone(), stopping.clone());
                Box::pin(async move { run_scheduled(job, &ctx, &lock, &stopping).await })
            })?;
            inner.add(task).await?;
            tracing::debug!(job = job.name(), schedule = %cron, "job scheduled");
        }
        inner.start().await?;
        Ok(Scheduler {
            inner: Some(inner),
            running,
            stopping,
        })
    }

    /// Stops scheduling and waits for runs in progress, so a purge is not cut off by the exit.
    pub async fn shutdown(self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(mut inner) = self.inner
            && let Err(e) = inner.shutdown().await
        {
            tracing::warn!(error = %crate::telemetry::cause_chain(&e), "stopping the job scheduler failed");
        }
        for lock in &self.running {
            drop(lock.lock().await);
        }
    }
}

async fn run_scheduled(job: Job, ctx: &JobContext, lock: &Mutex<()>, stopping: &AtomicBool) {
    // A run still going at the next tick is left to finish rather than doubled.
    let Ok(_running) = lock.try_lock() else {
        tracing::warn!(job = job.name(), "previous run still in progress; skipped");
        return;
    };
    if stopping.load(Ordering::SeqCst) {
        return;
    }
    // Every node follows the same schedules; the first to claim the tick runs it.
    match claim_tick(job, ctx).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!(job = job.name(), "another node ran this tick");
            return;
        }
        Err(e) => {
            tracing::error!(job = job.name(), error = %crate::service::cause_chain(&e), "scheduled job could not claim its tick");
            return;
        }
    }
    match job.run(ctx).await {
        Ok(outcome) if outcome.changed_anything() => {
            tracing::info!(job = job.name(), "{}", outcome.summary())
        }
        Ok(outcome) => tracing::debug!(job = job.name(), "{}", outcome.summary()),
        Err(e) => tracing::error!(
            job = job.name(),
            error = %crate::service::cause_chain(&e),
            "scheduled job failed"
        ),
    }
}

/// Claims this firing's tick (the whole second it fired in, by the system clock the schedules
/// follow) for this node.
async fn claim_tick(job: Job, ctx: &JobContext) -> Result<bool, crate::service::ServiceError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let tick = i64::try_from(now).unwrap_or(i64::MAX).saturating_mul(1000);
    let node = ctx.store.node().to_owned();
    ctx.store
        .run(move |db| -> Result<bool, crate::service::ServiceError> {
            let tx = db.write()?;
            let claimed = crate::store::nodes::claim_tick(&tx, job.name(), tick, &node)?;
            tx.commit()?;
            Ok(claimed)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jobs(purge_request_logs: &str) -> JobsConfig {
        JobsConfig {
            expire_rotated_keys: "0 * * * * *".into(),
            warn_expiring_keys: String::new(),
            purge_request_logs: purge_request_logs.into(),
            purge_idempotency_keys: "@hourly".into(),
            fail_stuck_generations: "*/10 * * * * *".into(),
            expiry_warning_days: 7,
            notify_keys: String::new(),
            ratelimit_refusals_per_hour: 100,
            unused_key_days: 30,
        }
    }

    #[test]
    fn six_and_seven_field_expressions_and_empty_strings_are_accepted() {
        for cron in [
            "0 15 3 * * *",
            "0 */10 * * * *",
            "0 0 12 * * MON-FRI 2099",
            "",
        ] {
            assert_eq!(validate_schedules(&jobs(cron)), Ok(()), "{cron}");
        }
    }

    #[test]
    fn bad_expressions_are_refused_naming_their_key() {
        let cases = [
            ("15 3 * *", "6 or 7 fields"),
            ("0 15 3 * * * * *", "6 or 7 fields"),
            ("0 61 * * * *", "6 or 7 fields"),
            ("every day", "6 or 7 fields"),
            ("0 0 0 30 2 *", "never fires"),
        ];
        for (cron, why) in cases {
            let err = validate_schedules(&jobs(cron)).unwrap_err();
            assert!(
                err.starts_with(&format!(
                    "jobs.purge_request_logs: invalid cron expression {cron:?}"
                )),
                "{err}"
            );
            assert!(err.contains(why), "{cron}: {err}");
        }
    }
}
