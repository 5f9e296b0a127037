"""The one cache module: a bounded memory LRU, and a disk cache that is verified and pruned.

Every kind of result that is worth keeping (explanations, features, projections, activations)
goes through here, so there is one eviction policy and one integrity check.

- `MemoryCache`: least recently used entries go first, bounded by entry count and by bytes
  (numpy arrays are measured). `memory(workspace, name, ...)` keeps one inside the engine
  workspace, so it is dropped with the model.
- `DiskCache`: one .npz per entry (arrays + JSON metadata), written atomically, pruned to a
  size cap (least recently used first). Each entry carries an HMAC-SHA256, under a per-install
  secret in the config folder, over the key, the metadata and every array's name, dtype, shape
  and bytes. On read, an entry that fails the check (edited, swapped with another key's entry)
  is deleted, reported (`take_reports`, shown in the status bar) and recomputed by the caller;
  an empty, truncated or unreadable entry is deleted and recomputed, never a lasting error.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import secrets
import sys
import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engine.fileio import atomic_write_bytes, cache_dir, config_dir
from engine.provenance import plain

FORMAT_VERSION = 2  # part of every key: a new layout never reads an old entry
SECRET_FILE = "cache-secret.key"
META, MAC = "__meta__", "__mac__"

_secrets: dict[Path, bytes] = {}
_reports: list[str] = []
_reports_lock = threading.Lock()


# ----- keys and sizes ---------------------------------------------------------------------
def key_of(*parts: Any) -> str:
    """A stable hex key for JSON-able parts (dict order does not matter, arrays by content)."""
    text = json.dumps([FORMAT_VERSION, *plain(parts)], sort_keys=True, default=_encode)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _encode(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return {"array_sha256": hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()}
    return repr(value)


def size_of(value: Any) -> int:
    """Bytes held by a value: numpy arrays (also inside dataclasses, tuples, dicts) are measured."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, Mapping):
        return sum(size_of(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(size_of(v) for v in value)
    fields = getattr(value, "__dataclass_fields__", None)
    if fields is not None:
        return sum(size_of(getattr(value, name, None)) for name in fields)
    return sys.getsizeof(value) if value is not None else 0


# ----- memory -----------------------------------------------------------------------------
class MemoryCache:
    """A least-recently-used map bounded by entries and bytes; `get` marks an entry as used."""

    def __init__(self, max_entries: int, max_bytes: int | None = None) -> None:
        self.max_entries = max(1, int(max_entries))
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self.nbytes = 0

    def get(self, key: Hashable, default: Any = None) -> Any:
        found = self._items.get(key)
        if found is None:
            return default
        self._items.move_to_end(key)
        return found[0]

    def put(self, key: Hashable, value: Any) -> Any:
        """Store and return `value`; older entries go until both bounds hold (the new one stays)."""
        self.pop(key)
        size = size_of(value) if self.max_bytes is not None else 0
        self._items[key] = (value, size)
        self.nbytes += size
        while len(self._items) > 1 and (
            len(self._items) > self.max_entries or (self.max_bytes is not None and self.nbytes > self.max_bytes)
        ):
            _, (_, dropped) = self._items.popitem(last=False)
            self.nbytes -= dropped
        return value

    def pop(self, key: Hashable) -> Any:
        found = self._items.pop(key, None)
        if found is None:
            return None
        self.nbytes -= found[1]
        return found[0]

    def clear(self) -> None:
        self._items.clear()
        self.nbytes = 0

    def __contains__(self, key: Hashable) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)


def memory(workspace: Any, name: str, max_entries: int, max_bytes: int | None = None) -> MemoryCache:
    """The workspace's memory cache called `name` (created on first use, dropped with the model)."""
    found = workspace.cache.get(("engine.cache", name))
    if not isinstance(found, MemoryCache):
        found = workspace.cache[("engine.cache", name)] = MemoryCache(max_entries, max_bytes)
    return found


# ----- disk -------------------------------------------------------------------------------
def secret() -> bytes:
    """The per-install HMAC secret (32 random bytes), created on first use, owner-only."""
    path = config_dir() / SECRET_FILE
    if path in _secrets:
        return _secrets[path]
    try:
        data = path.read_bytes()
        if len(data) >= 32:
            _secrets[path] = data
            return data
    except OSError:
        pass
    data = _secrets[path] = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data)
    try:
        os.chmod(path, 0o600)
    except OSError:
        pass
    return data


def _mac(key: str, meta_text: str, arrays: Mapping[str, np.ndarray]) -> str:
    digest = hmac.new(secret(), digestmod=hashlib.sha256)
    digest.update(key.encode("ascii"))
    digest.update(meta_text.encode("utf-8"))
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"\0{name}\0{array.dtype.str}\0{array.shape}\0".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def report(message: str) -> None:
    """Queue a message for the user (the engine thread forwards them to the status bar)."""
    with _reports_lock:
        _reports.append(message)


def take_reports() -> list[str]:
    """The messages queued since the last call, oldest first."""
    with _reports_lock:
        found = list(_reports)
        _reports.clear()
    return found


class DiskCache:
    """Verified .npz entries under the cache folder's `section`, pruned to `max_bytes`."""

    def __init__(self, section: str, max_bytes: int, title: str = "") -> None:
        self.section = section
        self.max_bytes = int(max_bytes)
        self.title = title or section

    @property
    def folder(self) -> Path:
        return cache_dir(self.section)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.npz"

    def load(self, key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """(arrays, metadata) stored under `key`, or None: absent, unreadable or not authentic."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            meta_text = str(arrays.pop(META))
            stored_mac = str(arrays.pop(MAC))
            meta = json.loads(meta_text)
        except Exception:  # noqa: BLE001 - empty, truncated, not a zip, no metadata: recompute
            path.unlink(missing_ok=True)
            return None
        if not hmac.compare_digest(stored_mac, _mac(key, meta_text, arrays)):
            path.unlink(missing_ok=True)
            report(f"A cached {self.title} failed its integrity check; it was discarded and recomputed.")
            return None
        try:
            os.utime(path)  # most recently used: pruned last
        except OSError:
            pass
        return arrays, meta

    def save(self, key: str, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any] | None = None) -> None:
        """Write atomically, then prune; a full or read-only folder costs speed, not the result."""
        arrays = {name: np.asarray(value) for name, value in arrays.items()}
        meta_text = json.dumps(plain(dict(meta or {})), sort_keys=True)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays, **{META: np.array(meta_text), MAC: np.array(_mac(key, meta_text, arrays))})
        try:
            atomic_write_bytes(self.path(key), buffer.getvalue())
            self.prune(keep=self.path(key))
        except OSError:
            pass

    def prune(self, keep: Path | None = None) -> None:
        """Delete least recently used entries (never `keep`) until the folder fits `max_bytes`."""
        entries = []
        for path in self.folder.glob("*.npz"):
            try:
                stat = path.stat()
            except OSError:
                continue
            entries.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            if path == keep:
                continue
            path.unlink(missing_ok=True)
            total -= size

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("*.npz"))
