-- 0046_environment_kubernetes (sqlite): an environment keeps the `environment:kubernetes`
-- of its latest deploying job (GitLab's agent, namespace, flux_resource_path), as JSON,
-- to show it; sluice deploys nothing to Kubernetes itself. NULL: none. Keep in step with
-- the other dialect.
ALTER TABLE environments ADD COLUMN kubernetes TEXT;
