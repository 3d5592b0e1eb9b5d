-- 0081_partial_job_indexes (SQLite): the jobs' token and resource-group indexes hold only
-- the rows that have one. Every job had an entry in both, NULL for the most, and the
-- resource group's entry (resource_group_id, status) moved at each change of its status:
-- pages written at each job's creation, claim and end for no query (each query of them
-- asks for a value, `= ?`, which implies IS NOT NULL, so the planner still uses them).
-- Keep in step with 0081_partial_job_indexes.postgres.sql.
DROP INDEX jobs_by_token;
CREATE UNIQUE INDEX jobs_by_token ON jobs (job_token_hash) WHERE job_token_hash IS NOT NULL;
DROP INDEX jobs_by_resource_group;
CREATE INDEX jobs_by_resource_group ON jobs (resource_group_id, status)
    WHERE resource_group_id IS NOT NULL;
