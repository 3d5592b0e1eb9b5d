-- 0031_protected_refs (SQLite): protected branches and tags of projects, by name or
-- wildcard (release/*). They decide CI_COMMIT_REF_PROTECTED and so which pipelines get
-- protected variables. Keep in step with 0031_protected_refs.postgres.sql.

CREATE TABLE protected_refs (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('branch', 'tag')),
    name       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (project_id, kind, name)
);

-- As in GitLab, a project's default branch is protected from the project's creation until
-- someone unprotects it: existing projects get the row now, new ones from this trigger (in
-- the project's own INSERT, so no project is ever seen without it).
INSERT INTO protected_refs (project_id, kind, name, created_at)
    SELECT id, 'branch', default_branch, created_at FROM projects;
CREATE TRIGGER projects_protect_default_branch AFTER INSERT ON projects
BEGIN
    INSERT INTO protected_refs (project_id, kind, name, created_at)
        VALUES (NEW.id, 'branch', NEW.default_branch, NEW.created_at);
END;
