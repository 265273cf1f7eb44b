DROP TABLE dynex_job_reject;
DROP TABLE dynex_job;
