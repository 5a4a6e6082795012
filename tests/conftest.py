"""Shared test fixtures."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees a real key: drop every key-like and `CONSTRUCT_*` variable."""
    for var in list(os.environ):
        if var == "API_KEY" or var.endswith(("_API_KEY", "_TOKEN")) or var.startswith("CONSTRUCT_"):
            monkeypatch.delenv(var, raising=False)
