//! The second half of the copy's list (`tables.rs`): the providers' roll-ups, webhooks, the
//! nodes' coordination, who hears of notices, the notices sent and the e-mail outbox, each
//! after the tables it refers to.

use super::tables::{Table, table};

pub(super) const OPERATIONS: &[Table] = &[
    table(
        "usage_providers_daily",
        &[
            "day",
            "account_id",
            "provider",
            "submissions",
            "used",
            "cancelled",
            "discarded",
            "failed",
            "estimated_cost",
            "wasted_cost",
        ],
        "account_id, day, provider",
    ),
    table(
        "webhook_endpoints",
        &[
            "id",
            "account_id",
            "url",
            "description",
            "events",
            "secret",
            "enabled",
            "disabled_reason",
            "consecutive_failures",
            "created_at",
            "updated_at",
            "secret_rotated_at",
        ],
        "id",
    ),
    table(
        "webhook_events",
        &[
            "id",
            "account_id",
            "event",
            "generation_id",
            "data",
            "created_at",
        ],
        "id",
    ),
    table(
        "webhook_deliveries",
        &[
            "id",
            "endpoint_id",
            "event_id",
            "status",
            "attempts",
            "next_attempt_at",
            "lease_until",
            "last_status_code",
            "last_error",
            "duration_ms",
            "replay_of",
            "created_at",
            "completed_at",
            "rowid",
        ],
        "rowid",
    ),
    table("job_runs", &["job", "tick", "node"], "job, tick"),
    table(
        "rate_grants",
        &["subject", "window_start", "granted"],
        "subject, window_start",
    ),
    // Copied like the rate grants: a copy taken during a block keeps it, and rows past
    // `expires_at` go at the next write.
    table(
        "auth_failures",
        &[
            "kind",
            "subject",
            "window_start",
            "failures",
            "last_failure",
            "blocked_until",
            "expires_at",
        ],
        "kind, subject",
    ),
    // Who hears of notices by e-mail.
    table(
        "notification_events",
        &["account_id", "event", "email"],
        "account_id, event",
    ),
    table(
        "notification_recipients",
        &["account_id", "user_id", "email"],
        "account_id, user_id",
    ),
    table(
        "notification_mutes",
        &["account_id", "user_id", "event"],
        "account_id, user_id, event",
    ),
    table(
        "leak_policies",
        &["account_id", "action", "updated_at"],
        "account_id",
    ),
    // Copied, so a moved install does not send its notices again.
    table(
        "notices_sent",
        &["kind", "subject", "period", "account_id", "sent_at"],
        "kind, subject, period",
    ),
    // Copied: what is still to be sent is sent from the new store.
    table(
        "email_outbox",
        &[
            "id",
            "account_id",
            "recipients",
            "subject",
            "text_body",
            "html_body",
            "status",
            "attempts",
            "next_attempt_at",
            "lease_until",
            "last_error",
            "created_at",
            "sent_at",
        ],
        "id",
    ),
];
