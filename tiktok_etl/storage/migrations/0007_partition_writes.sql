CREATE TABLE IF NOT EXISTS tiktok_partition_writes (
    table_name text NOT NULL,
    account_key text NOT NULL,
    date date NOT NULL,
    write_id text NOT NULL,
    row_count bigint NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_name, account_key, date)
);
