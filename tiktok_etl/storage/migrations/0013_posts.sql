CREATE TABLE IF NOT EXISTS tiktok_posts (
    post_key bigserial PRIMARY KEY,
    account_key text NOT NULL,
    publish_id text,
    mode text NOT NULL CHECK (mode IN ('direct', 'inbox')),
    source text NOT NULL CHECK (source IN ('FILE_UPLOAD', 'PULL_FROM_URL')),
    title text,
    privacy text,
    file_name text,
    video_size bigint,
    chunk_count integer,
    status text NOT NULL,
    fail_reason text,
    uploaded_bytes bigint NOT NULL DEFAULT 0,
    post_ids text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS tiktok_posts_publish_id ON tiktok_posts (publish_id);
CREATE INDEX IF NOT EXISTS tiktok_posts_account_time ON tiktok_posts (account_key, created_at);
CREATE TABLE IF NOT EXISTS tiktok_post_inits (
    account_key text NOT NULL,
    sent_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS tiktok_post_inits_account_time
    ON tiktok_post_inits (account_key, sent_at);
