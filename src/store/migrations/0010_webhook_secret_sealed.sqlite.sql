-- 0010_webhook_secret_sealed (sqlite): a project's webhook secret is kept sealed
-- (XChaCha20-Poly1305 under the secrets key, bound to the project, store/seal.c), never in
-- clear. The clear column stays for rows written before this migration: the server seals
-- them at its first start with the key (sl_store_seal_key_load) and empties the column.
-- Keep in step with 0010_webhook_secret_sealed.postgres.sql.
ALTER TABLE projects ADD COLUMN webhook_secret_sealed BLOB;
