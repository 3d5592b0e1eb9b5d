-- 0045_protected_environment_tokens (sqlite): besides a minimum role, named tokens may deploy
-- to (and approve for) a protected environment, as GitLab's deploy access levels name
-- users: DEPLOY_TOKEN_IDS is the ids of those API tokens, comma-separated ('' for none).
-- Keep in step with the other dialect.
ALTER TABLE protected_environments ADD COLUMN deploy_token_ids TEXT NOT NULL DEFAULT '';
