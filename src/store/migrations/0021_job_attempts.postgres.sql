-- 0021_job_attempts (PostgreSQL): each attempt of a job is its own row, as GitLab's retry
-- makes a new job. The attempt that was retried keeps its outcome, failure_reason, log,
-- runner and token history; it is moved out of its planned position (position = -id, so
-- UNIQUE (pipeline_id, position) still names one live job per planned job) and
-- RETRIED_POSITION keeps the planned position it had (NULL: the live attempt). Keep in step
-- with the .sqlite.sql.
ALTER TABLE jobs ADD COLUMN retried_position INTEGER;
