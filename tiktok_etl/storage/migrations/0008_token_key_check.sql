-- Small key/value facts about the installation. `token_key_check` holds a known plaintext
-- encrypted with the token key (never the key itself): start-up decrypts it to detect a
-- lost or changed TIKTOK_ETL_TOKEN_KEY before any token is used.
CREATE TABLE tiktok_etl_meta (
    name text PRIMARY KEY,
    value bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
