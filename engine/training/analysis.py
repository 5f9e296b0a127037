"""`analyze(run_dir)`: data maps, forgetting events, area under the margin and a mislabel ranking.

All from the per-epoch records (numpy only, milliseconds for 50,000 cases):

- Data map (Swayamdipta et al. 2020): `confidence` is the mean over epochs of the probability of
  the case's label, `variability` its standard deviation. Regions: "ambiguous" when variability
  >= AMBIGUOUS_VARIABILITY (the model keeps changing its mind), else "easy" when confidence >=
  0.5, else "hard-to-learn".
- Forgetting events (Toneva et al. 2019): a transition from correct at one recorded epoch to wrong
  at the next (we record per epoch, not per mini-batch, so counts are a lower bound of theirs).
  A case never correct at any epoch is `never_learned` (Toneva count it as infinitely forgotten).
- AUM (Pleiss et al. 2020): the mean over epochs of p_label - largest other probability. It is
  taken on probabilities, not logits, so it lies in [-1, 1] for every model.
- Mislabel ranking (the TIDY idea: margin plus data-map position). A mislabeled case is
  consistently put in another class: a low (negative) AUM that stays low, i.e. the hard-to-learn
  corner. An ambiguous case can have a low AUM too, but it swings between epochs. So the
  suspicion score is `aum + variability` (both in probability units) and the ranking sorts it
  ascending, ties broken by case index: low margin first, and among low margins the steady ones.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import BadInputError
from engine.training.run import Run, read_run

REGIONS = ("easy", "ambiguous", "hard-to-learn")
EASY, AMBIGUOUS, HARD = range(len(REGIONS))
AMBIGUOUS_VARIABILITY = 0.2


@dataclass(frozen=True)
class Analysis:
    """Per training case (N,) arrays, plus the run's scalars per epoch for the curves."""

    path: Path
    labels: np.ndarray  # int64: the labels the model was trained on
    case_index: np.ndarray  # int64: the case's index in the user's dataset
    predicted: np.ndarray  # int64: the class predicted at the last recorded epoch
    confidence: np.ndarray  # float64
    variability: np.ndarray  # float64
    correctness: np.ndarray  # float64: fraction of epochs classified correctly
    forgetting_events: np.ndarray  # int64
    never_learned: np.ndarray  # bool
    aum: np.ndarray  # float64
    mislabel_score: np.ndarray  # float64: aum + variability, lower is more suspicious
    mislabel_ranking: np.ndarray  # int64: case indices (into the run), most suspicious first
    region: np.ndarray  # int8 codes into REGIONS
    epochs: np.ndarray  # int64 (E,)
    scalars: dict[str, np.ndarray]  # name -> (E,)
    dataset_sha256: str
    complete: bool  # False while the run is still being recorded

    @property
    def name(self) -> str:
        return self.path.name

    def __len__(self) -> int:
        return len(self.labels)


def analyze(run_dir: str | os.PathLike[str] | Run) -> Analysis:
    """Every analysis of the module docstring, for a run folder (or an already read Run)."""
    run = run_dir if isinstance(run_dir, Run) else read_run(run_dir)
    if len(run.epochs) == 0:
        raise BadInputError(f"{run.name}: no epoch recorded yet.")
    records = run.records
    p_label = records["p_label"].astype(np.float64)
    confidence = p_label.mean(axis=0)
    variability = p_label.std(axis=0)
    correct = run.correct
    aum = (p_label - records["p_other"]).mean(axis=0)
    score = aum + variability
    return Analysis(
        path=run.path,
        labels=run.labels,
        case_index=run.case_index,
        predicted=records["predicted"][-1].astype(np.int64),
        confidence=confidence,
        variability=variability,
        correctness=correct.mean(axis=0),
        forgetting_events=forgetting_events(correct),
        never_learned=~correct.any(axis=0),
        aum=aum,
        mislabel_score=score,
        mislabel_ranking=np.argsort(score, kind="stable").astype(np.int64),
        region=regions(confidence, variability),
        epochs=run.epochs,
        scalars=run.scalars,
        dataset_sha256=str(run.manifest.get("dataset_sha256", "")),
        complete=bool(run.manifest.get("complete", False)),
    )


def forgetting_events(correct: np.ndarray) -> np.ndarray:
    """Count correct -> wrong transitions between consecutive epochs, per case; `correct` is (E, N)."""
    return np.sum(correct[:-1] & ~correct[1:], axis=0).astype(np.int64)


def regions(confidence: np.ndarray, variability: np.ndarray) -> np.ndarray:
    out = np.where(confidence >= 0.5, EASY, HARD).astype(np.int8)
    out[variability >= AMBIGUOUS_VARIABILITY] = AMBIGUOUS
    return out
