"""Atomic file writes: a crash or a kill never leaves a half-written file of the user's."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any


def cache_dir(section: str) -> Path:
    """A folder for results worth keeping between sessions (safe to delete at any time).

    GLASSBOX_CACHE_DIR overrides the platform's user cache folder (tests use a temp folder).
    """
    override = os.environ.get("GLASSBOX_CACHE_DIR")
    if override:
        return Path(override) / section
    import platformdirs

    return Path(platformdirs.user_cache_dir("glassbox", "glassbox")) / section


def config_dir() -> Path:
    """The user's settings folder; GLASSBOX_CONFIG_DIR overrides it (tests use a temp folder)."""
    override = os.environ.get("GLASSBOX_CONFIG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir("glassbox", "glassbox"))


def remove_stale_temps(path: str | os.PathLike[str], older_than: float = 60.0) -> int:
    """Remove temp files that `atomic_write_bytes` left for `path` when its writer was killed.

    Only files older than `older_than` seconds go, so another instance's write in progress is
    never pulled from under it (a caller holding a lock on `path` may pass 0). Returns how many.
    """
    target = Path(path)
    removed = 0
    try:
        leftovers = list(target.parent.glob(f".{target.name}.*.tmp"))
    except OSError:
        return 0
    now = time.time()
    for leftover in leftovers:
        try:
            if now - leftover.lstat().st_mtime >= older_than:
                leftover.unlink()
                removed += 1
        except OSError:
            continue
    return removed


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write to a temporary file in the same folder, fsync it, then rename over `path`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
