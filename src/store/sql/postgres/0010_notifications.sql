-- Notifications: see the SQLite step 0017_notifications.sql.
CREATE TABLE notices_sent (
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    period     BIGINT NOT NULL,
    account_id TEXT,
    sent_at    BIGINT NOT NULL,
    PRIMARY KEY (kind, subject, period)
);
CREATE INDEX notices_sent_by_time ON notices_sent (sent_at);
