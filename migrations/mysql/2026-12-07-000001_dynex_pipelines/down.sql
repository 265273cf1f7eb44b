DROP TABLE dynex_pipeline;
