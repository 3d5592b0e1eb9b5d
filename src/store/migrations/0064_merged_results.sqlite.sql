-- 0064_merged_results (sqlite): a merge request pipeline that runs on the merge the forge made
-- of the request into its target branch (GitHub's refs/pull/N/merge), as GitLab's merged
-- results pipelines keep it (ci_pipelines.source_sha and target_sha): SHA is that merge,
-- SOURCE_SHA the request's head (where commit statuses go: the forge shows them on the
-- request's commit, not on its test merge), TARGET_SHA the target branch's commit merged
-- into. NULL for every other pipeline. Keep in step with the other dialect.
ALTER TABLE pipelines ADD COLUMN source_sha TEXT;
ALTER TABLE pipelines ADD COLUMN target_sha TEXT;
