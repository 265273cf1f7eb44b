DROP TABLE dynex_setting;
DROP TABLE dynex_login_failure;
DROP TABLE dynex_token_revocation;
DROP TABLE dynex_refresh_token;
DROP TABLE dynex_client;
ALTER TABLE dynex_user DROP COLUMN tokens_valid_after;
