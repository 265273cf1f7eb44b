DROP TABLE dynex_api_key;
DROP TABLE dynex_state;
DROP TABLE dynex_entity_relation_field;
DROP TABLE dynex_entity_relation;
DROP TABLE dynex_entity;
