"""The configuration contract: one table, and what is derived from it."""

from __future__ import annotations

import shlex
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from cryptography.fernet import Fernet

from tiktok_etl.cli import main
from tiktok_etl.defs.resources import (
    FIELD_VARIABLES,
    TikTokConnectorResource,
    resource_from_environment,
)
from tiktok_etl.settings import (
    SETTINGS,
    ConfigError,
    Setting,
    Settings,
    positive_int,
    setting_for,
)

SECRET = "hunter2-SECRET-VALUE"


def test_every_variable_is_declared_once() -> None:
    variables = [entry.variable for entry in SETTINGS]
    attributes = [entry.attribute for entry in SETTINGS]
    assert len(set(variables)) == len(variables)
    assert len(set(attributes)) == len(attributes)


def test_defaults_come_from_the_table(tmp_path: Path) -> None:
    settings = Settings.from_env({"TIKTOK_ETL_HOME": str(tmp_path)})
    assert settings.rate_limit_per_minute == 600
    assert settings.lookback_days == 7
    assert settings.max_retry_seconds == 300
    assert settings.comment_workers == 8
    assert settings.refresh_fraction == 0.25
    assert settings.sandbox is False
    assert settings.display_api_base_url == "https://open.tiktokapis.com"
    assert settings.business_api_base_url == "https://business-api.tiktok.com/open_api/v1.3"
    assert settings.authorize_url == "https://www.tiktok.com/v2/auth/authorize/"
    assert settings.parquet_root == str(tmp_path / "parquet")
    assert settings.database_url is None and settings.token_key is None
    for entry in SETTINGS:
        if entry.default is not None and entry.attribute not in ("home", "parquet_root"):
            assert getattr(settings, entry.attribute) == entry.parse(entry.default)


def test_the_home_default_is_resolved_and_the_parquet_root_follows_it() -> None:
    settings = Settings.from_env({})
    assert settings.home == Path("./.tiktok_etl").resolve()
    assert settings.parquet_root == str(settings.home / "parquet")


def test_values_are_parsed_into_their_types() -> None:
    settings = Settings.from_env(
        {
            "TIKTOK_ETL_RATE_LIMIT_PER_MINUTE": " 40 ",
            "TIKTOK_ETL_REFRESH_FRACTION": "0.5",
            "TIKTOK_ETL_SANDBOX": "yes",
            "TIKTOK_API_BASE_URL": "http://127.0.0.1:9/",
            "TIKTOK_AUTHORIZE_URL": "http://127.0.0.1:9/auth/",
        }
    )
    assert settings.rate_limit_per_minute == 40
    assert settings.refresh_fraction == 0.5
    assert settings.sandbox is True
    assert settings.display_api_base_url == "http://127.0.0.1:9"
    assert settings.authorize_url == "http://127.0.0.1:9/auth/"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TIKTOK_ETL_RATE_LIMIT_PER_MINUTE", "lots"),
        ("TIKTOK_ETL_LOOKBACK_DAYS", "0"),
        ("TIKTOK_ETL_COMMENT_WORKERS", "-2"),
        ("TIKTOK_ETL_MAX_RETRY_SECONDS", "1.5"),
        ("TIKTOK_ETL_REFRESH_FRACTION", "1.5"),
        ("TIKTOK_ETL_SANDBOX", "maybe"),
        ("TIKTOK_API_BASE_URL", "open.tiktokapis.com"),
        ("TIKTOK_BUSINESS_API_BASE_URL", "ftp://business"),
        ("TIKTOK_AUTHORIZE_URL", "not a url"),
        ("TIKTOK_ETL_DATABASE_URL", "mysql://db/x"),
    ],
)
def test_an_invalid_value_is_one_line_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({variable: value})
    message = str(caught.value)
    assert message.startswith(f"{variable} must be ")
    assert "\n" not in message


def test_a_non_secret_invalid_value_is_shown() -> None:
    with pytest.raises(ConfigError, match="got 'lots'"):
        Settings.from_env({"TIKTOK_ETL_RATE_LIMIT_PER_MINUTE": "lots"})


def test_an_invalid_url_error_suggests_the_default() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"TIKTOK_API_BASE_URL": "nope"})
    assert "such as 'https://open.tiktokapis.com'; got 'nope'" in str(caught.value)


def test_an_invalid_database_url_never_echoes_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"TIKTOK_ETL_DATABASE_URL": f"mysql://u:{SECRET}@db/x"})
    assert SECRET not in str(caught.value)
    assert "'mysql' URL" in str(caught.value)


def test_no_invalid_secret_is_ever_echoed() -> None:
    guarded = Setting(
        variable="TIKTOK_ETL_EXAMPLE_SECRET",
        description="a secret number",
        parse=positive_int,
        default=None,
        unset=None,
        secret=True,
        resource_field=None,
        shell_export=False,
    )
    with pytest.raises(ConfigError) as caught:
        guarded.read(SECRET, {})
    assert str(caught.value) == "TIKTOK_ETL_EXAMPLE_SECRET must be a positive integer"


def test_secrets_are_left_out_of_repr() -> None:
    env = {entry.variable: f"postgresql://u:{SECRET}@h/d" for entry in SETTINGS if entry.secret}
    settings = Settings.from_env(env)
    assert settings.database_url and SECRET in settings.database_url
    assert SECRET not in repr(settings)
    assert {e.variable for e in SETTINGS if e.secret} == {
        "TIKTOK_CLIENT_SECRET",
        "TIKTOK_BUSINESS_APP_SECRET",
        "TIKTOK_ETL_DATABASE_URL",
        "TIKTOK_ETL_TOKEN_KEY",
        "TIKTOK_ETL_DAGSTER_PG_URL",
        "TIKTOK_ETL_RESEARCH_CLIENT_SECRET",
    }


def test_app_credentials_are_required_outside_the_sandbox() -> None:
    with pytest.raises(ConfigError, match="TIKTOK_CLIENT_KEY and TIKTOK_CLIENT_SECRET"):
        Settings.from_env({}).require_app_credentials("display")
    sandbox = Settings.from_env({"TIKTOK_ETL_SANDBOX": "1"})
    assert sandbox.require_app_credentials("business") == ("sandbox-app", "sandbox-secret")


def test_resource_fields_are_typed_from_the_table() -> None:
    fields = TikTokConnectorResource.model_fields
    assert fields["rate_limit_per_minute"].annotation == int | None
    assert fields["lookback_days"].annotation == int | None
    assert fields["comment_workers"].annotation == int | None
    assert fields["max_retry_seconds"].annotation == int | None
    assert fields["refresh_fraction"].annotation == float | None
    assert fields["sandbox"].annotation == bool | None
    assert fields["client_secret"].annotation == str | None
    assert fields["home"].annotation == str | None
    assert set(fields) == set(FIELD_VARIABLES)
    for name, variable in FIELD_VARIABLES.items():
        description = fields[name].description or ""
        assert description.startswith(f"{variable}: {setting_for(variable).description}")


def test_the_resource_hands_its_typed_values_to_settings() -> None:
    resource = TikTokConnectorResource(rate_limit_per_minute=40, sandbox=True, refresh_fraction=0.5)
    settings = resource.settings()
    assert settings.rate_limit_per_minute == 40
    assert settings.sandbox is True
    assert settings.refresh_fraction == 0.5


def test_environment_values_resolve_into_typed_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOK_ETL_RATE_LIMIT_PER_MINUTE", "40")
    monkeypatch.setenv("TIKTOK_ETL_SANDBOX", "1")
    monkeypatch.setenv("TIKTOK_ETL_REFRESH_FRACTION", "0.5")
    monkeypatch.setenv("TIKTOK_CLIENT_SECRET", SECRET)
    seen: dict[str, object] = {}

    @dg.asset
    def probe(tiktok: TikTokConnectorResource) -> None:
        seen["fields"] = (tiktok.rate_limit_per_minute, tiktok.sandbox, tiktok.refresh_fraction)
        seen["settings"] = tiktok.settings().rate_limit_per_minute
        seen["secret"] = tiktok.client_secret

    resource = resource_from_environment()
    defs = dg.Definitions(assets=[probe], resources={"tiktok": resource})
    defs.get_repository_def()
    assert dg.materialize([probe], resources={"tiktok": resource}).success
    assert seen == {"fields": (40, True, 0.5), "settings": 40, "secret": SECRET}
    assert isinstance(resource.rate_limit_per_minute, dg.EnvVar | int)
    assert SECRET not in repr(resource)


def test_env_command_exports_the_tables_state_variables(engine: sa.Engine, tmp_path: Path) -> None:
    env = {
        "TIKTOK_ETL_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "TIKTOK_ETL_TOKEN_KEY": Fernet.generate_key().decode(),
        "TIKTOK_ETL_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(tmp_path / "dagster"),
    }
    result = CliRunner().invoke(main, ["env"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    exported = dict(
        shlex.split(line)[1].split("=", 1) for line in result.output.splitlines() if line
    )
    assert result.output.startswith("export ")
    assert set(exported) == {
        "TIKTOK_ETL_DATABASE_URL",
        "TIKTOK_ETL_HOME",
        "TIKTOK_ETL_DAGSTER_PG_URL",
        "DAGSTER_HOME",
    }
    assert exported["TIKTOK_ETL_HOME"] == str((tmp_path / "home").resolve())
    assert exported["DAGSTER_HOME"] == str(tmp_path / "dagster")
