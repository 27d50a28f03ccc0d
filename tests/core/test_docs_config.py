"""docs/configuration.md names every variable emrs/config.py reads, and .env.example lists every
variable of that table with its default — the two claims the page makes."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READ = re.compile(r'(?:_int|_float|_str|_bool|environ\.get)\(\s*"([A-Z][A-Z0-9_]+)"')
NAME = re.compile(r"`([A-Z][A-Z0-9_]+)`")
TESTS_ONLY = {"TEST_DATABASE_URL"}  # read by tests/conftest.py, not by the application


def table_names() -> set[str]:
    rows = [line for line in (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8").splitlines()
            if line.startswith("| `")]
    return {name for row in rows for name in NAME.findall(row.split("|")[1] + row.split("|")[3])}


def test_the_configuration_page_names_every_variable_the_app_reads():
    read = set(READ.findall((ROOT / "emrs" / "config.py").read_text(encoding="utf-8")))
    assert len(read) > 40
    names = table_names()
    assert read - names == set(), f"docs/configuration.md lacks {sorted(read - names)}"
    assert names - read - TESTS_ONLY == set(), f"docs/configuration.md names what config.py never reads: {sorted(names - read - TESTS_ONLY)}"


def test_env_example_lists_every_variable_of_the_table():
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(encoding="utf-8"), re.M))
    first_column = {name for row in (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8").splitlines()
                    if row.startswith("| `") for name in NAME.findall(row.split("|")[1])}
    assert first_column - listed == set(), f".env.example lacks {sorted(first_column - listed)}"
