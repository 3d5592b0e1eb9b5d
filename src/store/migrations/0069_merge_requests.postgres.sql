-- 0069_merge_requests (postgres): the forges' merge and pull requests as their webhooks
-- report them. An open request of a branch sets CI_OPEN_MERGE_REQUESTS in that branch's
-- pipelines (GitLab's "branch or merge request pipeline, never both" workflows read it);
-- its events make merge_request_event pipelines. Keep in step with the other backend.

CREATE TABLE merge_requests (
    project_id    BIGINT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    iid           BIGINT NOT NULL,
    title         TEXT NOT NULL,
    source_branch TEXT NOT NULL,
    target_branch TEXT NOT NULL,
    head_sha      TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('opened', 'closed', 'merged')),
    from_fork     INTEGER NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (project_id, iid)
);
CREATE INDEX merge_requests_open_by_branch ON merge_requests (project_id, source_branch, state);
