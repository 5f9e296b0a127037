"""Keras's ImageNet class index is used when it is on disk, and its absence is said, not fetched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine import class_index


def test_missing_index_says_it_is_not_available_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    names, why = class_index.imagenet_class_names()
    assert names is None and "not available offline" in why and str(tmp_path / "models") in why


def test_index_on_disk_gives_the_1000_names_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "models").mkdir()
    data = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    (tmp_path / "models" / class_index.FILE).write_text(json.dumps(data))
    names, why = class_index.imagenet_class_names()
    assert why == "" and len(names) == 1000 and names[0] == "class_0" and names[999] == "class_999"
    (tmp_path / "models" / class_index.FILE).write_text("{}")
    assert class_index.imagenet_class_names()[0] is None
