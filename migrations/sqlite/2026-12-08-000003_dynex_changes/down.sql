DROP TABLE dynex_pipeline_delivery;
DROP TABLE dynex_change;
