-- Integration clients, refresh tokens, token revocations, failed logins and settings.
-- Times used for token checks are milliseconds since the epoch (BIGINT), compared in Rust.
ALTER TABLE dynex_user ADD COLUMN tokens_valid_after BIGINT NOT NULL DEFAULT 0;
CREATE TABLE dynex_client (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id VARCHAR(191) NOT NULL UNIQUE,
    secret_hash VARCHAR(64) NOT NULL,
    scopes TEXT NOT NULL,
    tokens_valid_after BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE dynex_refresh_token (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash VARCHAR(64) NOT NULL UNIQUE,
    family VARCHAR(64) NOT NULL,
    subject VARCHAR(191) NOT NULL,
    scopes TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    access_expires_at BIGINT NOT NULL,
    used_at BIGINT NULL
);
CREATE INDEX dynex_refresh_token_family ON dynex_refresh_token (family);
CREATE INDEX dynex_refresh_token_subject ON dynex_refresh_token (subject);
CREATE TABLE dynex_token_revocation (
    family VARCHAR(64) NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE TABLE dynex_login_failure (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject VARCHAR(255) NOT NULL,
    failed_at BIGINT NOT NULL
);
CREATE INDEX dynex_login_failure_subject ON dynex_login_failure (subject, failed_at);
CREATE TABLE dynex_setting (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
