-- Imports that record their progress: the last line of the file whose batch is committed, so
-- an interrupted import resumes after it (`dynex import --resume`).
CREATE TABLE dynex_import_job (
    id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY,
    entity VARCHAR(255) NOT NULL,
    source VARCHAR(64) NOT NULL,
    committed_line BIGINT NOT NULL,
    state VARCHAR(16) NOT NULL,
    started_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX dynex_import_job_source ON dynex_import_job (entity, source);
