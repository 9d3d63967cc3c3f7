"""The schema's history: an ordered list of migrations, each applied once per database.

To change the schema, append a :class:`Migration`; never edit or reorder one that has
shipped (databases remember versions, not contents). Raw tables render their DDL from
:mod:`tables`; a change to a shipped spec needs an ``ALTER TABLE`` migration too. Each SQL
text may hold several statements and runs in its own transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from tiktok_etl.storage import comment_cache
from tiktok_etl.storage.mentions_store import MENTIONS_DDL
from tiktok_etl.storage.tables import COMMENTS, USERS, VIDEOS


@dataclass(frozen=True)
class Migration:
    version: str
    sql: str


_ACCOUNTS_TOKENS = """
CREATE TABLE IF NOT EXISTS tiktok_accounts (
    account_key text PRIMARY KEY CHECK (account_key ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    api text NOT NULL CHECK (api IN ('display', 'business')),
    open_id text NOT NULL,
    tenant_id bigint NOT NULL DEFAULT 1,
    source_id text,
    keywords text[] NOT NULL DEFAULT '{}',
    keyword_mode text NOT NULL DEFAULT 'tag' CHECK (keyword_mode IN ('tag', 'filter')),
    status text NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'reauth_required', 'revoked', 'disabled')),
    status_reason text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS tiktok_tokens (
    account_key text PRIMARY KEY
        REFERENCES tiktok_accounts (account_key) ON DELETE CASCADE,
    access_token_enc bytea NOT NULL,
    refresh_token_enc bytea,
    open_id text,
    scopes text[] NOT NULL DEFAULT '{}',
    token_type text,
    issued_at timestamptz NOT NULL,
    expires_at timestamptz,
    refresh_expires_at timestamptz,
    expires_in integer,
    refresh_expires_in integer,
    version bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tiktok_tokens_expires_at_idx ON tiktok_tokens (expires_at);
"""

_REJECTS = """
CREATE TABLE IF NOT EXISTS tiktok_rejects (
    id bigserial PRIMARY KEY,
    table_name text NOT NULL,
    account_key text NOT NULL,
    date date NOT NULL,
    kind text NOT NULL,
    reason text NOT NULL,
    payload jsonb NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS tiktok_rejects_partition_idx
    ON tiktok_rejects (table_name, account_key, date);
"""

MIGRATIONS: list[Migration] = [
    Migration("0001_accounts_tokens", _ACCOUNTS_TOKENS),
    Migration("0002_raw_tables", "\n".join(spec.ddl() for spec in (USERS, VIDEOS, COMMENTS))),
    Migration("0003_rejects", _REJECTS),
    Migration("0004_comment_cache", comment_cache.DDL),
    Migration("0005_sl_mentions", MENTIONS_DDL),
]
