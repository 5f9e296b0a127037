"""The one name of a model's identity, used by every cache key, prediction and provenance.

A model opened from a file is named by the file's SHA-256 (taken when it was loaded, see
engine.models). A model built in memory (tests, notebooks) has no file: it is named by a
SHA-256 over its name and every weight's bytes, so two different in-memory models never
share cached results and the same weights always find them again.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

_KEY = "engine.identity"


def weights_sha256(model: Any) -> str:
    digest = hashlib.sha256(str(getattr(model, "name", "")).encode("utf-8"))
    for weight in getattr(model, "weights", ()):
        array = np.ascontiguousarray(np.asarray(weight))
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def model_identity(workspace: Any) -> str:
    """The open model's file hash, else its weights hash (memoised until the model changes)."""
    sha = str(getattr(workspace.description, "sha256", "") or "")
    if sha:
        return sha
    found = workspace.cache.get(_KEY)
    if found is None:
        found = workspace.cache[_KEY] = weights_sha256(workspace.require_model())
    return found
