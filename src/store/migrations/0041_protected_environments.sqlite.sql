-- 0041_protected_environments (SQLite): environments that need a role and approvals to
-- deploy to, and the approvals of deployments. Keep in step with the .postgres.sql.

-- NAME is an environment name, a wildcard (review/*) or a tier (production).
CREATE TABLE protected_environments (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id              INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name                    TEXT NOT NULL,
    deploy_role             TEXT NOT NULL,
    required_approval_count INTEGER NOT NULL DEFAULT 0,
    created_at              INTEGER NOT NULL,
    UNIQUE (project_id, name)
);

-- One decision per approver and deployment: approved or rejected.
CREATE TABLE deployment_approvals (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    deployment_id INTEGER NOT NULL REFERENCES deployments(id) ON DELETE CASCADE,
    actor         TEXT NOT NULL,
    status        TEXT NOT NULL,
    comment       TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    UNIQUE (deployment_id, actor)
);

-- How many approvals a blocked deployment needs (0: none).
ALTER TABLE deployments ADD COLUMN required_approvals INTEGER NOT NULL DEFAULT 0;
