-- 0061_fork_approval (postgres): merge request pipelines of forks held for a maintainer.
-- A project may ask that a pipeline of a request from a fork (code that is not the project's
-- own) wait until a maintainer approves it; HOLD_REASON is why a pipeline waits (NULL: it
-- does not), APPROVED_BY and APPROVED_AT who let it run and when. PROTECTED is whether the
-- pipeline's jobs get protected variables, decided once when it is made (GitLab's
-- ci_pipelines.protected), never read back from the job's own variables, which the
-- pipeline's YAML can set; NULL for pipelines made before this migration.
-- Keep in step with the other dialect.
ALTER TABLE projects ADD COLUMN fork_pipelines_need_approval INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pipelines ADD COLUMN hold_reason TEXT;
ALTER TABLE pipelines ADD COLUMN approved_by TEXT;
ALTER TABLE pipelines ADD COLUMN approved_at BIGINT;
ALTER TABLE pipelines ADD COLUMN protected INTEGER;
