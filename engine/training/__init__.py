"""Training-data explanations: record how a model learned each case, then analyse the run.

    from engine.training import TrainingRecorder, analyze, influence

Imported lazily (PEP 562): `engine.training.labels` and `.run` stay importable without Keras.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "TrainingRecorder": "engine.training.recorder",
    "analyze": "engine.training.analysis",
    "Analysis": "engine.training.analysis",
    "influence": "engine.training.tracin",
    "Influence": "engine.training.tracin",
    "read_run": "engine.training.run",
    "read_scalars": "engine.training.tensorboard",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'engine.training' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
