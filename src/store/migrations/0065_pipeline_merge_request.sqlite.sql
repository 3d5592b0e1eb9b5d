-- 0065_pipeline_merge_request (sqlite): the merge request a merge request pipeline is for
-- (GitLab's ci_pipelines.merge_request_id; here the request's iid in its project), so
-- redundant pipelines are those of the same request: a request's pipeline, a fork's
-- above all, never cancels a branch pipeline, or another request's, whose branch has the
-- same name. NULL for every other pipeline. Keep in step with the other dialect.
ALTER TABLE pipelines ADD COLUMN merge_request_iid INTEGER;
