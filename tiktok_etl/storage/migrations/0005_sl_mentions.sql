CREATE TABLE IF NOT EXISTS "sl_mentions" (
    "tenant_id" bigint NOT NULL,
    "source_id" text,
    "platform" text NOT NULL,
    "external_id" text NOT NULL,
    "url" text,
    "content" text NOT NULL,
    "author_name" text,
    "author_handle" text,
    "author_followers" bigint,
    "author_verified" boolean,
    "likes_count" bigint,
    "comments_count" bigint,
    "shares_count" bigint,
    "views_count" bigint,
    "reach" bigint,
    "media_type" text NOT NULL,
    "media_urls" text[] NOT NULL DEFAULT '{}',
    "published_at" timestamptz NOT NULL,
    "post_type" text NOT NULL,
    "status" text NOT NULL DEFAULT 'new',
    "duration" double precision,
    "dimensions" jsonb,
    "raw_data" jsonb NOT NULL,
    "parent_external_id" text,
    "matched_keywords" text[] NOT NULL DEFAULT '{}',
    "engagement_rate" double precision,
    "account_key" text NOT NULL,
    "date" date NOT NULL,
    "ingested_at" timestamptz NOT NULL DEFAULT now(),
    "updated_at" timestamptz NOT NULL DEFAULT now(),
    "deleted_at" timestamptz,
    PRIMARY KEY ("tenant_id", "platform", "external_id")
);
CREATE INDEX IF NOT EXISTS "sl_mentions_tenant_published_at_idx" ON "sl_mentions" USING btree ("tenant_id", "published_at");
CREATE INDEX IF NOT EXISTS "sl_mentions_status_idx" ON "sl_mentions" USING btree ("tenant_id", "status");
CREATE INDEX IF NOT EXISTS "sl_mentions_matched_keywords_idx" ON "sl_mentions" USING gin ("matched_keywords");
CREATE INDEX IF NOT EXISTS "sl_mentions_account_key_date_idx" ON "sl_mentions" USING btree ("account_key", "date");
CREATE INDEX IF NOT EXISTS "sl_mentions_parent_external_id_idx" ON "sl_mentions" USING btree ("tenant_id", "parent_external_id");

CREATE OR REPLACE VIEW sl_mentions_daily AS
SELECT
    tenant_id,
    platform,
    account_key,
    (published_at AT TIME ZONE 'UTC')::date AS day,
    post_type,
    count(*) AS mentions,
    coalesce(sum(likes_count), 0)::bigint AS likes,
    coalesce(sum(comments_count), 0)::bigint AS comments,
    coalesce(sum(shares_count), 0)::bigint AS shares,
    coalesce(sum(views_count), 0)::bigint AS views,
    avg(engagement_rate) AS avg_engagement_rate,
    count(*) FILTER (WHERE cardinality(matched_keywords) > 0) AS keyword_hits
FROM sl_mentions
WHERE deleted_at IS NULL
GROUP BY tenant_id, platform, account_key, (published_at AT TIME ZONE 'UTC')::date, post_type;
