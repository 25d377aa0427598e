-- A password that someone other than its user chose (a one-time password from `users create`,
-- an invitation or the first start, or one set for another user) must be replaced at the
-- user's next sign-in.
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0
    CHECK (must_change_password IN (0, 1));
