-- Notifications (docs/notifications.md): one row per notice sent, keyed by what it is about
-- (`kind`), the thing it is about (`subject`: a key id, an account id, an endpoint id) and the
-- period it covers (an expiry, an hour, a day of last use). The row is inserted with
-- ON CONFLICT DO NOTHING in the transaction that writes the notice's event, so two job runs or
-- two nodes send a notice once.
CREATE TABLE notices_sent (
    kind       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    period     INTEGER NOT NULL,
    account_id TEXT,
    sent_at    INTEGER NOT NULL,
    PRIMARY KEY (kind, subject, period)
) STRICT;
CREATE INDEX notices_sent_by_time ON notices_sent (sent_at);

-- E-mail waiting to be sent (docs/notifications.md, "E-mail"): written with the notice, in its
-- transaction; the mailer of any node takes due rows under a lease (`lease_until`), like
-- webhook deliveries, and sends each at least once, retrying with a growing delay. Bodies hold
-- key names and prefixes, never a key.
CREATE TABLE email_outbox (
    id              TEXT PRIMARY KEY,
    account_id      TEXT,
    recipients      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
) STRICT;
CREATE INDEX email_outbox_due ON email_outbox (status, next_attempt_at);
