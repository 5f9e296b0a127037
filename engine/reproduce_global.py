"""`main.py reproduce` of a "global" record: rerun the global explanation it names and compare.

The record (engine.global_explanations.records) holds the model and cases files, the recipe, the
task and every argument it was called with, and the SHA-256 of each array of the result. The
rerun opens the files as the GUI does, rebuilds the counterfactuals the log kept before the
record (the dataset hash must be the recorded one: same rows, same recipe), calls the same task
with a fresh cache and compares each array's SHA-256. Only hashes are recorded, so, as for a map
the GUI showed without saving it, the comparison is exact: identical, or which arrays differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import BadInputError, NotSupportedError
from engine.headless import Say, fresh_cache, open_session, versions_changed
from engine.jobs import JobContext
from engine.provenance import sha256_array


@dataclass(frozen=True)
class GlobalReproduction:
    task: str
    arrays: int  # arrays compared
    differing: tuple[str, ...]  # names of the arrays whose SHA-256 is not the record's
    versions_changed: tuple[str, ...]

    @property
    def identical(self) -> bool:
        return not self.differing

    def line(self) -> str:
        why = f"; versions changed: {', '.join(self.versions_changed)}" if self.versions_changed else ""
        if self.identical:
            return f"{self.task}: {self.arrays} arrays, SHA-256 identical{why}"
        return (f"{self.task}: {len(self.differing)} of {self.arrays} arrays differ "
                f"({', '.join(self.differing)}: SHA-256 not the record's{why})")


def reproduce_global(entry: dict[str, Any], earlier: list[dict[str, Any]], say: Say) -> GlobalReproduction:
    """Rerun the global explanation of record `entry` (`earlier`: the records before it)."""
    from engine.global_explanations.results import to_storage
    from engine.global_explanations.tasks import TASKS

    details = entry.get("details") or {}
    spec = details.get("reproduce") or {}
    if not spec.get("model") or not spec.get("cases") or not isinstance(spec.get("request"), dict):
        raise NotSupportedError(f"record {entry.get('id')}: this global record does not say which files and task "
                                "arguments made it (recorded by an older Glassbox); run it again in the Global view.")
    task = TASKS.get(str(spec.get("task")))
    if task is None:
        raise NotSupportedError(f"record {entry.get('id')}: unknown global explanation {spec.get('task')!r}.")
    say(f"recomputing {spec['task']} over {details.get('n_cases', '?')} cases of {Path(spec['cases']).name}")
    with fresh_cache():
        ctx = open_session(spec["model"], spec["cases"], False, spec.get("preprocessing"))
        from engine.identity import model_identity

        if entry.get("model_sha256") and model_identity(ctx.workspace) != entry["model_sha256"]:
            raise BadInputError(f"{spec['model']}: the model file changed since the result was recorded.")
        _cases_as_recorded(ctx, details, earlier, spec["cases"])
        result = task(ctx, **spec["request"])
    arrays, _ = to_storage(result)
    now = {name: sha256_array(value) for name, value in arrays.items()}
    recorded = details.get("arrays_sha256") or {}
    differing = tuple(sorted(n for n in set(recorded) | set(now) if recorded.get(n) != now.get(n)))
    stored_versions = {k: v for k, v in (entry.get("versions") or {}).items() if k != "glassbox"}
    return GlobalReproduction(str(spec["task"]), len(set(recorded) | set(now)), differing,
                              versions_changed(stored_versions))


def _cases_as_recorded(ctx: JobContext, details: dict[str, Any], earlier: list[dict[str, Any]], cases: str) -> None:
    """The open dataset, with the counterfactuals kept before the record if the GUI listed them
    then; an error when neither has the recorded dataset hash."""
    from engine.whatif_store import counterfactuals_in, with_counterfactuals

    wanted = details.get("dataset_hash")
    dataset = ctx.workspace.dataset
    if not wanted or dataset.hash == wanted:
        return
    kept = counterfactuals_in(earlier)
    if kept:
        extended = with_counterfactuals(dataset, kept)
        if extended.hash == wanted:
            ctx.workspace.dataset = extended
            return
    raise BadInputError(f"{cases}: the cases or their recipe changed since the result was recorded "
                        "(the dataset hash is not the record's).")
