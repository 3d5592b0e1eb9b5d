-- 0040_environments_deployments (SQLite): environments, the jobs that act on them, and
-- deployments. Keep in step with 0040_environments_deployments.postgres.sql.

-- An environment exists from the first job that names it; state is GitLab's
-- (available, stopping, stopped). auto_stop_at: when the auto_stop_in timer fires (NULL: never).
CREATE TABLE environments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id   INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    slug         TEXT NOT NULL,
    tier         TEXT NOT NULL,
    url          TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL DEFAULT 'available',
    auto_stop_at INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (project_id, name)
);
CREATE INDEX environments_auto_stop ON environments (state, auto_stop_at);

-- Every job with `environment:`: what it does to it (start, prepare, verify, access, stop),
-- the job that stops what it deploys (environment:on_stop) and its auto_stop_in.
CREATE TABLE environment_jobs (
    job_id         INTEGER PRIMARY KEY REFERENCES jobs(id) ON DELETE CASCADE,
    environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    action         TEXT NOT NULL,
    on_stop_job_id INTEGER,
    auto_stop_in_s INTEGER NOT NULL DEFAULT 0,
    url            TEXT NOT NULL DEFAULT ''
);

-- One row per run of a deploying job (a rollback re-runs an earlier one: a new row).
CREATE TABLE deployments (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id     INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    environment_id INTEGER NOT NULL REFERENCES environments(id) ON DELETE CASCADE,
    iid            INTEGER NOT NULL,
    job_id         INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    pipeline_id    INTEGER NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    status         TEXT NOT NULL,
    sha            TEXT NOT NULL,
    ref            TEXT NOT NULL,
    triggered_by   TEXT NOT NULL DEFAULT '',
    rollback_of    INTEGER,
    created_at     INTEGER NOT NULL,
    started_at     INTEGER,
    finished_at    INTEGER,
    UNIQUE (project_id, iid)
);
CREATE INDEX deployments_by_environment ON deployments (environment_id, id);
CREATE INDEX deployments_by_job ON deployments (job_id, id);
