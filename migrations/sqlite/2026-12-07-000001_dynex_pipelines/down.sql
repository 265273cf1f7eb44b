DROP TABLE dynex_variable;
DROP TABLE dynex_pipeline_dead_letter;
DROP TABLE dynex_pipeline_state;
DROP TABLE dynex_pipeline_run;
DROP TABLE dynex_pipeline;
