-- A claim per scheduled tick of a pipeline: the server whose insert succeeds runs that tick,
-- so that with several servers on one database each tick runs exactly once (the primary key
-- decides). Times are Unix milliseconds; `run_id` is the run the tick started, when it did.
CREATE TABLE dynex_pipeline_tick (
    pipeline VARCHAR(128) NOT NULL,
    due_ms BIGINT NOT NULL,
    claimed_by VARCHAR(255) NOT NULL,
    claimed_ms BIGINT NOT NULL,
    run_id BIGINT,
    PRIMARY KEY (pipeline, due_ms)
);
-- Set when someone asks a running run to stop; the run's process sees it within seconds.
ALTER TABLE dynex_pipeline_run ADD COLUMN stop_requested_ms BIGINT;
