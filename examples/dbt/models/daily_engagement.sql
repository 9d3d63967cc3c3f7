-- One row per account and UTC day on which the account published at least one video that is
-- still live. The metrics are the videos' latest counts (the connector refreshes them while
-- they keep moving), not the engagement that happened on that day.
with videos as (
    select account_key, "date", views_count, likes_count, comments_count, shares_count
    from {{ source('tiktok', 'sl_mentions') }}
    where post_type = 'video' and deleted_at is null
),

per_day as (
    select
        account_key,
        "date",
        count(*) as videos,
        coalesce(sum(views_count), 0)::bigint as views,
        coalesce(sum(likes_count), 0)::bigint as likes,
        coalesce(sum(comments_count), 0)::bigint as comments,
        coalesce(sum(shares_count), 0)::bigint as shares
    from videos
    group by account_key, "date"
)

select
    -- the Dagster partition key of the mentions this row was built from
    account_key || '|' || to_char("date", 'YYYY-MM-DD') as partition_key,
    account_key,
    "date",
    videos,
    views,
    likes,
    comments,
    shares,
    (likes + comments + shares)::double precision / nullif(views, 0) as engagement_rate
from per_day
