"""Classes by name, imported only when asked for: the shape of the explainer and metric registries.

Explainer and metric modules import TensorFlow, so a registry holds "module:Class" strings and
imports a module the first time its name is used; importing a registry stays light enough for
the GUI. One helper, so that both answer an unknown name the same way: a BadInputError that
lists every known name (what a form, the CLI and a test can show as it is).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from engine.errors import BadInputError


Info = TypeVar("Info")


class LazyRegistry(Generic[Info]):
    """`entries` maps a name to "module:Class"; `describe` turns a class into its info record
    (MethodInfo, MetricInfo); `noun` names a member in errors ("attribution method", "metric").
    A package exposes the bound `available` and `info` as its own functions."""

    def __init__(self, entries: Mapping[str, str], describe: Callable[[Any], Info], noun: str) -> None:
        self.entries = entries
        self.describe = describe
        self.noun = noun

    def load(self, name: str) -> Any:
        """The class registered as `name`, its module imported on first use."""
        if name not in self.entries:
            raise BadInputError(f"Unknown {self.noun} {name!r}; available: {', '.join(self.entries)}.")
        module_name, _, attr = self.entries[name].partition(":")
        return getattr(importlib.import_module(module_name), attr)

    def info(self, name: str) -> Info:
        """The info record of `name` (imports that one module, not every member's)."""
        return self.describe(self.load(name))

    def available(self) -> list[Info]:
        """Every member's info record, in the registry's order (stable: forms and tests rely on it)."""
        return [self.info(name) for name in self.entries]
