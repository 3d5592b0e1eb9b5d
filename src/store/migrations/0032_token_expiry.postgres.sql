-- 0032_token_expiry (PostgreSQL): API tokens may expire. NULL: never.
-- Keep in step with 0032_token_expiry.sqlite.sql.
ALTER TABLE tokens ADD COLUMN expires_at BIGINT;
