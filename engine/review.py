"""The reviewer's verdicts and notes per case, in a JSON file that travels with the cases.

Where: `<folder>/.glassbox-review.json` for a folder, `<file>.review.json` for a file, or a
location the user chose. The reviewers' records are the product, so the file is built to lose
nothing and to mix nothing up:

- A case is its path within the dataset plus its content hash: two files with identical bytes
  are two cases, and an image whose content changed is a new case (its old entries stay, and
  `earlier_versions` flags them).
- Nothing is ever deleted: every verdict and note edit is an event appended to the case's
  history, with who (the OS user and the reviewer name from the settings), when (UTC), against
  which model, and what the reviewer was looking at (method, parameters, target, hash of the
  map shown). The current verdict and note are the latest events.
- Two app instances writing the same file lose nothing: every write takes a lock, re-reads the
  file, merges (events are a set keyed by id) and replaces it atomically. A write that returned
  is on disk (fsync'ed); temp files of killed writers are removed on the next open.
- One bad entry (null, wrong type, deep nesting) is quarantined with a message, kept in the
  file, and the rest loads. A file from a newer version opens read-only. A verdict is never
  saved to a case of another dataset: writes name the dataset and the store refuses others.

Pure JSON, no Qt or TensorFlow: the GUI uses it directly.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import getpass
import hashlib
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine import limits
from engine.errors import BadInputError
from engine.fileio import atomic_write_json, remove_stale_temps

VERDICTS = ("plausible", "spurious feature", "needs review")
VERDICT_TITLES = {
    "plausible": "Explanation plausible",
    "spurious feature": "Spurious feature",
    "needs review": "Needs review",
}
FORMAT = "glassbox-review"
VERSION = 2
MAX_BYTES = 256 << 20
MAX_DEPTH = 32  # an entry nested deeper than this is not one we wrote
KINDS = ("verdict", "note", "region")
EVENT_FIELDS = {"id": str, "kind": str, "time": str, "os_user": str, "reviewer": str, "model_sha256": str}

try:  # POSIX advisory locks; where they are missing a single instance is assumed
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


@dataclass(frozen=True)
class Review:
    """One case's current verdict (None: not judged yet) and note, and its full history."""

    verdict: str | None
    note: str
    model_sha256: str
    updated: str  # ISO 8601 UTC of the latest event
    history: tuple[dict[str, Any], ...] = ()
    case_hash: str = ""
    region: dict[str, Any] | None = None  # the latest region of interest (box and per-map scores)


def default_review_path(source: str | os.PathLike[str], fallback_dir: Path | None = None) -> Path:
    """Next to the cases; in `fallback_dir` when their folder is read-only (or not given)."""
    src = Path(source)
    own = src / ".glassbox-review.json" if src.is_dir() else src.with_name(src.name + ".review.json")
    if fallback_dir is None or os.access(own.parent, os.W_OK):
        return own
    tag = hashlib.sha256(str(src.resolve()).encode()).hexdigest()[:12]
    return fallback_dir / f"{src.name}-{tag}.review.json"


def os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="microseconds")


def _depth(value: Any, limit: int = MAX_DEPTH) -> int:
    """Nesting depth of a JSON value, counted up to `limit` + 1 (never recursing past it)."""
    stack, deepest = [(value, 1)], 0
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def _check_event(event: Any, verdicts: tuple[str, ...] = VERDICTS) -> dict[str, Any]:
    """A history event as we write it, or ValueError saying what is wrong with it."""
    if not isinstance(event, dict):
        raise ValueError(f"an event is {type(event).__name__}, not an object")
    for key, kind in EVENT_FIELDS.items():
        if not isinstance(event.get(key), kind):
            raise ValueError(f"event field {key!r} is missing or not {kind.__name__}")
    if event["kind"] not in KINDS:
        raise ValueError(f"unknown event kind {event['kind']!r}")
    value = event.get("value")
    if event["kind"] == "verdict" and value is not None and value not in verdicts:
        raise ValueError(f"unknown verdict {value!r}")
    if event["kind"] == "note" and not isinstance(value, str):
        raise ValueError("a note is not text")
    if event["kind"] == "region" and value is not None and not isinstance(value, dict):
        raise ValueError("a region is not an object")
    if event.get("seen") is not None and not isinstance(event["seen"], dict):
        raise ValueError("'seen' is not an object")
    return event


def _v1_events(name: str, entry: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """A version-1 entry (current verdict/note + verdict history) as version-2 events."""
    case_hash = entry.get("hash")
    if not isinstance(case_hash, str):
        raise ValueError("no content hash")
    events = []
    for record in entry.get("history", []) or []:
        if not isinstance(record, dict):
            raise ValueError("a history record is not an object")
        events.append({"kind": "verdict", "value": record.get("verdict"), "time": str(record.get("time", "")),
                       "model_sha256": str(record.get("model_sha256", ""))})
    if entry.get("note"):
        events.append({"kind": "note", "value": str(entry["note"]), "time": str(entry.get("updated", "")),
                       "model_sha256": str(entry.get("model_sha256", ""))})
    for event in events:
        event.update(os_user="", reviewer="", seen=None)
        event["id"] = "v1-" + hashlib.sha256(json.dumps([name, case_hash, event], sort_keys=True).encode()).hexdigest()[:24]
    return case_hash, [_check_event(e) for e in events]


class ReviewStore:
    """The review file of one dataset; see the module docstring."""

    allowed_verdicts: tuple[str, ...] = VERDICTS  # a subclass may judge something else (training labels)

    def __init__(self, path: str | os.PathLike[str], source: str = "", reviewer: str = "") -> None:
        self.path = Path(path)
        self.source = source
        self.reviewer = reviewer
        self.warning = ""  # set when the file (or part of it) could not be used as it was
        self.read_only = False
        self._cases: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}  # (name, hash) -> id -> event
        self._quarantined: list[dict[str, Any]] = []
        with self._locked():
            self._clean_temp_files()
            self._merge_from_disk(first=True)

    # ----- reading ----------------------------------------------------------------------------
    @property
    def cases(self) -> dict[str, dict[str, Review]]:
        """name -> content hash -> Review: every case the file knows (a snapshot)."""
        out: dict[str, dict[str, Review]] = {}
        for (name, case_hash), events in self._cases.items():
            out.setdefault(name, {})[case_hash] = self._review(case_hash, events)
        return out

    def get(self, name: str, case_hash: str) -> Review | None:
        events = self._cases.get((name, case_hash))
        return self._review(case_hash, events) if events else None

    def history(self, name: str, case_hash: str) -> list[dict[str, Any]]:
        """Every event of the case, oldest first."""
        return _ordered(self._cases.get((name, case_hash), {}))

    def earlier_versions(self, name: str, case_hash: str) -> list[Review]:
        """Reviews of the same path with other content: the file changed since they were given."""
        return [self._review(h, events) for (n, h), events in self._cases.items() if n == name and h != case_hash]

    def verdicts(self, names: list[str] | tuple[str, ...], hashes: list[str] | tuple[str, ...]) -> list[str | None]:
        """The verdict of every case, in one pass (for the case list's verdict column)."""
        out: list[str | None] = []
        for name, case_hash in zip(names, hashes, strict=True):
            review = self.get(name, case_hash)
            out.append(review.verdict if review else None)
        return out

    @staticmethod
    def _review(case_hash: str, events: dict[str, dict[str, Any]]) -> Review:
        ordered = _ordered(events)
        verdict = next((e["value"] for e in reversed(ordered) if e["kind"] == "verdict"), None)
        note = next((e["value"] for e in reversed(ordered) if e["kind"] == "note"), "")
        region = next((e["value"] for e in reversed(ordered) if e["kind"] == "region"), None)
        last = ordered[-1]
        return Review(verdict, note, last.get("model_sha256", ""), last["time"], tuple(ordered), case_hash, region)

    # ----- writing ----------------------------------------------------------------------------
    def set_verdict(self, name: str, case_hash: str, verdict: str | None, model_sha256: str = "",
                    seen: dict[str, Any] | None = None, source: str | None = None) -> Review:
        if verdict is not None and verdict not in self.allowed_verdicts:
            raise BadInputError(f"Unknown verdict {verdict!r}; choose one of {', '.join(self.allowed_verdicts)}.")
        return self._append(name, case_hash, "verdict", verdict, model_sha256, seen, source)

    def set_note(self, name: str, case_hash: str, note: str, model_sha256: str = "",
                 seen: dict[str, Any] | None = None, source: str | None = None) -> Review:
        return self._append(name, case_hash, "note", str(note), model_sha256, seen, source)

    def set_region(self, name: str, case_hash: str, region: dict[str, Any] | None, model_sha256: str = "",
                   source: str | None = None) -> Review:
        """The reviewer's region of interest and each map's pointing game / mass inside it (an event)."""
        return self._append(name, case_hash, "region", region, model_sha256, None, source)

    def merge_from(self, other: ReviewStore) -> None:
        """Take every event of `other` (e.g. the previous file when the user picks a new one)."""
        self._check_writable()
        with self._locked():
            self._merge_from_disk()
            for key, events in other._cases.items():
                self._cases.setdefault(key, {}).update(events)
            self._write()

    def _append(self, name: str, case_hash: str, kind: str, value: Any, model_sha256: str,
                seen: dict[str, Any] | None, source: str | None) -> Review:
        if source is not None and self.source and source != self.source:
            raise BadInputError(
                f"Not saved: {name} belongs to {source}, but this review file is for {self.source}."
            )
        if not isinstance(name, str) or not name or not isinstance(case_hash, str) or not case_hash:
            raise BadInputError("Not saved: a case needs its path in the dataset and its content hash.")
        self._check_writable()
        with self._locked():
            self._merge_from_disk()  # another instance may have written since we last looked
            current = self.get(name, case_hash)
            if current is not None and getattr(current, kind) == value:
                return current  # nothing changed: no write
            if current is None and kind == "note" and value == "":
                return Review(None, "", model_sha256, "", (), case_hash)
            event = {"id": uuid.uuid4().hex, "kind": kind, "value": value, "time": _now(), "os_user": os_user(),
                     "reviewer": self.reviewer, "model_sha256": model_sha256 or "",
                     "seen": json.loads(json.dumps(seen, default=str)) if seen else None}
            self._cases.setdefault((name, case_hash), {})[event["id"]] = event
            self._write()
        return self.get(name, case_hash)  # type: ignore[return-value]

    def save(self) -> None:
        """Write what this store holds, merged with the file (under the lock)."""
        self._check_writable()
        with self._locked():
            self._merge_from_disk()
            self._write()

    def _check_writable(self) -> None:
        if self.read_only:
            raise BadInputError(f"{self.path.name} is open read-only: {self.warning}")

    def _write(self) -> None:
        cases: dict[str, dict[str, Any]] = {}
        for (name, case_hash), events in sorted(self._cases.items()):
            cases.setdefault(name, {})[case_hash] = {"history": _ordered(events)}
        atomic_write_json(self.path, {"format": FORMAT, "version": VERSION, "source": self.source,
                                      "cases": cases, "quarantined": self._quarantined})

    # ----- the file on disk -------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An exclusive lock beside the file (the file itself is replaced on every write)."""
        if fcntl is None:
            yield
            return
        lock = self.path.with_name(f".{self.path.name}.lock")
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # a read-only folder: nobody can write there, so nobody needs the lock
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _clean_temp_files(self) -> None:
        """Temp files of writers killed mid-write; the lock is held, so no live writer owns one."""
        remove_stale_temps(self.path, older_than=0.0)

    def _merge_from_disk(self, first: bool = False) -> None:
        data = self._read(first)
        if data is None:
            return
        version = data.get("version")
        if isinstance(version, int) and version > VERSION:
            self.read_only = True
            self.warning = (f"{self.path.name} was written by a newer Glassbox (format version {version}); "
                            "it is open read-only so that nothing in it is lost.")
        cases = data.get("cases")
        if not isinstance(cases, dict):
            cases = {}
        quarantined = data.get("quarantined")
        known = {json.dumps(q, sort_keys=True) for q in self._quarantined}
        for item in quarantined if isinstance(quarantined, list) else []:
            if json.dumps(item, sort_keys=True) not in known:
                self._quarantined.append(item)
        bad: list[str] = []
        for name, entry in cases.items():
            try:
                for case_hash, events in self._entry_events(name, entry, version):
                    self._cases.setdefault((name, case_hash), {}).update({e["id"]: e for e in events})
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                record = {"case": name, "entry": entry if _depth(entry) <= MAX_DEPTH else "(too deeply nested)",
                          "reason": str(exc)}
                if json.dumps(record, sort_keys=True, default=str) not in known:
                    self._quarantined.append(record)
                    bad.append(f"{name} ({exc})")
        if bad and first and not self.read_only:
            shown = "; ".join(bad[:3]) + ("; …" if len(bad) > 3 else "")
            self.warning = (f"{self.path.name}: {len(bad)} entr{'y' if len(bad) == 1 else 'ies'} could not be read "
                            f"and {'was' if len(bad) == 1 else 'were'} quarantined (kept in the file): {shown}. "
                            "The other reviews loaded.")

    def _entry_events(self, name: str, entry: Any, version: Any) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        if _depth(entry) > MAX_DEPTH:
            raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
        if not isinstance(entry, dict):
            raise ValueError(f"the entry is {type(entry).__name__}, not an object")
        if version == 1 or "hash" in entry:
            yield _v1_events(name, entry)
            return
        for case_hash, record in entry.items():
            if not isinstance(record, dict) or not isinstance(record.get("history"), list):
                raise ValueError(f"content {case_hash[:12]}: no history list")
            yield case_hash, [_check_event(event, self.allowed_verdicts) for event in record["history"]]

    def _read(self, first: bool) -> dict[str, Any] | None:
        """The file's JSON, None if there is none; an unreadable file is moved aside (first open)."""
        try:
            text = limits.read_regular(self.path, MAX_BYTES).decode("utf-8")
        except BadInputError as exc:
            if not self.path.exists():
                return None
            return self._unreadable(exc, first)
        except UnicodeDecodeError as exc:
            return self._unreadable(exc, first)
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError("not a Glassbox review file")
        except (ValueError, RecursionError) as exc:
            return self._unreadable(exc if not isinstance(exc, RecursionError) else ValueError("nested too deeply"), first)
        return data

    def _unreadable(self, exc: BaseException, first: bool) -> None:
        if not first:  # someone replaced the file with garbage since we opened it: keep ours
            aside = self.path.with_name(self.path.name + f".unreadable-{_dt.datetime.now():%Y%m%d-%H%M%S-%f}")
        else:
            aside = self.path.with_name(self.path.name + f".unreadable-{_dt.datetime.now():%Y%m%d-%H%M%S}")
        try:
            self.path.replace(aside)
        except OSError as move_error:
            raise BadInputError(f"{self.path.name}: unreadable review file ({exc}).") from move_error
        self.warning = f"{self.path.name} was unreadable ({exc}); kept as {aside.name}, starting afresh."
        return None


def _ordered(events: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(events.values(), key=lambda e: (e["time"], e["id"]))
