-- 0020_runners (SQLite): remote runners (sluice agent, gitlab-runner) speaking /api/v4,
-- the instance's registration token, and the job token of each running job.
-- Keep in step with 0020_runners.postgres.sql.

-- Only sha256(token) is kept, as 64 lowercase hex digits. TAGS: comma-joined (GitLab's
-- tag_list form: a tag never holds a comma).
CREATE TABLE runners (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL DEFAULT '',
    description  TEXT NOT NULL DEFAULT '',
    tags         TEXT NOT NULL DEFAULT '',
    run_untagged INTEGER NOT NULL DEFAULT 1,
    locked       INTEGER NOT NULL DEFAULT 0,
    paused       INTEGER NOT NULL DEFAULT 0,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    contacted_at INTEGER,
    version      TEXT NOT NULL DEFAULT '',
    platform     TEXT NOT NULL DEFAULT '',
    architecture TEXT NOT NULL DEFAULT '',
    executor     TEXT NOT NULL DEFAULT ''
);

-- One registration token for the instance (legacy `gitlab-runner register` flow).
CREATE TABLE runner_registration (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    token_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

-- The hash of the job token of the job's current attempt (CI_JOB_TOKEN); it authenticates
-- only while the job runs.
ALTER TABLE jobs ADD COLUMN job_token_hash TEXT;
CREATE UNIQUE INDEX jobs_by_token ON jobs (job_token_hash);
