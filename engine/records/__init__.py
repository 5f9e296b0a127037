"""Evidence an auditor can check: a hash-chained, optionally signed log of every result and verdict.

`log` appends records (kill-safe, across processes), `signing` holds the reviewers' Ed25519 keys,
`verify` checks a log, a report or a results folder. Qt-free and TensorFlow-free: the GUI appends
records directly, the CLI verifies them.
"""

from __future__ import annotations

from engine.records.log import (
    LOG_NAME,
    RecordLog,
    artefact,
    default_reviewer,
    log_path_for_review,
    new_record,
    read_records,
)
from engine.records.verify import Verification, verify

__all__ = [
    "LOG_NAME",
    "RecordLog",
    "Verification",
    "artefact",
    "default_reviewer",
    "log_path_for_review",
    "new_record",
    "read_records",
    "verify",
]
