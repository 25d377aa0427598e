-- Who hears of notices by e-mail (docs/notifications.md, "Who is e-mailed"). Each table holds
-- only what differs from the default: every notice e-mailed, to the account's owners.

-- An account's choice per notice (its event name): e-mailed or not.
CREATE TABLE notification_events (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    event      TEXT NOT NULL,
    email      INTEGER NOT NULL CHECK (email IN (0, 1)),
    PRIMARY KEY (account_id, event)
) STRICT;

-- An account's choice per member: e-mailed its notices or not (absent: owners are, members
-- are not). Leaving the account removes it.
CREATE TABLE notification_recipients (
    account_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    email      INTEGER NOT NULL CHECK (email IN (0, 1)),
    PRIMARY KEY (account_id, user_id),
    FOREIGN KEY (account_id, user_id) REFERENCES memberships (account_id, user_id) ON DELETE CASCADE
) STRICT;

-- What a member has muted for themselves, by event name.
CREATE TABLE notification_mutes (
    account_id TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    event      TEXT NOT NULL,
    PRIMARY KEY (account_id, user_id, event),
    FOREIGN KEY (account_id, user_id) REFERENCES memberships (account_id, user_id) ON DELETE CASCADE
) STRICT;
