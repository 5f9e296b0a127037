"""The record of one explanation, built the same way by the CLI and the GUI.

`reproduce_spec` is what `main.py reproduce` needs to recompute the map (files, case identity,
recipe, request); `explain_record` wraps it with the fields every record holds. Plain data in,
plain data out: the GUI builds these from what it shows, the CLI from its workspace.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.provenance import plain, sha256_array
from engine.records.log import new_record


def reproduce_spec(*, model: str, model_sha256: str, cases: str, case: int, case_name: str, case_sha256: str,
                   preprocessing: dict[str, Any], method: str, params: dict[str, Any], target: int | None,
                   trust: bool) -> dict[str, Any]:
    return plain({
        "model": str(Path(model).resolve()) if model else "",
        "model_sha256": model_sha256,
        "cases": str(Path(cases).resolve()) if cases else "",
        "case": int(case),
        "case_name": case_name,
        "case_sha256": case_sha256,
        "preprocessing": preprocessing,
        "method": method,
        "params": params,
        "target": target,
        "trust": bool(trust),
    })


def explain_record(result: Any, spec: dict[str, Any], reviewer: str,
                   files: list[dict[str, str]] | None = None, action: str = "explain") -> dict[str, Any]:
    """A record of `result` (an Explanation) computed as `spec` says; `files` written from it."""
    return new_record(
        action,
        reviewer=reviewer,
        model_sha256=spec["model_sha256"],
        model_name=Path(spec["model"]).name,
        case_path=spec["case_name"],
        case_sha256=spec["case_sha256"],
        method=result.method,
        params=result.params,
        seed=result.seed,
        target=spec["target"],
        versions=(result.provenance or {}).get("versions"),
        artefacts=files or [],
        details={"maps_sha256": sha256_array(result.maps), "targets": plain(result.targets), "reproduce": spec,
                 **_origin(result)},
    )


def score_records(scorecard: Any, *, model_sha256: str, model_name: str, case_path: str, case_sha256: str,
                  reviewer: str, files: list[dict[str, str]] | None = None) -> list[dict[str, Any]]:
    """One "score" record per metric of `scorecard` (engine.scorecard_service.Scorecard).

    The record names the map it scores as the map's explain record does (method, full
    parameters, target, the map's array SHA-256 in details and `files` written from it), so a
    report finds a map's scores; the metric, its own parameters and seed, the score and the
    sanity verdict are in details, and the top-level seed is the metric's.
    """
    records = []
    for name, score in scorecard.scores.items():
        provenance = score.provenance or {}
        records.append(new_record(
            "score", reviewer=reviewer, model_sha256=model_sha256, model_name=model_name,
            case_path=case_path, case_sha256=case_sha256, method=scorecard.method, params=scorecard.params,
            seed=provenance.get("seed"), target=scorecard.target, versions=provenance.get("versions"),
            artefacts=files or [],
            details={
                "metric": name, "metric_params": provenance.get("params", {}), "scores": {name: score.score},
                "passed": score.passed, "threshold": score.threshold, "maps_sha256": scorecard.maps_sha256,
                "map_seed": scorecard.seed,
            },
        ))
    return records


def _origin(result: Any) -> dict[str, Any]:
    """A counterfactual's record names the case it was edited from, and the edit."""
    origin = (result.provenance or {}).get("counterfactual_of")
    return {"counterfactual_of": plain(origin)} if origin else {}
