-- Change events: one row per row written (created, updated or deleted) to an entity that a
-- pipeline's `changes` source follows, inserted in the transaction of the write, so that an
-- event exists exactly when its change committed. `identifier` is the row's identifier as JSON,
-- `fields` a JSON array of the visible names of the fields that changed, `principal` who wrote
-- (the API key, user or client, `import`, `pipeline:NAME`). Ids ascend; times are Unix
-- milliseconds.
CREATE TABLE dynex_change (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    entity VARCHAR(255) NOT NULL,
    identifier TEXT NOT NULL,
    operation VARCHAR(16) NOT NULL,
    fields TEXT NOT NULL,
    principal VARCHAR(255) NOT NULL,
    created_ms BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX dynex_change_created ON dynex_change (created_ms);
-- Each outgoing request of a pipeline's `http` target: the record it carried (for a
-- `changes` source, the event), the last answer's status, the attempts, and the error.
CREATE TABLE dynex_pipeline_delivery (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    pipeline VARCHAR(128) NOT NULL,
    run_id BIGINT NOT NULL,
    url TEXT NOT NULL,
    status INTEGER,
    attempts INTEGER NOT NULL,
    ok SMALLINT NOT NULL,
    error TEXT,
    record TEXT NOT NULL,
    created_ms BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX dynex_pipeline_delivery_pipeline ON dynex_pipeline_delivery (pipeline, id);
