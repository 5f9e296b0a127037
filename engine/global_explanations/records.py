"""The record of one global explanation, as explain_record is of a local one: what ran on which
model and cases with which parameters, and the SHA-256 of every array of the result, so an
auditor can check a re-run against the log (engine.records)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.global_explanations.results import GlobalResult, to_storage
from engine.provenance import plain, sha256_array
from engine.records.log import new_record


def global_record(result: GlobalResult, reviewer: str, model_path: str = "", cases_path: str = "",
                  preprocessing: dict[str, Any] | None = None) -> dict[str, Any]:
    """A "global" record of `result`; its details name the dataset, the cases and the top features,
    and say how `main.py reproduce` reruns it (files, recipe, the task and its arguments)."""
    arrays, _ = to_storage(result)
    provenance = dict(result.provenance)
    ranking = _ranking(result)
    return new_record(
        "global",
        reviewer=reviewer,
        model_sha256=str(provenance.get("model_sha256") or ""),
        model_name=Path(model_path).name if model_path else "",
        case_path=str(cases_path),
        method=str(provenance.get("task", result.kind)),
        params=plain(result.params),
        seed=result.params.get("seed"),
        versions=provenance.get("versions"),
        details={
            "result": result.kind,
            "dataset": provenance.get("dataset", ""),
            "dataset_hash": provenance.get("dataset_hash", ""),
            "cases_sha256": provenance.get("cases_sha256", sha256_array(result.cases)),
            "n_cases": int(len(result.cases)),
            "labels": provenance.get("labels", ""),
            "top_features": [result.feature_names[i] for i in ranking[:10]],
            "arrays_sha256": {name: sha256_array(value) for name, value in sorted(arrays.items())},
            "reproduce": plain({
                "model": str(Path(model_path).resolve()) if model_path else "",
                "cases": str(Path(cases_path).resolve()) if cases_path else "",
                "preprocessing": preprocessing, "task": provenance.get("task", ""),
                "request": provenance.get("request"),
            }),
        },
    )


def _ranking(result: GlobalResult) -> np.ndarray:
    for name in ("importances_mean", "mean_abs", "importances"):
        values = getattr(result, name, None)
        if values is not None and np.ndim(values) == 1:
            return np.argsort(-np.asarray(values), kind="stable")
    return np.zeros(0, np.int64)
