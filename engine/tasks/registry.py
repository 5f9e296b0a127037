"""The one registry of engine tasks: a frozen Request dataclass in, a named Result type out.

The GUI builds a Request (plain data) and submits it; the engine thread looks the request's type
up here, imports the task function by its dotted path (so gui/ never imports TensorFlow, not even
indirectly) and calls it with the request's fields as keyword arguments. The result is checked
against the declared type, so a task that starts returning something else fails loudly at once.

Priorities order the engine queue: interactive work (what the user just clicked) runs before
normal work (opening things) and background work (whole-dataset passes, projections), and a
background task that calls ``ctx.check()`` between chunks lets queued interactive work run first.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeVar

R = TypeVar("R", bound=type)


class Priority(IntEnum):
    INTERACTIVE = 0  # the selected case, its explanation, an activation grid
    NORMAL = 1  # opening a model or a dataset, a recipe change
    BACKGROUND = 2  # predicting a whole dataset, projections, the weight overview


@dataclass(frozen=True)
class TaskSpec:
    """How one Request type is served."""

    request: type
    run: str  # "package.module:function", called as function(ctx, **fields(request))
    result: str  # "package.module:Type" the function returns
    priority: Priority
    kind: str  # short job-kind name (benchmarks group their figures by it)

    def function(self) -> Callable[..., Any]:
        return resolve(self.run)

    def result_type(self) -> type:
        return resolve(self.result)


REGISTRY: dict[type, TaskSpec] = {}


def task(run: str, result: str, priority: Priority = Priority.NORMAL, kind: str = "") -> Callable[[R], R]:
    """Class decorator: register a frozen dataclass as the Request of the task `run`."""

    def register(cls: R) -> R:
        params = getattr(cls, "__dataclass_params__", None)
        if params is None or not params.frozen:
            raise TypeError(f"{cls.__name__} must be a frozen dataclass to be a Request")
        REGISTRY[cls] = TaskSpec(cls, run, result, Priority(priority), kind or run.rpartition(":")[2].removesuffix("_task"))
        return cls

    return register


def spec_of(request: Any) -> TaskSpec:
    """The registered spec of a request instance; TypeError for anything else (a task string)."""
    spec = REGISTRY.get(type(request))
    if spec is None:
        raise TypeError(f"{type(request).__name__} is not a registered Request (see engine.tasks)")
    return spec


def resolve(dotted: str) -> Any:
    """Import ``"package.module:attribute"`` (attribute may be dotted) and return it."""
    module_name, _, attr = dotted.partition(":")
    if not module_name or not attr:
        raise ValueError(f"expected 'module:attribute', got {dotted!r}")
    value: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        value = getattr(value, part)
    return value


def fields_of(request: Any) -> dict[str, Any]:
    """The request's fields as keyword arguments (shallow: arrays are passed, not copied)."""
    return {f.name: getattr(request, f.name) for f in dataclasses.fields(request)}


def run_request(ctx: Any, request: Any) -> Any:
    """Run a request's task on the calling thread and check the type of what it returns
    (the Result type, or for a multi-input model a dict of them, one per input)."""
    spec = spec_of(request)
    result = spec.function()(ctx, **fields_of(request))
    expected = spec.result_type()
    if isinstance(result, dict) and expected is not dict and result and all(isinstance(v, expected) for v in result.values()):
        return result  # a multi-input model's answer: one Result per input, by input name
    if not isinstance(result, expected):
        raise TypeError(f"{spec.run} returned {type(result).__name__}, not {expected.__name__}")
    return result


def check_signature(spec: TaskSpec) -> list[str]:
    """Problems between a Request's fields and its function's parameters (empty when they match)."""
    parameters = list(inspect.signature(spec.function()).parameters.values())[1:]  # after ctx
    names = {p.name for p in parameters}
    fields = {f.name for f in dataclasses.fields(spec.request)}
    problems = [f"field {name!r} is not a parameter of {spec.run}" for name in sorted(fields - names)]
    problems += [
        f"parameter {p.name!r} of {spec.run} has no default and no field"
        for p in parameters
        if p.name not in fields and p.default is inspect.Parameter.empty
    ]
    return problems


def start_runtime() -> dict[str, str]:
    """The engine thread's first step (imports TensorFlow): library versions once it is loaded."""
    return resolve("engine.runtime:start_runtime")()


def job_key(owner: str, slot: str = "") -> str:
    """The one job-key scheme: ``owner`` (a view's name) and an optional ``/slot`` inside it.

    A newer job with the same key replaces the older one; different slots of one view queue.
    """
    return f"{owner}/{slot}" if slot else owner
