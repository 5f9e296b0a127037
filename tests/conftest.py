"""Test set-up shared by engine and GUI tests: offscreen Qt, throw-away settings, quiet TF."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _private_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads or writes the user's real settings or cache."""
    monkeypatch.setenv("GLASSBOX_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))
    monkeypatch.setenv("GLASSBOX_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
