-- Pipeline definitions, as their authors wrote them (YAML); checked by dynex-pipeline before
-- they are saved. Times are Unix milliseconds.
CREATE TABLE dynex_pipeline (
    name VARCHAR(128) NOT NULL PRIMARY KEY,
    definition TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
-- Every run of a pipeline: its state (running, succeeded, failed), options, counts (JSON), the
-- cursor it started from and the one it left, and the error that ended it.
CREATE TABLE dynex_pipeline_run (
    id BIGSERIAL NOT NULL PRIMARY KEY,
    pipeline VARCHAR(128) NOT NULL,
    state VARCHAR(16) NOT NULL,
    options TEXT NOT NULL,
    summary TEXT NOT NULL,
    cursor_before TEXT,
    cursor_after TEXT,
    error TEXT,
    started_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    finished_ms BIGINT
);
CREATE INDEX dynex_pipeline_run_pipeline ON dynex_pipeline_run (pipeline, id);
-- Where the next run of a pipeline starts: the cursor its runs committed, kept apart from the
-- definition so that saving a definition keeps it.
CREATE TABLE dynex_pipeline_state (
    pipeline VARCHAR(128) NOT NULL PRIMARY KEY,
    cursor_value TEXT NOT NULL,
    run_id BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
-- Records a pipeline could not deliver: the source record as received, the stage that refused
-- it (map or write), and the first error's code, field and message.
CREATE TABLE dynex_pipeline_dead_letter (
    id BIGSERIAL NOT NULL PRIMARY KEY,
    pipeline VARCHAR(128) NOT NULL,
    run_id BIGINT NOT NULL,
    stage VARCHAR(16) NOT NULL,
    code VARCHAR(16) NOT NULL,
    field VARCHAR(255),
    message TEXT NOT NULL,
    record TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE INDEX dynex_pipeline_dead_letter_pipeline ON dynex_pipeline_dead_letter (pipeline, id);
-- Variables that definitions read as ${NAME}; a secret's value is encrypted with the operator's
-- key (ChaCha20-Poly1305) and never shown again.
CREATE TABLE dynex_variable (
    name VARCHAR(128) NOT NULL PRIMARY KEY,
    value TEXT NOT NULL,
    secret SMALLINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
