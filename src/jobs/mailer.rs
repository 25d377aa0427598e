//! The mailer: sends what the e-mail outbox holds, at least once (docs/notifications.md,
//! "E-mail"). Every second it takes the due messages under a lease (another node's mailer
//! leaves them alone until the lease runs out), sends each through the SMTP server, and records
//! the outcome: sent, or tried again after a delay that doubles from 1 s up to 5 minutes, and
//! failed after `MAX_ATTEMPTS`. A request never waits for it.

use std::time::Duration;

use tokio::sync::watch;

use crate::config::SmtpConfig;
use crate::domain::{Clock, Timestamp};
use crate::providers::smtp::{Outgoing, Smtp};
use crate::store::Store;
use crate::store::email::{self as store, Email};

/// How long a mailer holds a message it took: longer than an attempt can last.
const LEASE_MS: i64 = 120_000;
/// How often the outbox is looked at.
const POLL: Duration = Duration::from_secs(1);
/// Messages taken at a time.
const BATCH: i64 = 20;
/// Attempts before a message has failed (about a day of retries).
const MAX_ATTEMPTS: i64 = 300;
/// The longest delay between two attempts.
const MAX_DELAY_MS: i64 = 300_000;

/// The running mailer.
pub struct Mailer {
    stop: watch::Sender<bool>,
    done: tokio::task::JoinHandle<()>,
}

impl Mailer {
    /// Starts sending on the current runtime; `None` when no SMTP server is configured.
    pub fn start(
        store: Store,
        clock: Clock,
        config: &SmtpConfig,
    ) -> Result<Option<Mailer>, String> {
        if config.host.is_empty() {
            return Ok(None);
        }
        let smtp = Smtp::new(config)?;
        let (stop, stopping) = watch::channel(false);
        let done = tokio::spawn(run(store, clock, smtp, stopping));
        Ok(Some(Mailer { stop, done }))
    }

    /// Finishes the message being sent and stops; what is left is sent by the next start.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.done.await;
    }
}

async fn run(store: Store, clock: Clock, smtp: Smtp, mut stopping: watch::Receiver<bool>) {
    if store.engine() == crate::store::Engine::Sqlite
        && let Err(e) = store.run(|db| store::release_leases(&db.read())).await
    {
        tracing::warn!(error = %crate::telemetry::cause_chain(&e), "cannot take back the e-mail of the last run");
    }
    loop {
        if *stopping.borrow() {
            return;
        }
        let now = clock.now();
        match store
            .run(move |db| store::claim_due(db, now, BATCH, LEASE_MS))
            .await
        {
            Ok(due) => {
                for email in due {
                    if *stopping.borrow() {
                        return;
                    }
                    send_one(&store, &clock, &smtp, email).await;
                }
            }
            Err(e) => {
                tracing::warn!(error = %crate::telemetry::cause_chain(&e), "cannot read the e-mail outbox");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = stopping.changed() => {}
        }
    }
}

async fn send_one(store: &Store, clock: &Clock, smtp: &Smtp, email: Email) {
    let outgoing = Outgoing {
        to: &email.recipients,
        subject: &email.subject,
        text: &email.text_body,
        html: &email.html_body,
    };
    let result = smtp.send(&outgoing).await;
    let now = clock.now();
    let id = email.id.clone();
    let attempts = email.attempts + 1;
    let written = match result {
        Ok(()) => {
            tracing::info!(email = %id, recipients = email.recipients.len(), "notification e-mail sent");
            store
                .run(move |db| {
                    let tx = db.write()?;
                    store::mark_sent(&tx, &id, now)?;
                    tx.commit()
                })
                .await
        }
        Err(error) => {
            let retry_at = (attempts < MAX_ATTEMPTS).then(|| {
                let delay = 1_000i64
                    .saturating_mul(1 << attempts.clamp(0, 20))
                    .min(MAX_DELAY_MS);
                Timestamp(now.0 + delay)
            });
            if retry_at.is_some() {
                tracing::warn!(email = %id, attempts, error = %error, "sending a notification e-mail failed; it will be tried again");
            } else {
                tracing::error!(email = %id, attempts, error = %error, "sending a notification e-mail failed for good");
            }
            store
                .run(move |db| {
                    let tx = db.write()?;
                    store::mark_failed(&tx, &id, &error, retry_at)?;
                    tx.commit()
                })
                .await
        }
    };
    if let Err(e) = written {
        tracing::warn!(error = %crate::telemetry::cause_chain(&e), "cannot record an e-mail's outcome; it will be sent again");
    }
}
