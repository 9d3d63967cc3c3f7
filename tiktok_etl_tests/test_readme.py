"""The README is the front door: what it promises must stay true."""

from __future__ import annotations

import re
from pathlib import Path

from tiktok_etl.settings import SETTINGS, markdown_table

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _block(begin: str, end: str) -> str:
    return README.split(begin, 1)[1].split(end, 1)[0]


def test_configuration_table_is_generated_from_the_contract() -> None:
    block = _block("<!-- configuration table -->\n", "<!-- /configuration table -->")
    assert block == markdown_table(), "paste tiktok_etl.settings.markdown_table() into README.md"


def test_every_contract_variable_is_documented() -> None:
    for entry in SETTINGS:
        assert f"`{entry.variable}`" in README


def test_the_two_commands_are_there_and_ci_runs_the_test_command() -> None:
    assert '.venv/bin/pip install -e ".[dev]" && .venv/bin/tiktok-etl demo' in README
    test_command = ".venv/bin/python -m pytest -q"
    assert test_command in README
    assert test_command in CI


def test_documented_cli_commands_exist() -> None:
    from click.testing import CliRunner

    from tiktok_etl.cli import main

    documented = set(re.findall(r"(?:bin/|`)tiktok-etl ([a-z]+(?: [a-z]+)?)", README))
    runner = CliRunner()
    for command in sorted(documented):
        words = command.split()
        result = runner.invoke(main, [*words, "--help"])
        if result.exit_code != 0 and len(words) == 2:
            result = runner.invoke(main, [words[0], "--help"])  # "tiktok-etl demo then ..."
        assert result.exit_code == 0, f"README documents `tiktok-etl {command}`: {result.output}"
