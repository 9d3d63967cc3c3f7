-- Listening through the Research API: registered queries, the shared daily quota, the raw
-- research tables, and the source of every mention (an owned account or a query).

CREATE TABLE IF NOT EXISTS "tiktok_listening_queries" (
    "query_key" text PRIMARY KEY,
    "query_text" text NOT NULL,
    "regions" text[] NOT NULL DEFAULT '{}',
    "tenant_id" bigint NOT NULL DEFAULT 1,
    "source_id" text,
    "since" date,
    "created_at" timestamptz NOT NULL DEFAULT now(),
    CHECK ("query_key" ~ '^[a-z0-9][a-z0-9_-]{0,62}$')
);

-- one row per UTC day; every process adds to it with one atomic UPDATE
CREATE TABLE IF NOT EXISTS "tiktok_research_quota" (
    "day" date PRIMARY KEY,
    "requests" bigint NOT NULL DEFAULT 0,
    "records" bigint NOT NULL DEFAULT 0,
    "exhausted_at" timestamptz,
    "updated_at" timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS "tiktok_research_videos" (
    "account_key" text NOT NULL,
    "date" date NOT NULL,
    "query_key" text NOT NULL,
    "video_id" text NOT NULL,
    "create_time" timestamptz NOT NULL,
    "username" text,
    "region_code" text,
    "description" text,
    "hashtag_names" text[],
    "like_count" bigint,
    "comment_count" bigint,
    "share_count" bigint,
    "view_count" bigint,
    "duration" double precision,
    "fetched_at" timestamptz NOT NULL,
    "raw" jsonb NOT NULL,
    PRIMARY KEY ("account_key", "date", "video_id")
);

CREATE TABLE IF NOT EXISTS "tiktok_research_comments" (
    "account_key" text NOT NULL,
    "date" date NOT NULL,
    "query_key" text NOT NULL,
    "comment_id" text NOT NULL,
    "video_id" text NOT NULL,
    "parent_comment_id" text,
    "create_time" timestamptz NOT NULL,
    "text" text,
    "like_count" bigint,
    "reply_count" bigint,
    "fetched_at" timestamptz NOT NULL,
    "raw" jsonb NOT NULL,
    PRIMARY KEY ("account_key", "date", "comment_id")
);

ALTER TABLE "sl_mentions" ADD COLUMN IF NOT EXISTS "source_kind" text NOT NULL DEFAULT 'account';
ALTER TABLE "sl_mentions" ADD COLUMN IF NOT EXISTS "source_key" text;
UPDATE "sl_mentions" SET "source_key" = "account_key" WHERE "source_key" IS NULL;
ALTER TABLE "sl_mentions" ALTER COLUMN "source_key" SET NOT NULL;
ALTER TABLE "sl_mentions" DROP CONSTRAINT IF EXISTS "sl_mentions_source_kind_check";
ALTER TABLE "sl_mentions" ADD CONSTRAINT "sl_mentions_source_kind_check"
    CHECK ("source_kind" IN ('account', 'query'));
CREATE INDEX IF NOT EXISTS "sl_mentions_source_idx" ON "sl_mentions" USING btree ("tenant_id", "source_kind", "source_key");
