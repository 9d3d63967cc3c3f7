
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
