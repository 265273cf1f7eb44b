DROP TABLE dynex_import_job;
