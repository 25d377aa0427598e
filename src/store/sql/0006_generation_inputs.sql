-- The end frame a video generation was given, and an index that finds a reservation's own row
-- (settling one looked it up by scanning the ledger).
ALTER TABLE generations ADD COLUMN last_frame TEXT;
CREATE UNIQUE INDEX credit_ledger_reservation ON credit_ledger (reservation_id)
    WHERE kind = 'reserve';
