-- Pipeline definitions, as their authors wrote them (YAML); checked by dynex-pipeline before
-- they are saved. Times are Unix milliseconds.
CREATE TABLE dynex_pipeline (
    name VARCHAR(128) NOT NULL PRIMARY KEY,
    definition TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
