"""Check a record log, a report or a results folder: the chain, the signatures and every artefact.

The answer is one line: "N records intact", or the first bad record and why (edited, removed,
reordered, truncated, an artefact changed or missing, a wrong or foreign signature). Records are
checked in order and each check names the record it is about, so an edit to record 3 is reported
as record 3, not as the broken link in record 4.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import BadInputError
from engine.provenance import sha256_file
from engine.records.log import GENESIS, LOG_NAME, read_head, record_hash
from engine.records.signing import check_signature

LOG_NAMES = (LOG_NAME, ".glassbox-records.jsonl")
REPORT_MARK = re.compile(rb"glassbox-records=([^\"<>()\r\n]+?\.jsonl)")


@dataclass(frozen=True)
class Verification:
    ok: bool
    count: int  # records checked (all of them when ok)
    message: str  # the one line the CLI prints


class _Bad(Exception):
    """The first problem found; its message is the line verify prints."""


def verify(path: str | os.PathLike[str], keys: dict[str, str] | None = None) -> Verification:
    """Verify a log (.jsonl), a results folder, or a report or other artefact (via the log that
    names it: the one written into it, else the one in its folder).

    `keys` pins reviewers' public keys (reviewer -> hex), learnt outside the log: their records
    must then be signed with exactly that key, so even a log re-signed from its first record by
    someone else's key fails. Without it, a reviewer's first signed record sets their key.
    """
    target = Path(path)
    if not target.exists():
        raise BadInputError(f"{target}: no such file or folder.")
    log = find_log(target)
    try:
        records = _check_log(log, dict(keys or {}))
        if target.is_file() and target.suffix.lower() != ".jsonl":
            _check_report_named(target, log, records)
    except _Bad as bad:
        return Verification(False, 0, str(bad))
    return Verification(True, len(records), f"{len(records)} records intact")


def find_log(target: Path) -> Path:
    """The log a path refers to: itself, the one in a folder, or for a report the one beside it
    (a copied results folder checks its own files) or else the one written into it."""
    if target.is_dir():
        for name in LOG_NAMES:
            if (target / name).is_file():
                return target / name
        raise BadInputError(f"{target}: no record log ({' or '.join(LOG_NAMES)}) in this folder.")
    if target.suffix.lower() != ".jsonl":  # a report (or any artefact): its folder's log, or the one it names
        beside = [target.parent / name for name in LOG_NAMES if (target.parent / name).is_file()]
        match = REPORT_MARK.search(target.read_bytes()) if not beside else None
        named = Path(match.group(1).decode("utf-8", "replace")) if match else None
        if named is not None and named.is_file():
            return named
        return find_log(target.parent)
    return target


def _label(record: dict[str, Any] | None, position: int) -> str:
    if record and isinstance(record.get("id"), str):
        return f"record {position} (id {record['id']})"
    return f"record {position}"


def _parse(log: Path) -> list[dict[str, Any]]:
    try:
        data = log.read_bytes()
    except OSError as exc:
        raise BadInputError(f"{log}: cannot read ({exc.strerror or exc}).") from exc
    lines = data.split(b"\n")
    torn = lines.pop()  # b"" when the log ends with a newline, as every complete log does
    records = []
    for n, line in enumerate(lines, start=1):
        try:
            record = json.loads(line)
        except ValueError:
            raise _Bad(f"record {n}: not valid JSON (edited or cut)") from None
        if not isinstance(record, dict):
            raise _Bad(f"record {n}: not a record object")
        records.append(record)
    if torn:
        raise _Bad(f"record {len(records) + 1}: truncated mid-line (the log ends inside it)")
    return records


def _check_log(log: Path, pinned: dict[str, str]) -> list[dict[str, Any]]:
    records = _parse(log)
    seqs = [r.get("seq") for r in records]
    # reviewer -> (public key, the record that set it; 0: pinned by the caller)
    keys: dict[str, tuple[str, int]] = {reviewer: (public, 0) for reviewer, public in pinned.items()}
    previous = GENESIS
    for position, record in enumerate(records, start=1):
        where = _label(record, position)
        if record.get("seq") != position:
            if position in seqs[position:]:
                raise _Bad(f"record {position}: out of order (record {record.get('seq')} stands in its place)")
            raise _Bad(f"record {position}: missing (removed; record {record.get('seq')} follows record {position - 1})")
        if record.get("sha256") != record_hash(record):
            raise _Bad(f"{where}: edited (its content does not match its SHA-256)")
        if record.get("prev_sha256") != previous:
            raise _Bad(f"{where}: chain broken (its previous-record hash is not record {position - 1}'s SHA-256)")
        _check_signature(record, where, position, keys)
        _check_artefacts(record, where, log.parent)
        previous = record["sha256"]
    _check_head(log, records)
    return records


def _check_signature(record: dict[str, Any], where: str, position: int, keys: dict[str, tuple[str, int]]) -> None:
    reviewer = str(record.get("reviewer", ""))
    signature = record.get("signature")
    known = keys.get(reviewer)
    if signature is None:
        if known:
            raise _Bad(f"{where}: unsigned, but {reviewer} signs (key {_origin(known)})")
        return
    if not check_signature(record):
        raise _Bad(f"{where}: bad signature (the record or its signature was changed)")
    public = str(signature.get("public_key", ""))
    if known and known[0] != public:
        raise _Bad(f"{where}: signed with another key ({public[:16]}…), not {reviewer}'s key {_origin(known)}")
    keys.setdefault(reviewer, (public, position))


def _origin(known: tuple[str, int]) -> str:
    return "given with --key" if known[1] == 0 else f"of record {known[1]}"


def _check_artefacts(record: dict[str, Any], where: str, base: Path) -> None:
    for item in record.get("artefacts") or []:
        if not isinstance(item, dict) or not item.get("path"):
            continue
        path = Path(item["path"])
        path = path if path.is_absolute() else base / path
        if not path.is_file():
            raise _Bad(f"{where}: artefact {item['path']} is missing")
        if sha256_file(path) != item.get("sha256"):
            raise _Bad(f"{where}: artefact {item['path']} changed (its SHA-256 differs from the record's)")


def _check_head(log: Path, records: list[dict[str, Any]]) -> None:
    head = read_head(log)
    if head is None:
        if records:
            raise _Bad(f"record {len(records)}: the log's head file {log.name}.head is missing or unreadable")
        return
    count = head.get("count")
    if not isinstance(count, int) or count < 0:
        raise _Bad(f"{log.name}.head: unreadable count")
    if count > len(records):
        raise _Bad(f"record {len(records) + 1}: missing (the log ends at record {len(records)}, its head names record {count})")
    if count and records[count - 1].get("sha256") != head.get("sha256"):
        raise _Bad(f"{_label(records[count - 1], count)}: differs from the record the log's head names")


def _check_report_named(report: Path, log: Path, records: list[dict[str, Any]]) -> None:
    """A report or artefact is intact when a record names it (its hash was checked with the log)."""
    resolved = report.resolve()
    for record in records:
        for item in record.get("artefacts") or []:
            path = Path(item.get("path", "")) if isinstance(item, dict) else Path()
            if item and (path if path.is_absolute() else log.parent / path).resolve() == resolved:
                return
    raise _Bad(f"{report.name}: not named by any record in {log}")
