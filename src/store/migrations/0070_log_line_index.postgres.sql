-- The log's line index: each chunk records the newlines of the log up to its end, so the
-- chunk holding line N is one indexed lookup (the UI's log ranges and deep links). Chunks
-- stored before keep NULL, and their logs are scanned instead.
ALTER TABLE job_log_chunks ADD COLUMN end_line BIGINT;
CREATE INDEX job_log_chunks_line ON job_log_chunks (job_id, end_line, seq);
