-- 0080_downstream_pipelines (SQLite): a pipeline made by a bridge job (`trigger:`) knows
-- the pipeline and the job that made it; GET /api/v1/pipelines/{id} lists its downstream
-- pipelines (parent_job_id is not a foreign key: jobs already reference pipelines, and a
-- cycle of references would keep either table from being dropped). Keep in step with the
-- .postgres.sql.
ALTER TABLE pipelines ADD COLUMN parent_pipeline_id INTEGER REFERENCES pipelines(id) ON DELETE SET NULL;
ALTER TABLE pipelines ADD COLUMN parent_job_id INTEGER;
CREATE INDEX pipelines_by_parent ON pipelines (parent_pipeline_id);
