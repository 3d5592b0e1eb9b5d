-- 0042_forward_deployment (postgres): the per-project switch of outdated-deployment prevention
-- (GitLab's ci_forward_deployment_enabled), on by default. Keep in step with the other dialect.
ALTER TABLE projects ADD COLUMN forward_deployment_enabled INTEGER NOT NULL DEFAULT 1;
