"""Shared test fixtures."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def _nowhere_home(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("construct-home"))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, _nowhere_home: str) -> None:
    """No test sees a real key: drop every key-like and `CONSTRUCT_*` variable, and point
    the token store (`CONSTRUCT_HOME`) away from the user's own sign-ins."""
    for var in list(os.environ):
        if var == "API_KEY" or var.endswith(("_API_KEY", "_TOKEN")) or var.startswith("CONSTRUCT_"):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CONSTRUCT_HOME", _nowhere_home)
