-- Who hears of notices by e-mail: see the SQLite step 0019_notification_settings.sql.
CREATE TABLE notification_events (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    event      TEXT NOT NULL,
    email      BIGINT NOT NULL CHECK (email IN (0, 1)),
    PRIMARY KEY (account_id, event)
);

CREATE TABLE notification_recipients (
    account_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    email      BIGINT NOT NULL CHECK (email IN (0, 1)),
    PRIMARY KEY (account_id, user_id),
    FOREIGN KEY (account_id, user_id) REFERENCES memberships (account_id, user_id) ON DELETE CASCADE
);

CREATE TABLE notification_mutes (
    account_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    event      TEXT NOT NULL,
    PRIMARY KEY (account_id, user_id, event),
    FOREIGN KEY (account_id, user_id) REFERENCES memberships (account_id, user_id) ON DELETE CASCADE
);
