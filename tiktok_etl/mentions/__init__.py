"""``sl_mentions``: every TikTok video, comment and reply in the cross-platform
social-listening mention schema.

Pure code: the schema (:mod:`schema`), keyword matching (:mod:`keywords`) and
normalization (:mod:`normalize`). Neither Dagster nor SQL drivers are imported here; the
PostgreSQL side lives in :mod:`tiktok_etl.storage.mentions_store`.
"""

from tiktok_etl.mentions.keywords import KeywordMatcher, KeywordMode
from tiktok_etl.mentions.normalize import (
    AccountAuthor,
    Mention,
    MentionAccount,
    MentionSource,
    engagement_rate,
    normalize_comment,
    normalize_partition,
    normalize_video,
)
from tiktok_etl.mentions.schema import (
    MENTION_COLUMNS,
    MENTIONS,
    arrow_schema,
    markdown_table,
    mentions_arrow_table,
)

__all__ = [
    "MENTIONS",
    "MENTION_COLUMNS",
    "AccountAuthor",
    "KeywordMatcher",
    "KeywordMode",
    "Mention",
    "MentionAccount",
    "MentionSource",
    "arrow_schema",
    "engagement_rate",
    "markdown_table",
    "mentions_arrow_table",
    "normalize_comment",
    "normalize_partition",
    "normalize_video",
]
