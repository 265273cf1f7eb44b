-- The audit log: who changed the configuration, keys, users, clients, tokens and jobs (and,
-- when asked, data), when and from where. Times are Unix milliseconds.
CREATE TABLE dynex_audit (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor VARCHAR(255) NOT NULL,
    source VARCHAR(255) NOT NULL,
    action VARCHAR(64) NOT NULL,
    target VARCHAR(255) NOT NULL,
    detail MEDIUMTEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX dynex_audit_at ON dynex_audit (at_ms);
