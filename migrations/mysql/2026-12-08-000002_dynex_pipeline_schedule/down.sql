ALTER TABLE dynex_pipeline_run DROP COLUMN stop_requested_ms;
DROP TABLE dynex_pipeline_tick;
