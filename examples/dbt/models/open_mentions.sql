-- The triage queue: every live mention (video, comment or reply) nobody has handled yet.
-- priority_rank orders each tenant's queue: keyword matches first, then the mentions with
-- the most interactions (likes + comments + shares), then the newest, then external_id so
-- that the order is total and stable.
with untriaged as (
    select
        *,
        coalesce(likes_count, 0) + coalesce(comments_count, 0) + coalesce(shares_count, 0)
            as interactions,
        cardinality(matched_keywords) > 0 as keyword_match
    from {{ source('tiktok', 'sl_mentions') }}
    where status = 'new' and deleted_at is null
)

select
    tenant_id || ':' || platform || ':' || external_id as mention_key,
    row_number() over (
        partition by tenant_id
        order by keyword_match desc, interactions desc, published_at desc, external_id
    ) as priority_rank,
    tenant_id,
    account_key,
    platform,
    external_id,
    post_type,
    parent_external_id,
    url,
    content,
    author_handle,
    matched_keywords,
    keyword_match,
    interactions,
    likes_count,
    comments_count,
    shares_count,
    views_count,
    published_at,
    status
from untriaged
order by tenant_id, priority_rank
