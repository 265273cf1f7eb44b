ALTER TABLE dynex_job DROP COLUMN resume;
