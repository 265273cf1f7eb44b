DROP TABLE dynex_audit;
