-- 0050_feature_flags (SQLite): feature flags served over Unleash's protocol (src/flags
-- evaluates, src/server/flags_api.c serves). Keep in step with the .postgres.sql.
--
-- A flag's configuration in one environment (enabled, strategies with their constraints,
-- segment references and strategy variants, the flag's variants) is kept as the JSON that
-- Unleash's client API serves for it: the engine compiles exactly that, so nothing is lost
-- or reshaped between the management API, the store and the SDKs.

CREATE TABLE feature_flags (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id      INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    type            TEXT NOT NULL DEFAULT 'release',
    stale           INTEGER NOT NULL DEFAULT 0,
    archived        INTEGER NOT NULL DEFAULT 0,
    impression_data INTEGER NOT NULL DEFAULT 0,
    dependencies    TEXT NOT NULL DEFAULT '[]', -- [{feature, enabled, variants}]
    tags            TEXT NOT NULL DEFAULT '[]', -- [{type, value}]
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE feature_flag_envs (
    flag_id     INTEGER NOT NULL REFERENCES feature_flags(id) ON DELETE CASCADE,
    environment TEXT NOT NULL,
    enabled     INTEGER NOT NULL DEFAULT 0,
    strategies  TEXT NOT NULL DEFAULT '[]',
    variants    TEXT NOT NULL DEFAULT '[]',
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (flag_id, environment)
);

-- Segments keep the id strategies refer to them by (Unleash's `segments: [id]`).
CREATE TABLE feature_flag_segments (
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    segment_id  INTEGER NOT NULL,
    name        TEXT NOT NULL DEFAULT '',
    constraints TEXT NOT NULL DEFAULT '[]',
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (project_id, segment_id)
);

-- Bumped by every change of a project's flags: caches and ETags compare it.
CREATE TABLE feature_flag_revisions (
    project_id INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    revision   INTEGER NOT NULL
);

-- Who changed what, when; a pipeline's job that did it is named.
CREATE TABLE feature_flag_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    flag        TEXT NOT NULL DEFAULT '',
    environment TEXT NOT NULL DEFAULT '',
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}',
    pipeline_id INTEGER,
    job_id      INTEGER
);
CREATE INDEX feature_flag_changes_project ON feature_flag_changes (project_id, id);

-- Unleash client and frontend tokens `<project>:<environment>.<secret>`: only SHA-256 kept.
CREATE TABLE feature_flag_tokens (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id      INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    environment     TEXT NOT NULL,
    type            TEXT NOT NULL,
    name            TEXT NOT NULL DEFAULT '',
    token_hash      TEXT NOT NULL UNIQUE,
    allowed_origins TEXT NOT NULL DEFAULT '[]',
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    revoked         INTEGER NOT NULL DEFAULT 0
);

-- GitLab's Unleash endpoint: the instance id a project's applications present.
CREATE TABLE feature_flag_instances (
    project_id  INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    instance_id TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);
