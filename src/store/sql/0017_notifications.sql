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
