"""The typed task seam: every Request the GUI can submit is registered, resolves to a function
whose parameters are the request's fields, and declares the Result type that function returns.
The GUI is read as source (AST), so this needs neither Qt nor TensorFlow."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

import engine.tasks as tasks
from engine.tasks import REGISTRY, job_key, spec_of

ROOT = Path(__file__).resolve().parent.parent
ENGINE_SPECS = [spec for spec in REGISTRY.values() if spec.run.startswith("engine.")]


def _gui_sources() -> dict[Path, ast.Module]:
    return {path: ast.parse(path.read_text("utf-8")) for path in sorted((ROOT / "gui").rglob("*.py"))}


def _request_names_used_by_gui() -> set[str]:
    """Names the GUI imports from engine.tasks (the only way it can build a Request)."""
    used: set[str] = set()
    for tree in _gui_sources().values():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("engine.tasks"):
                used |= {alias.name for alias in node.names}
    return used


@pytest.mark.parametrize("spec", ENGINE_SPECS, ids=lambda s: s.request.__name__)
def test_every_engine_request_resolves_and_matches_its_function(spec) -> None:
    function = spec.function()
    assert callable(function)
    assert tasks.registry.check_signature(spec) == []
    result = spec.result_type()
    assert isinstance(result, type)
    annotation = function.__annotations__.get("return")
    assert annotation is not None, f"{spec.run} must declare its Result type"
    assert str(annotation).split("[")[0].rpartition(".")[2] == result.__name__, (spec.run, annotation)
    assert dataclasses.is_dataclass(spec.request) and spec.request.__dataclass_params__.frozen


def test_every_request_the_gui_builds_is_registered() -> None:
    used = _request_names_used_by_gui()
    requests = {name for name in used if isinstance(getattr(tasks, name, None), type) and name[0].isupper()}
    requests -= {"Priority", "TaskSpec"}
    assert requests, "the GUI submits Requests imported from engine.tasks"
    for name in requests:
        cls = getattr(tasks, name)
        assert cls in REGISTRY, name
        assert spec_of(cls.__new__(cls)).request is cls


def test_no_task_strings_in_the_gui() -> None:
    """The old way, engine.submit(key, "engine.module:function", **kwargs), is gone from the GUI."""
    pattern = re.compile(r"[\"']engine\.[a-z_.]+:[a-z_]+[\"']")
    offenders = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, tree in _gui_sources().items()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and pattern.fullmatch(repr(node.value))
    ]
    assert offenders == []


def test_anything_else_is_refused() -> None:
    with pytest.raises(TypeError, match="not a registered Request"):
        spec_of("engine.models:open_model_task")
    with pytest.raises(TypeError, match="frozen dataclass"):

        @tasks.task("engine.models:open_model_task", "builtins:object")
        @dataclasses.dataclass
        class Mutable:
            path: str


def test_priorities_and_job_keys() -> None:
    assert spec_of(tasks.ExplainCase(case=0, method="saliency")).priority < spec_of(tasks.PredictDataset()).priority
    assert spec_of(tasks.OpenModel(path="m.keras")).priority == tasks.Priority.NORMAL
    assert spec_of(tasks.ComputeEmbedding()).priority == tasks.Priority.BACKGROUND
    assert job_key("canvas", "panel2") == "canvas/panel2" and job_key("cases") == "cases"
