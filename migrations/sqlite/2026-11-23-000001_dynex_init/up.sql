CREATE TABLE dynex_entity (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    table_alias VARCHAR(255) NOT NULL UNIQUE,
    table_name VARCHAR(255) NOT NULL UNIQUE,
    is_active BOOLEAN NOT NULL DEFAULT FALSE,
    definition TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE dynex_entity_relation (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fk_parent_entity INTEGER NOT NULL REFERENCES dynex_entity (id) ON DELETE CASCADE,
    fk_child_entity INTEGER NOT NULL REFERENCES dynex_entity (id) ON DELETE CASCADE,
    name VARCHAR(255) NOT NULL,
    is_editable BOOLEAN NOT NULL DEFAULT TRUE,
    UNIQUE (fk_parent_entity, name)
);
CREATE INDEX dynex_entity_relation_child ON dynex_entity_relation (fk_child_entity);
CREATE TABLE dynex_entity_relation_field (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fk_relation INTEGER NOT NULL REFERENCES dynex_entity_relation (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    child_field_name VARCHAR(255) NOT NULL,
    parent_field_name VARCHAR(255) NOT NULL
);
CREATE INDEX dynex_entity_relation_field_relation ON dynex_entity_relation_field (fk_relation);
CREATE TABLE dynex_state (
    name VARCHAR(64) PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
);
INSERT INTO dynex_state (name, version) VALUES ('config', 1);
CREATE TABLE dynex_api_key (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(255) NOT NULL UNIQUE,
    key_hash VARCHAR(64) NOT NULL UNIQUE,
    key_prefix VARCHAR(16) NOT NULL,
    scopes TEXT NOT NULL,
    valid_to TIMESTAMP NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    revoked_at TIMESTAMP NULL
);
