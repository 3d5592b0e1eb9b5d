-- 0063_secret_findings (sqlite): secrets found in job logs and pushed commits, and each
-- project's policy for them. A finding never holds the secret: EXCERPT is its line with the
-- secret masked (scan/scan.h, sl_scan_redact). A log finding has JOB_ID, LINE (1-based, of
-- the log) and PLACE (the secret's byte offset in the log); a push finding has COMMIT_SHA,
-- FILE, LINE (of the file) and PLACE (the byte in the line). Scanning a log re-reads the
-- end of the previous chunk (a secret split across chunks), so a finding can be seen twice:
-- the unique index keeps one. Keep in step with the other dialect.
CREATE TABLE secret_findings (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    pipeline_id INTEGER REFERENCES pipelines(id) ON DELETE CASCADE,
    job_id      INTEGER NOT NULL DEFAULT 0,
    commit_sha  TEXT NOT NULL DEFAULT '',
    file        TEXT NOT NULL DEFAULT '',
    rule        TEXT NOT NULL,
    line        INTEGER NOT NULL,
    place       INTEGER NOT NULL,
    excerpt     TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX secret_findings_once
    ON secret_findings (project_id, job_id, commit_sha, file, rule, line, place);
CREATE INDEX secret_findings_by_project ON secret_findings (project_id, id);
-- What a finding does (default, no row: report): report, fail (the pipeline), refuse (no
-- pipeline is created for a push with a finding).
CREATE TABLE secret_policies (
    project_id INTEGER PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
    policy     TEXT NOT NULL CHECK (policy IN ('report', 'fail', 'refuse')),
    updated_at INTEGER NOT NULL
);
