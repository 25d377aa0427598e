-- Notifications: see the SQLite step 0018_notifications.sql.
CREATE TABLE notices_sent (
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    period     BIGINT NOT NULL,
    account_id TEXT,
    sent_at    BIGINT NOT NULL,
    PRIMARY KEY (kind, subject, period)
);
CREATE INDEX notices_sent_by_time ON notices_sent (sent_at);

CREATE TABLE email_outbox (
    id              TEXT PRIMARY KEY,
    account_id      TEXT,
    recipients      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX email_outbox_due ON email_outbox (status, next_attempt_at);
