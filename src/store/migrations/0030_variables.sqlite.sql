-- 0030_variables (SQLite): CI/CD variables of the instance (project_id NULL) and of
-- projects. The value is only ever stored sealed (XChaCha20-Poly1305, store/seal.c):
-- value_sealed = version byte, 24-byte nonce, ciphertext and tag.
-- Keep in step with 0030_variables.postgres.sql.

CREATE TABLE variables (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id        INTEGER REFERENCES projects(id) ON DELETE CASCADE,
    key               TEXT NOT NULL,
    value_sealed      BLOB NOT NULL,
    variable_type     TEXT NOT NULL DEFAULT 'env_var',
    protected         INTEGER NOT NULL DEFAULT 0,
    masked            INTEGER NOT NULL DEFAULT 0,
    hidden            INTEGER NOT NULL DEFAULT 0,
    raw               INTEGER NOT NULL DEFAULT 0,
    environment_scope TEXT NOT NULL DEFAULT '*',
    description       TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE UNIQUE INDEX variables_unique ON variables (COALESCE(project_id, 0), key, environment_scope);
