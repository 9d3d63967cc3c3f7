from __future__ import annotations

import os
import stat
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from tiktok_etl.auth.model import StoredTokens, TokenSet
from tiktok_etl.auth.store import TokenCipher, TokenStore
from tiktok_etl.storage.accounts import Account, AccountStore
from tiktok_etl.storage.errors import AccountNotFound, TokenDecryptError, TokenLockTimeout

NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
ACCESS = "act.SECRET-access-token-value"
REFRESH = "rft.SECRET-refresh-token-value"


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher(TokenCipher.generate_key())


@pytest.fixture
def store(engine: sa.Engine, cipher: TokenCipher) -> TokenStore:
    accounts = AccountStore(engine)
    for key in ("acme", "beta", "gamma"):
        accounts.add(Account(account_key=key, api="display", open_id=f"open-{key}"))
    return TokenStore(engine, cipher)


def _tokens(access: str = ACCESS, refresh: str = REFRESH, **overrides: object) -> TokenSet:
    values: dict[str, object] = {
        "access_token": access,
        "refresh_token": refresh,
        "open_id": "open-acme",
        "scopes": "user.info.basic,video.list",
        "token_type": "Bearer",
        "issued_at": NOW,
        "expires_in": 86400,
        "refresh_expires_in": 31536000,
    }
    values.update(overrides)
    return TokenSet(**values)  # type: ignore[arg-type]


def test_save_then_load_round_trips_with_derived_expiry(store: TokenStore) -> None:
    saved = store.save("acme", _tokens())
    loaded = store.load("acme")
    assert loaded == saved
    assert isinstance(loaded, StoredTokens)
    assert (loaded.access_token, loaded.refresh_token) == (ACCESS, REFRESH)
    assert loaded.scopes == ("user.info.basic", "video.list")
    assert loaded.expires_at == NOW + timedelta(days=1)
    assert loaded.refresh_expires_at == NOW + timedelta(days=365)
    assert loaded.version == 1


def test_save_again_bumps_the_version(store: TokenStore) -> None:
    store.save("acme", _tokens())
    second = store.save("acme", _tokens(access="act.2"))
    assert second.version == 2
    loaded = store.load("acme")
    assert loaded is not None and loaded.access_token == "act.2" and loaded.version == 2


def test_load_unknown_returns_none_and_save_unknown_account_raises(store: TokenStore) -> None:
    assert store.load("ghost") is None
    with pytest.raises(AccountNotFound):
        store.save("ghost", _tokens())


def test_tokens_are_encrypted_at_rest(store: TokenStore, engine: sa.Engine) -> None:
    store.save("acme", _tokens())
    with engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT access_token_enc, refresh_token_enc, t.* FROM tiktok_tokens t")
        ).one()
    dump = b"".join(bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for v in row)
    for secret in (ACCESS, REFRESH, "SECRET"):
        assert secret.encode() not in dump


def test_reprs_never_show_token_values(store: TokenStore, cipher: TokenCipher) -> None:
    saved = store.save("acme", _tokens())
    for text in (repr(saved), str(saved), repr(_tokens()), repr(cipher), repr(store)):
        assert "SECRET" not in text
    assert "open-acme" in repr(saved)


def test_wrong_key_raises_token_decrypt_error(store: TokenStore, engine: sa.Engine) -> None:
    store.save("acme", _tokens())
    other = TokenStore(engine, TokenCipher(TokenCipher.generate_key()))
    with pytest.raises(TokenDecryptError, match="different TIKTOK_ETL_TOKEN_KEY") as caught:
        other.load("acme")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_compare_and_swap_succeeds_once_then_fails_on_the_stale_version(
    store: TokenStore,
) -> None:
    first = store.save("acme", _tokens())
    assert store.compare_and_swap("acme", first.version, _tokens(access="act.A"))
    assert not store.compare_and_swap("acme", first.version, _tokens(access="act.B"))
    loaded = store.load("acme")
    assert loaded is not None
    assert (loaded.access_token, loaded.version) == ("act.A", first.version + 1)
    assert not store.compare_and_swap("ghost", 1, _tokens())


def test_lock_excludes_a_second_holder_until_released(store: TokenStore) -> None:
    events: list[str] = []
    held = threading.Event()

    def holder() -> None:
        with store.lock("acme"):
            events.append("first acquired")
            held.set()
            time.sleep(0.4)
            events.append("first released")

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)
    with store.lock("beta", timeout=1):
        events.append("other account acquired")  # a different account is not blocked
    with store.lock("acme"):
        events.append("second acquired")
    thread.join()
    assert events == [
        "first acquired",
        "other account acquired",
        "first released",
        "second acquired",
    ]


def test_lock_timeout_raises_and_the_lock_stays_usable(store: TokenStore) -> None:
    held = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with store.lock("acme"):
            held.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(10)
    started = time.monotonic()
    with pytest.raises(TokenLockTimeout, match="'acme'"), store.lock("acme", timeout=0.2):
        pass
    assert time.monotonic() - started < 2
    release.set()
    thread.join()
    with store.lock("acme", timeout=1):
        pass


def _due(store: TokenStore, fraction: float) -> list[tuple[str, datetime]]:
    """(account, access expiry) of the accounts due now, soonest expiry first."""
    due = [entry for entry in store.refresh_schedule(fraction) if entry.is_due(NOW)]
    return sorted(((e.account_key, e.expires_at) for e in due), key=lambda pair: pair[1])


def test_refresh_schedule_uses_a_fraction_of_the_reported_lifetime(store: TokenStore) -> None:
    # acme: 24 h lifetime, 5 h left (21%); beta: 1 h lifetime, 40 min left (67%);
    # gamma: expired
    store.save("acme", _tokens(issued_at=NOW - timedelta(hours=19), expires_in=86400))
    store.save("beta", _tokens(issued_at=NOW - timedelta(minutes=20), expires_in=3600))
    store.save("gamma", _tokens(issued_at=NOW - timedelta(hours=2), expires_in=3600))
    expiring = _due(store, 0.25)
    assert [key for key, _ in expiring] == ["gamma", "acme"]
    assert expiring[1][1] == NOW + timedelta(hours=5)
    assert [k for k, _ in _due(store, 0.7)] == ["gamma", "beta", "acme"]
    assert [k for k, _ in _due(store, 0.01)] == ["gamma"]
    schedule = store.refresh_schedule(0.25)
    assert min(entry.expires_at for entry in schedule) == NOW - timedelta(hours=1)
    assert [entry.due_at for entry in schedule] == sorted(entry.due_at for entry in schedule)


def test_refresh_schedule_applies_the_token_models_rule(store: TokenStore) -> None:
    tokens = _tokens(issued_at=NOW - timedelta(hours=19), expires_in=86400)
    store.save("acme", tokens)
    (entry,) = store.refresh_schedule(0.25)
    assert entry.due_at == tokens.refresh_due_at(0.25) == NOW - timedelta(hours=1)
    assert entry.is_due(NOW) == tokens.is_due(0.25, NOW)


def test_refresh_schedule_skips_accounts_that_are_not_active(
    store: TokenStore, engine: sa.Engine
) -> None:
    store.save("acme", _tokens(issued_at=NOW - timedelta(days=2)))
    AccountStore(engine).set_status("acme", "reauth_required", "invalid_grant")
    assert store.refresh_schedule(0.5) == []


def test_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "home" / "token.key"
    first = TokenCipher.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = TokenCipher.load_or_create(path)
    assert second.decrypt(first.encrypt("x")) == "x"
    assert [p.name for p in path.parent.iterdir()] == ["token.key"]


def test_concurrent_key_creation_agrees_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "token.key"
    ciphers: list[TokenCipher] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        barrier.wait()
        ciphers.append(TokenCipher.load_or_create(path))

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    token = ciphers[0].encrypt("x")
    assert all(c.decrypt(token) == "x" for c in ciphers)
    assert sorted(os.listdir(tmp_path)) == ["token.key"]


def test_invalid_env_key_names_the_variable_without_echoing_it() -> None:
    bogus = "not-a-fernet-key-but-maybe-a-secret"
    with pytest.raises(ValueError, match="TIKTOK_ETL_TOKEN_KEY") as caught:
        TokenCipher.from_env_value(bogus)
    assert bogus not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    valid = Fernet.generate_key().decode()
    assert (
        TokenCipher.from_env_value(f" {valid}\n").decrypt(Fernet(valid.encode()).encrypt(b"ok"))
        == "ok"
    )
