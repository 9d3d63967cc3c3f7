CREATE TABLE IF NOT EXISTS tiktok_video_metrics (
    account_key text NOT NULL,
    date date NOT NULL,
    video_id text NOT NULL,
    api text NOT NULL,
    create_time timestamptz NOT NULL,
    view_count bigint,
    like_count bigint,
    comment_count bigint,
    share_count bigint,
    reach bigint,
    full_video_watched_rate double precision,
    total_time_watched double precision,
    average_time_watched double precision,
    observed_at timestamptz NOT NULL,
    PRIMARY KEY (account_key, video_id, date)
);
-- a partition write deletes and reloads one (account_key, date)
CREATE INDEX IF NOT EXISTS tiktok_video_metrics_partition
    ON tiktok_video_metrics (account_key, date);

CREATE TABLE IF NOT EXISTS tiktok_video_breakdowns (
    account_key text NOT NULL,
    date date NOT NULL,
    video_id text NOT NULL,
    dimension text NOT NULL,
    key text NOT NULL,
    share double precision NOT NULL,
    PRIMARY KEY (account_key, date, video_id, dimension, key)
);

CREATE TABLE IF NOT EXISTS tiktok_account_metrics (
    account_key text NOT NULL,
    date date NOT NULL,
    api text NOT NULL,
    followers_count bigint,
    following_count bigint,
    likes_count bigint,
    video_count bigint,
    profile_views bigint,
    video_views bigint,
    likes bigint,
    comments bigint,
    shares bigint,
    extra jsonb NOT NULL DEFAULT '{}'::jsonb,
    observed_at timestamptz NOT NULL,
    PRIMARY KEY (account_key, date)
);

ALTER TABLE sl_mentions ADD COLUMN IF NOT EXISTS metrics_as_of timestamptz;
