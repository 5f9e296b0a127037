"""The engine thread's state: the open model, the open dataset, and caches tied to them.

Only the engine thread touches a Workspace. `cache` is keyed by its owner module and is dropped
when the model changes; compiled explainer functions are held weakly per model
(engine.explainers.base), so replacing the model frees them too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.errors import BadInputError


@dataclass
class Workspace:
    model: Any = None  # keras.Model
    description: Any = None  # engine.description.ModelDescription
    dataset: Any = None  # engine.data.Dataset
    cache: dict[str, Any] = field(default_factory=dict)

    def set_model(self, model: Any, description: Any) -> None:
        """Replace the model; everything computed from the old one is released."""
        self.cache.clear()
        self.model = model
        self.description = description

    def require_model(self) -> Any:
        if self.model is None:
            raise BadInputError("No model is open.")
        return self.model
