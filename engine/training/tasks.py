"""The engine jobs the Training view submits: open a run (or TensorBoard logs), and influence.

Results are frozen dataclasses of numpy arrays, safe to hand to the GUI thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import BadInputError
from engine.jobs import JobContext
from engine.provenance import record
from engine.training.analysis import AMBIGUOUS_VARIABILITY, Analysis, analyze
from engine.training.run import MANIFEST, read_run


@dataclass(frozen=True)
class OpenedRun:
    """A recorder run (analysis set, checkpoints listed) or TensorBoard logs (scalars only)."""

    name: str
    path: str
    kind: str  # "run" | "tensorboard"
    scalars: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (epochs or steps, values)
    analysis: Analysis | None
    checkpoints: tuple[int, ...]
    provenance: dict[str, Any]  # engine.provenance.record: the records hashed, the rule's parameters


@dataclass(frozen=True)
class CaseInfluence:
    """The run's most helpful and harmful training cases for one dataset case."""

    case: int  # the dataset case explained
    label: int  # the label its loss was taken at (its own, or the predicted class if unknown)
    proponents: np.ndarray  # int64 (k,) indices into the run
    scores: np.ndarray
    opponents: np.ndarray
    opponent_scores: np.ndarray
    provenance: dict[str, Any]  # engine.provenance.record: model, input, run, checkpoints


def open_run_task(ctx: JobContext, path: str) -> OpenedRun:
    root = Path(path)
    ctx.progress(0.1, f"Reading {root.name}…")
    if (root / MANIFEST).exists():
        run = read_run(root)
        ctx.check()
        analysis = analyze(run)
        scalars = {k: (run.epochs, v) for k, v in run.scalars.items()}
        params = {"run": str(root), "dataset_sha256": analysis.dataset_sha256, "epochs": run.epochs,
                  "ambiguous_variability": AMBIGUOUS_VARIABILITY, "mislabel_score": "aum + variability"}
        provenance = record(None, run.records, "training-analysis", params, None)
        return OpenedRun(root.name, str(root), "run", scalars, analysis, tuple(c.epoch for c in run.checkpoints), provenance)
    from engine.training.tensorboard import read_scalars

    scalars = read_scalars(root)
    return OpenedRun(root.name, str(root), "tensorboard", scalars, None, (), {"method": "tensorboard-scalars", "run": str(root)})


def influence_task(ctx: JobContext, path: str, case: int, top_k: int = 10) -> CaseInfluence:
    """TracIn of the open model's checkpoints in run `path` for case `case` of the open dataset."""
    from engine.training.tracin import influence

    model = ctx.workspace.require_model()
    dataset: Any = ctx.workspace.dataset
    if dataset is None or not 0 <= case < len(dataset):
        raise BadInputError("Open the cases and select one to see its influential training cases.")
    x = dataset.inputs([case])
    label = int(dataset.labels[case])
    if label < 0:  # unlabelled: explain the prediction
        label = int(np.argmax(model.predict(x, verbose=0)))

    def progress(fraction: float, message: str) -> None:
        ctx.check()
        ctx.progress(fraction, message)

    result = influence(path, model, x, np.array([label]), top_k=top_k, progress=progress)
    description = ctx.workspace.description
    params = {"run": path, "case": case, "label": label, "top_k": top_k, "checkpoints": result.checkpoints,
              "layer": "last Dense (kernel and bias)", "projection_dim": None}
    provenance = record(getattr(description, "sha256", None), x, "tracin", params, None)
    return CaseInfluence(case, label, result.proponents[0], result.scores[0], result.opponents[0],
                         result.opponent_scores[0], provenance)
