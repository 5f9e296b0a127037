"""The engine thread's state: the open model, the open dataset, and caches tied to them.

Only the engine thread touches a Workspace. Caches are keyed by their owner module and are
dropped (with their compiled tf.functions) when the model changes, so closing a model frees it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Workspace:
    model: Any = None  # keras.Model
    description: Any = None  # engine.models.ModelDescription
    dataset: Any = None  # engine.data dataset
    cache: dict[str, Any] = field(default_factory=dict)
    _release_hooks: list[Callable[[], None]] = field(default_factory=list)

    def set_model(self, model: Any, description: Any) -> None:
        """Replace the model; everything computed from the old one is released."""
        self.release_model()
        self.model = model
        self.description = description

    def release_model(self) -> None:
        for hook in self._release_hooks:
            hook()
        self._release_hooks.clear()
        self.cache.clear()
        self.model = None
        self.description = None

    def on_model_released(self, hook: Callable[[], None]) -> None:
        """Register a clean-up (e.g. drop compiled functions) for when the model goes away."""
        self._release_hooks.append(hook)

    def require_model(self) -> Any:
        from engine.errors import BadInputError

        if self.model is None:
            raise BadInputError("No model is open.")
        return self.model
