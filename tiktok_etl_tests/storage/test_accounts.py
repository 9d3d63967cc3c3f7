from __future__ import annotations

import pytest
import sqlalchemy as sa

from tiktok_etl.auth.model import TokenSet
from tiktok_etl.auth.store import TokenCipher, TokenStore
from tiktok_etl.storage.accounts import Account, AccountStore, validate_account_key
from tiktok_etl.storage.errors import AccountExists, AccountNotFound, InvalidAccountKey
from tiktok_etl.storage.partitions import count_partition, write_partition
from tiktok_etl.storage.rejects import read_rejects
from tiktok_etl.storage.tables import VIDEOS
from tiktok_etl_tests.storage.sample_rows import DAY, video_row


def _account(key: str = "acme", **overrides: object) -> Account:
    return Account(**{"account_key": key, "api": "display", "open_id": f"open-{key}", **overrides})  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["acme", "a", "acme_main", "acme-2", "0day", "a" * 63])
def test_valid_account_keys(key: str) -> None:
    assert validate_account_key(key) == key


@pytest.mark.parametrize(
    "key", ["", "Acme", "_acme", "-acme", "acme|x", "a,b", "a b", "a.b", "é", "a" * 64]
)
def test_invalid_account_keys_are_rejected(key: str) -> None:
    with pytest.raises(InvalidAccountKey, match="invalid account key"):
        validate_account_key(key)
    with pytest.raises(InvalidAccountKey):
        _account(key)


def test_add_then_get_returns_defaults_and_timestamps(engine: sa.Engine) -> None:
    store = AccountStore(engine)
    added = store.add(_account(keywords=(" sale ", "promo", "sale", "")))
    assert added == store.get("acme")
    assert added.tenant_id == 1
    assert added.keywords == ("sale", "promo")
    assert (added.keyword_mode, added.status, added.status_reason) == ("tag", "active", None)
    assert added.created_at is not None and added.updated_at is not None


def test_adding_an_existing_key_raises_account_exists(engine: sa.Engine) -> None:
    store = AccountStore(engine)
    store.add(_account())
    with pytest.raises(AccountExists, match="'acme' already exists"):
        store.add(_account(api="business"))
    assert store.get("acme").api == "display"


def test_get_unknown_raises_account_not_found(engine: sa.Engine) -> None:
    with pytest.raises(AccountNotFound, match="no account 'ghost'"):
        AccountStore(engine).get("ghost")


def test_list_orders_by_key_and_filters_by_status(engine: sa.Engine) -> None:
    store = AccountStore(engine)
    for key in ("zeta", "acme", "mid"):
        store.add(_account(key, api="business", tenant_id=7, source_id=f"src-{key}"))
    store.set_status("mid", "reauth_required", "invalid_grant on refresh")
    assert [a.account_key for a in store.list()] == ["acme", "mid", "zeta"]
    assert [a.account_key for a in store.list(status="active")] == ["acme", "zeta"]
    (mid,) = store.list(status="reauth_required")
    assert mid.status_reason == "invalid_grant on refresh"
    assert mid.tenant_id == 7 and mid.source_id == "src-mid"


def test_set_status_and_keywords_update_the_account(engine: sa.Engine) -> None:
    store = AccountStore(engine)
    store.add(_account())
    disabled = store.set_status("acme", "disabled")
    assert disabled.status == "disabled" and disabled.status_reason is None
    updated = store.set_keywords("acme", ["brand", "Brand ", "launch"], "filter")
    assert (updated.keywords, updated.keyword_mode) == (("brand", "Brand", "launch"), "filter")
    assert updated.updated_at is not None and updated.created_at is not None
    assert updated.updated_at >= updated.created_at
    with pytest.raises(ValueError, match="invalid status"):
        store.set_status("acme", "paused")  # type: ignore[arg-type]
    with pytest.raises(AccountNotFound):
        store.set_keywords("ghost", [], "tag")


def test_invalid_choices_are_rejected_before_sql() -> None:
    with pytest.raises(ValueError, match="invalid api"):
        _account(api="ads")
    with pytest.raises(ValueError, match="invalid keyword mode"):
        _account(keyword_mode="regex")
    with pytest.raises(ValueError, match="open_id is required"):
        _account(open_id="")


def test_remove_deletes_account_and_tokens_but_keeps_data(engine: sa.Engine) -> None:
    store = AccountStore(engine)
    tokens = TokenStore(engine, TokenCipher(TokenCipher.generate_key()))
    store.add(_account())
    tokens.save("acme", TokenSet(access_token="act.1", refresh_token="rft.1", expires_in=60))
    write_partition(engine, VIDEOS, "acme", DAY, [video_row("v1")], rejects=[({}, "r", "k")])
    store.remove("acme")
    assert not store.exists("acme")
    assert tokens.load("acme") is None
    assert count_partition(engine, VIDEOS, "acme", DAY) == 1
    with pytest.raises(AccountNotFound):
        store.remove("acme")


def test_remove_with_purge_deletes_the_accounts_data_only(engine: sa.Engine) -> None:
    store = AccountStore(engine)
    store.add(_account())
    store.add(_account("other"))
    write_partition(engine, VIDEOS, "acme", DAY, [video_row("v1")], rejects=[({}, "r", "k")])
    write_partition(engine, VIDEOS, "other", DAY, [video_row("v1", account_key="other")])
    store.remove("acme", purge=True)
    assert count_partition(engine, VIDEOS, "acme", DAY) == 0
    assert read_rejects(engine, "tiktok_videos", "acme") == []
    assert count_partition(engine, VIDEOS, "other", DAY) == 1


def test_database_enforces_the_key_format_too(engine: sa.Engine) -> None:
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO tiktok_accounts (account_key, api, open_id) "
                "VALUES ('Bad|Key', 'display', 'x')"
            )
        )
