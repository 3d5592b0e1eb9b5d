-- 0044_resource_groups (SQLite): GitLab's resource groups. A group exists from the first
-- job that names it (per project, by its expanded key) and has one resource: HOLDER_JOB_ID,
-- the job allowed to run (NULL: free). A job of a group waits as waiting_for_resource
-- until it is given the resource; it keeps it while pending or running. Keep in step with
-- 0044_resource_groups.postgres.sql.
CREATE TABLE resource_groups (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    key           TEXT NOT NULL,
    process_mode  TEXT NOT NULL DEFAULT 'unordered',
    holder_job_id INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (project_id, key)
);
ALTER TABLE jobs ADD COLUMN resource_group_id INTEGER REFERENCES resource_groups(id) ON DELETE SET NULL;
CREATE INDEX jobs_by_resource_group ON jobs (resource_group_id, status);
