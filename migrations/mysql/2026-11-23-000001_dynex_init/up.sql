CREATE TABLE dynex_entity (
    id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY,
    table_alias VARCHAR(255) NOT NULL UNIQUE,
    table_name VARCHAR(255) NOT NULL UNIQUE,
    is_active BOOLEAN NOT NULL DEFAULT FALSE,
    definition LONGTEXT NOT NULL,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE dynex_entity_relation (
    id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY,
    fk_parent_entity INTEGER NOT NULL,
    fk_child_entity INTEGER NOT NULL,
    name VARCHAR(255) NOT NULL,
    is_editable BOOLEAN NOT NULL DEFAULT TRUE,
    UNIQUE (fk_parent_entity, name),
    FOREIGN KEY (fk_parent_entity) REFERENCES dynex_entity (id) ON DELETE CASCADE,
    FOREIGN KEY (fk_child_entity) REFERENCES dynex_entity (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX dynex_entity_relation_child ON dynex_entity_relation (fk_child_entity);
CREATE TABLE dynex_entity_relation_field (
    id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY,
    fk_relation INTEGER NOT NULL,
    position INTEGER NOT NULL,
    child_field_name VARCHAR(255) NOT NULL,
    parent_field_name VARCHAR(255) NOT NULL,
    FOREIGN KEY (fk_relation) REFERENCES dynex_entity_relation (id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE INDEX dynex_entity_relation_field_relation ON dynex_entity_relation_field (fk_relation);
CREATE TABLE dynex_state (
    name VARCHAR(64) PRIMARY KEY NOT NULL,
    version BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO dynex_state (name, version) VALUES ('config', 1);
CREATE TABLE dynex_api_key (
    id INTEGER NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(255) NOT NULL UNIQUE,
    key_hash VARCHAR(64) NOT NULL UNIQUE,
    key_prefix VARCHAR(16) NOT NULL,
    scopes TEXT NOT NULL,
    valid_to DATETIME NULL,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    revoked_at DATETIME NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
