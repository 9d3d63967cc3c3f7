
CREATE TABLE IF NOT EXISTS tiktok_comment_cache (
    account_key text NOT NULL,
    comment_id text NOT NULL,
    video_id text NOT NULL,
    parent_comment_id text,
    create_time timestamptz NOT NULL,
    reply_count bigint,
    payload jsonb NOT NULL,
    seen_at timestamptz NOT NULL,
    PRIMARY KEY (account_key, comment_id)
);
CREATE INDEX IF NOT EXISTS tiktok_comment_cache_time
    ON tiktok_comment_cache (account_key, create_time);
CREATE INDEX IF NOT EXISTS tiktok_comment_cache_video
    ON tiktok_comment_cache (account_key, video_id);
CREATE TABLE IF NOT EXISTS tiktok_video_links (
    account_key text NOT NULL,
    video_id text NOT NULL,
    share_url text NOT NULL,
    seen_at timestamptz NOT NULL,
    PRIMARY KEY (account_key, video_id)
);
CREATE TABLE IF NOT EXISTS tiktok_comment_video_state (
    account_key text NOT NULL,
    video_id text NOT NULL,
    comment_count bigint NOT NULL,
    newest_comment_time timestamptz,
    checked_at timestamptz NOT NULL,
    PRIMARY KEY (account_key, video_id)
);
