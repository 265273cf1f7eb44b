-- What resuming an interrupted import job needs: its options (mapping included) and where its
-- upload is kept, as JSON; NULL for a job that cannot be resumed.
ALTER TABLE dynex_job ADD COLUMN resume TEXT;
