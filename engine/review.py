"""The reviewer's verdicts and notes per case, in a JSON file that travels with the cases.

Where: `<folder>/.glassbox-review.json` for a folder, `<file>.review.json` for a file, or a
location the user chose. Entries are keyed by case name and carry the case's content hash: a
renamed file is found again by its hash; a file whose content changed is not silently given the
old verdict. Every change is written at once, atomically (a kill leaves the previous version, never
half a file), with the model's sha256 and a UTC timestamp, and appended to the entry's history so
an auditor sees which verdict was given when, against which model. Pure JSON, no Qt or TensorFlow: the GUI uses it directly.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import BadInputError
from engine.fileio import atomic_write_json

VERDICTS = ("plausible", "spurious feature", "needs review")
VERDICT_TITLES = {
    "plausible": "Explanation plausible",
    "spurious feature": "Spurious feature",
    "needs review": "Needs review",
}
FORMAT = "glassbox-review"
VERSION = 1


@dataclass(frozen=True)
class Review:
    """One case's current verdict (None: not judged yet) and note."""

    verdict: str | None
    note: str
    model_sha256: str
    updated: str  # ISO 8601 UTC


def default_review_path(source: str | os.PathLike[str], fallback_dir: Path | None = None) -> Path:
    """Next to the cases; in `fallback_dir` when their folder is read-only (or not given)."""
    src = Path(source)
    own = src / ".glassbox-review.json" if src.is_dir() else src.with_name(src.name + ".review.json")
    if fallback_dir is None or os.access(own.parent, os.W_OK):
        return own
    tag = hashlib.sha256(str(src.resolve()).encode()).hexdigest()[:12]
    return fallback_dir / f"{src.name}-{tag}.review.json"


def _as_review(entry: dict[str, Any]) -> Review:
    return Review(entry.get("verdict"), entry.get("note", ""), entry.get("model_sha256", ""), entry.get("updated", ""))


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


class ReviewStore:
    """Reads the review file once, then writes it atomically on every change."""

    def __init__(self, path: str | os.PathLike[str], source: str = "") -> None:
        self.path = Path(path)
        self.source = source
        self.warning = ""  # set when an unreadable file had to be moved aside
        self.cases: dict[str, dict[str, Any]] = {}
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text("utf-8"))
            if data.get("format") != FORMAT or not isinstance(data.get("cases"), dict):
                raise ValueError("not a Glassbox review file")
        except (OSError, ValueError, AttributeError) as exc:
            aside = self.path.with_name(self.path.name + f".unreadable-{_dt.datetime.now():%Y%m%d-%H%M%S}")
            try:
                self.path.replace(aside)
            except OSError as move_error:
                raise BadInputError(f"{self.path.name}: unreadable review file ({exc}).") from move_error
            self.warning = f"{self.path.name} was unreadable ({exc}); kept as {aside.name}, starting afresh."
            return
        self.cases = data["cases"]

    # ----- reading ------------------------------------------------------------------------
    def _entry(self, name: str, case_hash: str) -> tuple[str, dict[str, Any]] | None:
        entry = self.cases.get(name)
        if entry is not None and entry.get("hash") == case_hash:
            return name, entry
        if entry is None:  # renamed? find the same content under another name
            for other, candidate in self.cases.items():
                if candidate.get("hash") == case_hash:
                    return other, candidate
        return None

    def get(self, name: str, case_hash: str) -> Review | None:
        found = self._entry(name, case_hash)
        if found is None:
            return None
        return _as_review(found[1])

    def verdicts(self, names: list[str] | tuple[str, ...], hashes: list[str] | tuple[str, ...]) -> list[str | None]:
        """The verdict of every case, in one pass (for the case list's verdict column)."""
        by_hash = {entry.get("hash"): entry for entry in self.cases.values()}
        out: list[str | None] = []
        for name, case_hash in zip(names, hashes, strict=True):
            entry = self.cases.get(name)
            if entry is None:
                entry = by_hash.get(case_hash)
            elif entry.get("hash") != case_hash:
                entry = None
            out.append(entry.get("verdict") if entry else None)
        return out

    # ----- writing ------------------------------------------------------------------------
    def set_verdict(self, name: str, case_hash: str, verdict: str | None, model_sha256: str = "") -> Review:
        if verdict is not None and verdict not in VERDICTS:
            raise BadInputError(f"Unknown verdict {verdict!r}; choose one of {', '.join(VERDICTS)}.")
        return self._update(name, case_hash, model_sha256, verdict=verdict)

    def set_note(self, name: str, case_hash: str, note: str, model_sha256: str = "") -> Review:
        return self._update(name, case_hash, model_sha256, note=note)

    def _update(self, name: str, case_hash: str, model_sha256: str, **changes: Any) -> Review:
        found = self._entry(name, case_hash)
        if found and found[0] == name and all(found[1].get(k) == v for k, v in changes.items()):
            return _as_review(found[1])  # nothing changed: no write
        if found:
            entry = dict(found[1])
            del self.cases[found[0]]  # if the file was renamed, the entry follows it
        else:  # new case, or new content under an old name: keep that name's verdict history
            entry = {"verdict": None, "note": "", "history": self.cases.get(name, {}).get("history", [])}
        now = _now()
        entry.update(changes, hash=case_hash, model_sha256=model_sha256, updated=now)
        if "verdict" in changes:  # notes change on every pause in typing; verdicts are the record
            record = {"verdict": changes["verdict"], "time": now, "model_sha256": model_sha256, "hash": case_hash}
            entry["history"] = [*entry.get("history", []), record]
        self.cases[name] = entry
        self.save()
        return _as_review(entry)

    def save(self) -> None:
        atomic_write_json(
            self.path,
            {"format": FORMAT, "version": VERSION, "source": self.source, "cases": self.cases},
        )
