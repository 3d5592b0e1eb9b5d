-- 0032_token_expiry (SQLite): API tokens may expire. NULL: never.
-- Keep in step with 0032_token_expiry.postgres.sql.
ALTER TABLE tokens ADD COLUMN expires_at INTEGER;
