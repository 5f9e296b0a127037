"""The append-only record log: one JSON object per line, each naming the SHA-256 of the one before.

Why a hash chain in a plain text file: an auditor can read it with any tool, and any edit,
removal, reordering or truncation breaks a hash that `engine.records.verify` recomputes. Each
record carries its own SHA-256 (of its canonical JSON without `sha256` and `signature`), so the
record that was edited is the one named, not its successor.

Appends are kill-safe and safe across processes: the file is locked (flock), the whole line is
written with one `write` on an O_APPEND descriptor and fsynced, and only then is the head file
(``<log>.head``: count and SHA-256 of the last record) replaced atomically. The head lets verify
notice records cut off the end of the log; a kill between the two writes leaves the head one
record behind, which verify accepts because the records it names are intact.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import hashlib
import json
import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine.errors import BadInputError
from engine.fileio import atomic_write_json
from engine.provenance import plain

GENESIS = "0" * 64
LOG_NAME = "records.jsonl"
TAIL_BYTES = 1 << 20  # a record is a few KB: the last one is always within this tail
UNHASHED = ("sha256", "signature")


def canonical(obj: Mapping[str, Any]) -> bytes:
    """The one byte form a record is hashed and signed in (sorted keys, no spaces, ASCII)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def record_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 of the record's canonical JSON without its own hash and signature."""
    body = {k: v for k, v in record.items() if k not in UNHASHED}
    return hashlib.sha256(canonical(body)).hexdigest()


def head_path(log: str | os.PathLike[str]) -> Path:
    return Path(f"{os.fspath(log)}.head")


def log_path_for_review(review_path: str | os.PathLike[str]) -> Path:
    """The log kept beside a review file: `.glassbox-review.json` -> `.glassbox-records.jsonl`."""
    path = Path(review_path)
    stem = path.name.removesuffix(".json")
    stem = stem[: -len("review")] + "records" if stem.endswith("review") else stem + ".records"
    return path.with_name(stem + ".jsonl")


DISTRIBUTIONS = {"numpy": "numpy", "tensorflow": "tensorflow", "keras": "keras", "sklearn": "scikit-learn",
                 "skimage": "scikit-image"}


def glassbox_version() -> str:
    return _installed("glassbox") or "unknown"


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that shape results, read from package metadata.

    Unlike engine.provenance.versions() this never imports TensorFlow, so the GUI thread may
    call it; a result's own provenance versions are passed instead where there is one.
    """
    import platform

    found = {"python": platform.python_version()}
    for name, distribution in DISTRIBUTIONS.items():
        version = _installed(distribution)
        if version:
            found[name] = version
    return found


def _installed(distribution: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return ""


def default_reviewer() -> str:
    """The login name: who sat at this machine, when nobody typed a name."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def now_utc() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_record(
    action: str,
    *,
    reviewer: str = "",
    model_sha256: str = "",
    model_name: str = "",
    case_path: str = "",
    case_sha256: str = "",
    method: str = "",
    params: Mapping[str, Any] | None = None,
    seed: int | None = None,
    target: int | None = None,
    artefacts: list[dict[str, str]] | None = None,
    details: Mapping[str, Any] | None = None,
    versions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The fields every record holds (the chain fields are added by `RecordLog.append`)."""
    return plain({
        "action": action,
        "reviewer": reviewer or default_reviewer(),
        "model_sha256": model_sha256,
        "model_name": model_name,
        "case_path": case_path,
        "case_sha256": case_sha256,
        "method": method,
        "params": dict(params or {}),
        "seed": seed,
        "target": target,
        "versions": {**(versions or library_versions()), "glassbox": glassbox_version()},
        "artefacts": list(artefacts or []),
        "details": dict(details or {}),
    })


def artefact(path: str | os.PathLike[str], kind: str, base: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """An artefact entry for a file: its path (relative to `base` when inside it) and SHA-256."""
    from engine.provenance import sha256_file

    file = Path(path).resolve()
    shown = file.as_posix()
    if base is not None:
        try:
            shown = file.relative_to(Path(base).resolve()).as_posix()
        except ValueError:
            pass
    return {"kind": kind, "path": shown, "sha256": sha256_file(file)}


class RecordLog:
    """Appends records to one log file; see the module docstring for the guarantees."""

    def __init__(self, path: str | os.PathLike[str], signer: Any = None) -> None:
        self.path = Path(path)
        self.signer = signer  # engine.records.signing.Signer or None

    @property
    def folder(self) -> Path:
        return self.path.parent

    def append(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """Chain, hash, sign and append one record (from `new_record`); returns it as written."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not head_path(self.path).exists() and not self.path.exists():
            atomic_write_json(head_path(self.path), {"count": 0, "sha256": GENESIS})
        with self._locked() as fd:
            count, last = self._tail(fd)
            full = {**record, "seq": count + 1, "id": uuid.uuid4().hex[:16], "time": now_utc(), "prev_sha256": last}
            full["sha256"] = record_hash(full)
            if self.signer is not None:
                full["signature"] = self.signer.sign(full)
            line = canonical(full) + b"\n"
            os.write(fd, line)
            os.fsync(fd)
            atomic_write_json(head_path(self.path), {"count": full["seq"], "sha256": full["sha256"]})
        return full

    @contextmanager
    def _locked(self) -> Iterator[int]:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield fd
        finally:
            os.close(fd)  # closing releases the lock

    def _tail(self, fd: int) -> tuple[int, str]:
        """(sequence number, SHA-256) of the last complete record; drops a torn, unacknowledged line."""
        size = os.fstat(fd).st_size
        if size == 0:
            return 0, GENESIS
        start = max(0, size - TAIL_BYTES)
        tail = os.pread(fd, size - start, start)
        if not tail.endswith(b"\n"):
            tail = self._drop_torn_line(fd, tail, start)
            if not tail:
                return 0, GENESIS
        last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        try:
            record = json.loads(last)
            return int(record["seq"]), str(record["sha256"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BadInputError(f"{self.path}: the last record is damaged; run `main.py verify` on it.") from exc

    def _drop_torn_line(self, fd: int, tail: bytes, start: int) -> bytes:
        """A line without its newline is a write a kill cut short: it was never acknowledged
        (the head still names the record before it), so it is cut off. Otherwise someone
        truncated an acknowledged record, and appending would hide that: refuse."""
        cut = tail.rfind(b"\n") + 1
        complete = tail[:cut]
        head = _read_head(self.path)
        last_seq = int(json.loads(complete.rstrip(b"\n").rsplit(b"\n", 1)[-1])["seq"]) if complete else 0
        if start > 0 and not complete:
            raise BadInputError(f"{self.path}: a record longer than {TAIL_BYTES} bytes; the log is damaged.")
        if head is None or head.get("count") != last_seq:
            raise BadInputError(
                f"{self.path}: the last record was cut off after it was written; run `main.py verify` on it."
            )
        os.ftruncate(fd, start + cut)
        os.fsync(fd)
        return complete


def _read_head(log: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(head_path(log).read_text("utf-8"))
        return data if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def read_head(log: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The head file's {"count", "sha256"}, or None when it is missing or unreadable."""
    return _read_head(Path(log))


def read_records(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every complete, parseable record in order (for reports and reproduce; verify is stricter)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read the record log ({exc.strerror or exc}).") from exc
    out = []
    for line in data.split(b"\n"):
        try:
            record = json.loads(line) if line.strip() else None
        except ValueError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out
