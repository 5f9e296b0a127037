"""User settings (window geometry, recent models, per-model preprocessing) in a JSON file.

The folder comes from platformdirs; GLASSBOX_CONFIG_DIR overrides it (tests use a temp folder).
Written atomically so a crash never loses the settings. A file of the wrong shape never stops the
app: each key that does not have the shape we write falls back to its default (`sanitize`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import GlassboxError
from engine.fileio import atomic_write_json, config_dir, remove_stale_temps
from engine.limits import read_regular

__all__ = ["Settings", "config_dir"]

MAX_RECENT = 10


def _text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT


def _recipe(value: Any) -> bool:
    from engine.preprocessing import Preprocessing
    from engine.tabular_recipe import TabularRecipe, is_tabular_recipe

    if not isinstance(value, dict):
        return False
    try:
        (TabularRecipe.from_dict if is_tabular_recipe(value) else Preprocessing.from_dict)(value)
    except Exception:  # noqa: BLE001 - any recipe that does not build is dropped
        return False
    return True


def _baseline(value: Any) -> bool:
    from gui.widgets.baseline_choice import valid

    return valid(value)


# key -> (check for one item, container): "list" keeps good items, "dict" keeps good values
SCHEMA: dict[str, tuple[Callable[[Any], bool], str]] = {
    "recent_models": (_text, "list"),
    "window_geometry": (_text, "value"),
    "window_platform": (_text, "value"),  # the Qt platform that saved the geometry
    "window_state": (_text, "value"),
    "preprocessing": (_recipe, "dict"),
    "review_files": (_text, "dict"),
    "reviewer_name": (_text, "value"),
    "labels_files": (_text, "dict"),
    "metric_baseline": (_baseline, "value"),  # the perturbation metrics' fill (gui.widgets.baseline_choice)
}
MAX_TEXT = 1 << 16
MAX_BYTES = 16 << 20


def sanitize(data: Any) -> tuple[dict[str, Any], list[str]]:
    """Settings of the wrong shape fall back to defaults key by key (a list, a string, a number
    where a list belongs, nulls inside lists): the app always starts. Returns the data kept and
    what was dropped."""
    if not isinstance(data, dict):
        return {}, [f"the file holds {type(data).__name__}, not settings"]
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for key, value in data.items():
        if key not in SCHEMA:  # another part's (or a newer version's) key: kept as it is
            kept[key] = value
            continue
        check, container = SCHEMA[key]
        if container == "list" and isinstance(value, list):
            good = [item for item in value if check(item)]
            kept[key] = good
        elif container == "dict" and isinstance(value, dict):
            good_items = {k: v for k, v in value.items() if isinstance(k, str) and check(v)}
            kept[key] = good_items
            good = list(good_items)
        elif container == "value" and check(value):
            kept[key] = value
            continue
        else:
            dropped.append(key)
            continue
        if len(good) != len(value):
            dropped.append(f"{len(value) - len(good)} bad item(s) of {key}")
    return kept, dropped


class Settings:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "settings.json"
        self.data: dict[str, Any] = {}
        self.dropped: list[str] = []  # what was of the wrong shape and fell back to its default
        remove_stale_temps(self.path)  # left by an instance killed while saving
        try:
            raw = json.loads(read_regular(self.path, MAX_BYTES).decode("utf-8"))
        except FileNotFoundError:
            return
        except (GlassboxError, OSError, ValueError, RecursionError):
            self.dropped = ["the whole file (unreadable)"] if self.path.exists() else []
            return
        self.data, self.dropped = sanitize(raw)

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
