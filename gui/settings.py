"""User settings (window geometry, recent models, per-model preprocessing) in a JSON file.

The folder comes from platformdirs; GLASSBOX_CONFIG_DIR overrides it (tests use a temp folder).
Written atomically so a crash never loses the settings.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import platformdirs

from engine.fileio import atomic_write_json

MAX_RECENT = 10


def config_dir() -> Path:
    override = os.environ.get("GLASSBOX_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("glassbox", "glassbox"))


class Settings:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "settings.json"
        self.data: dict[str, Any] = {}
        try:
            self.data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            self.data = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.save()

    def save(self) -> None:
        atomic_write_json(self.path, self.data)

    @property
    def recent_models(self) -> list[str]:
        return list(self.data.get("recent_models", []))

    def add_recent_model(self, path: str) -> None:
        path = str(Path(path).resolve())
        recent = [p for p in self.recent_models if p != path]
        self.set("recent_models", [path, *recent][:MAX_RECENT])
