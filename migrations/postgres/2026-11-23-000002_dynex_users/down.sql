DROP TABLE dynex_user;
