"""Atomic file writes: a crash or a kill never leaves a half-written file of the user's."""

from __future__ import annotations

import json
import os
import tempfile
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
