
CREATE TABLE IF NOT EXISTS tiktok_rejects (
    id bigserial PRIMARY KEY,
    table_name text NOT NULL,
    account_key text NOT NULL,
    date date NOT NULL,
    kind text NOT NULL,
    reason text NOT NULL,
    payload jsonb NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tiktok_rejects_partition_idx
    ON tiktok_rejects (table_name, account_key, date);
