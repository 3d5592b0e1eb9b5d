-- 0021_job_attempts (SQLite): each attempt of a job is its own row, as GitLab's retry makes
-- a new job. The attempt that was retried keeps its outcome, failure_reason, log, runner
-- and token history; it is moved out of its planned position (position = -id, so the
-- table's UNIQUE (pipeline_id, position) still names one live job per planned job, without
-- rebuilding the table its logs and artifacts reference) and RETRIED_POSITION keeps the
-- planned position it had (NULL: the live attempt). Keep in step with the .postgres.sql.
ALTER TABLE jobs ADD COLUMN retried_position INTEGER;
