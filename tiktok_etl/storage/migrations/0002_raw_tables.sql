CREATE TABLE IF NOT EXISTS "tiktok_users" (
    "account_key" text NOT NULL,
    "date" date NOT NULL,
    "api" text NOT NULL,
    "open_id" text NOT NULL,
    "username" text,
    "display_name" text,
    "avatar_url" text,
    "bio_description" text,
    "is_verified" boolean,
    "follower_count" bigint,
    "following_count" bigint,
    "likes_count" bigint,
    "video_count" bigint,
    "fetched_at" timestamptz NOT NULL,
    "raw" jsonb NOT NULL,
    PRIMARY KEY ("account_key", "date")
);
CREATE TABLE IF NOT EXISTS "tiktok_videos" (
    "account_key" text NOT NULL,
    "date" date NOT NULL,
    "api" text NOT NULL,
    "video_id" text NOT NULL,
    "create_time" timestamptz NOT NULL,
    "description" text,
    "title" text,
    "share_url" text,
    "cover_image_url" text,
    "embed_url" text,
    "duration" double precision,
    "width" integer,
    "height" integer,
    "like_count" bigint,
    "comment_count" bigint,
    "share_count" bigint,
    "view_count" bigint,
    "reach" bigint,
    "full_video_watched_rate" double precision,
    "total_time_watched" double precision,
    "average_time_watched" double precision,
    "fetched_at" timestamptz NOT NULL,
    "raw" jsonb NOT NULL,
    PRIMARY KEY ("account_key", "date", "video_id")
);
CREATE INDEX IF NOT EXISTS "tiktok_videos_video_id_idx" ON "tiktok_videos" ("video_id");
CREATE INDEX IF NOT EXISTS "tiktok_videos_create_time_idx" ON "tiktok_videos" ("create_time");
CREATE TABLE IF NOT EXISTS "tiktok_comments" (
    "account_key" text NOT NULL,
    "date" date NOT NULL,
    "comment_id" text NOT NULL,
    "video_id" text NOT NULL,
    "parent_comment_id" text,
    "create_time" timestamptz NOT NULL,
    "text" text,
    "like_count" bigint,
    "reply_count" bigint,
    "username" text,
    "unique_identifier" text,
    "profile_image" text,
    "status" text,
    "owner" boolean,
    "pinned" boolean,
    "fetched_at" timestamptz NOT NULL,
    "raw" jsonb NOT NULL,
    PRIMARY KEY ("account_key", "date", "comment_id")
);
CREATE INDEX IF NOT EXISTS "tiktok_comments_video_id_idx" ON "tiktok_comments" ("video_id");
CREATE INDEX IF NOT EXISTS "tiktok_comments_create_time_idx" ON "tiktok_comments" ("create_time");