-- Jobs started from the back office or the admin API (CSV imports and exports): their options,
-- progress and summary, so that any server instance shows them. Times are Unix milliseconds.
CREATE TABLE dynex_job (
    id VARCHAR(32) NOT NULL PRIMARY KEY,
    kind VARCHAR(16) NOT NULL,
    entity VARCHAR(255) NOT NULL,
    file_name VARCHAR(255) NOT NULL,
    options TEXT NOT NULL,
    header TEXT,
    state VARCHAR(16) NOT NULL,
    created_by VARCHAR(255) NOT NULL,
    bytes_total BIGINT,
    bytes_read BIGINT NOT NULL,
    summary TEXT,
    error TEXT,
    started_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    finished_ms BIGINT
);
CREATE INDEX dynex_job_started ON dynex_job (started_ms);
-- The rejected lines of an import job: the line as read and why it was refused.
CREATE TABLE dynex_job_reject (
    job_id VARCHAR(32) NOT NULL,
    line BIGINT NOT NULL,
    code VARCHAR(8) NOT NULL,
    field VARCHAR(255),
    message TEXT NOT NULL,
    cells TEXT NOT NULL,
    PRIMARY KEY (job_id, line)
);
