"""The flat public surface: every exported name resolves, and importing the package
alone stays cheap (the command line's start-up time depends on it)."""

from __future__ import annotations

import subprocess
import sys

import nexasync


def test_every_exported_name_resolves_to_its_home() -> None:
    assert sorted(nexasync.__all__) == sorted(nexasync._HOME)
    for name in nexasync.__all__:
        value = getattr(nexasync, name)
        assert getattr(sys.modules[nexasync._HOME[name]], name) is value


def test_importing_the_package_loads_no_engine_or_database_code() -> None:
    probe = "import sys, nexasync; print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'nexasync')))"  # noqa: E501
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "['nexasync']"
