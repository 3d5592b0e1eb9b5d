-- 0022_job_canceling (PostgreSQL): a running job of a remote runner that the API cancels
-- is first "canceling", as in GitLab: CANCEL_REQUESTED_AT is when it was asked; the runner
-- learns it from `Job-Status: canceling`, runs after_script and reports, and only then is
-- the job canceled. Keep in step with the .sqlite.sql.
ALTER TABLE jobs ADD COLUMN cancel_requested_at BIGINT;
