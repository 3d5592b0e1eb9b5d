-- 0060_forge_deliveries (sqlite): what sluice tells the outside about pipelines. A project's
-- forge connection (commit statuses; the token only sealed, purpose "forge"), its
-- notification rules (the secret only sealed, purpose "notify") and the delivery queue both
-- feed: one row per HTTP request or mail to send, retried with backoff until delivered or
-- given up. A delivery names its source (SOURCE_ID: a rule, 0 the forge connection) and the
-- sender reads the credentials there when it sends, so no secret sits in the queue.
-- Keep in step with the other dialect.
CREATE TABLE forge_connections (
    project_id   INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    kind         TEXT NOT NULL,
    api_url      TEXT NOT NULL,
    repository   TEXT NOT NULL,
    token_sealed BLOB NOT NULL,
    per_job      INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE TABLE notification_rules (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    channel       TEXT NOT NULL,
    target        TEXT NOT NULL,
    events        TEXT NOT NULL,
    refs          TEXT NOT NULL,
    secret_sealed BLOB,
    created_at    INTEGER NOT NULL
);
CREATE INDEX notification_rules_by_project ON notification_rules (project_id, id);
CREATE TABLE deliveries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id   INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    source_id    INTEGER NOT NULL DEFAULT 0,
    kind         TEXT NOT NULL,
    target       TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    next_at      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    delivered_at INTEGER
);
CREATE INDEX deliveries_due ON deliveries (state, next_at);
CREATE INDEX deliveries_by_project ON deliveries (project_id, id);
-- The last finished status of each ref of a project (GitLab's ci_refs): a pipeline that
-- succeeds where the ref had failed is "fixed", a retried one included.
CREATE TABLE ref_statuses (
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    ref        TEXT NOT NULL,
    status     TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, ref)
);
