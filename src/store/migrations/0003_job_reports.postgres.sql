-- 0003_job_reports (PostgreSQL): what a job's reports leave for the jobs after it and for
-- people: its dotenv variables (later jobs' environment) and its JUnit counts (the
-- pipeline's test report). One row per job, the last attempt's. Keep in step with
-- 0003_job_reports.sqlite.sql.

CREATE TABLE job_reports (
    job_id BIGINT PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    dotenv TEXT, -- JSON array of "KEY=VALUE"; NULL: no dotenv report
    junit  TEXT  -- JSON {"count","success","failed","skipped","error","time_s"}; NULL: none
);
