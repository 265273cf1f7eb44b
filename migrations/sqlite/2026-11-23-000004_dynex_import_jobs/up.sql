-- Imports that record their progress: the last line of the file whose batch is committed, so
-- an interrupted import resumes after it (`dynex import --resume`).
CREATE TABLE dynex_import_job (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    entity VARCHAR(255) NOT NULL,
    source VARCHAR(64) NOT NULL,
    committed_line BIGINT NOT NULL,
    state VARCHAR(16) NOT NULL,
    started_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX dynex_import_job_source ON dynex_import_job (entity, source);
