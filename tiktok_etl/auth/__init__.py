"""Everything about OAuth tokens: the one token model and its due/expired rule (`model`), the
encrypted store (`store`), the refreshing provider (`provider`), the token-health texts and
refresh plan the Dagster layer shows (`health`), and the login flows (`login`).

Nothing here imports Dagster; the Dagster layer (`tiktok_etl.defs.tokens`) only wires it.
"""

from tiktok_etl.auth.model import StoredTokens, TokenSet, parse_scopes, validate_refresh_fraction

__all__ = ["StoredTokens", "TokenSet", "parse_scopes", "validate_refresh_fraction"]
