-- 0043_freeze_periods (sqlite): deploy freeze periods of projects, as GitLab's: cron
-- expressions for the start and the end, read in a time zone. A pipeline created inside
-- one gets CI_DEPLOY_FREEZE=true. Keep in step with the other dialect.
CREATE TABLE freeze_periods (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    freeze_start  TEXT NOT NULL,
    freeze_end    TEXT NOT NULL,
    cron_timezone TEXT NOT NULL DEFAULT 'UTC',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX freeze_periods_by_project ON freeze_periods (project_id, id);
