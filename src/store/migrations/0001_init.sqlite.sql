-- 0001_init (SQLite): projects, pipelines, jobs and their logs.
-- Times are milliseconds since the Unix epoch (UTC); booleans are 0/1 integers; JSON is
-- stored as text. Keep in step with 0001_init.postgres.sql (same tables, columns, order).

CREATE TABLE projects (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    name              TEXT NOT NULL UNIQUE,
    repo_url          TEXT NOT NULL,
    default_branch    TEXT NOT NULL DEFAULT 'main',
    poll_interval_s   INTEGER NOT NULL DEFAULT 0,
    webhook_secret    TEXT NOT NULL DEFAULT '',
    last_pipeline_iid INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL
);

-- The last commit seen on each ref of a project (polling compares against it).
CREATE TABLE project_refs (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    ref        TEXT NOT NULL,
    sha        TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, ref)
);

CREATE TABLE pipelines (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    iid           INTEGER NOT NULL,
    status        TEXT NOT NULL,
    ref           TEXT NOT NULL,
    is_tag        INTEGER NOT NULL DEFAULT 0,
    sha           TEXT NOT NULL DEFAULT '',
    before_sha    TEXT NOT NULL DEFAULT '',
    source        TEXT NOT NULL,
    variables     TEXT NOT NULL DEFAULT '{}',
    error_message TEXT,
    yaml_errors   TEXT,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER,
    UNIQUE (project_id, iid)
);
CREATE INDEX pipelines_by_project ON pipelines (project_id, id);
CREATE INDEX pipelines_by_status ON pipelines (status, id);

CREATE TABLE jobs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline_id    INTEGER NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    position       INTEGER NOT NULL,
    name           TEXT NOT NULL,
    stage          TEXT NOT NULL,
    stage_idx      INTEGER NOT NULL,
    status         TEXT NOT NULL,
    run_when       TEXT NOT NULL DEFAULT 'on_success',
    allow_failure  INTEGER NOT NULL DEFAULT 0,
    attempt        INTEGER NOT NULL DEFAULT 1,
    retry          TEXT NOT NULL DEFAULT '{}',
    spec           TEXT NOT NULL DEFAULT '{}',
    failure_reason TEXT,
    exit_code      INTEGER,
    coverage       REAL,
    created_at     INTEGER NOT NULL,
    queued_at      INTEGER,
    started_at     INTEGER,
    finished_at    INTEGER,
    due_at         INTEGER,
    runner_id      TEXT,
    lease_deadline INTEGER,
    UNIQUE (pipeline_id, position)
);
-- The queue: claims take the oldest pending job.
CREATE INDEX jobs_queue ON jobs (status, queued_at, id);

-- A job runs only on a worker that has every one of its tags.
CREATE TABLE job_tags (
    job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    tag    TEXT NOT NULL,
    PRIMARY KEY (job_id, tag)
);

-- Logs are append-only chunks; end_offset = start_offset + length(data).
CREATE TABLE job_log_chunks (
    job_id       INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    start_offset INTEGER NOT NULL,
    end_offset   INTEGER NOT NULL,
    data         BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (job_id, seq),
    UNIQUE (job_id, end_offset)
);
