"""Verdicts on training labels ("mislabeled", "correct label"), and the corrected-labels CSV.

Stored like the case reviews (engine.review: append-only events, locked and atomic), by default
in `<run_dir>/label-review.json` (the GUI puts the bundled demo runs' verdicts in its config folder). A case is named by its index in the run, and its hash is the run's
dataset hash plus that index: a verdict never follows a case into another dataset.
Pure JSON and CSV, no TensorFlow: the GUI uses it directly.
"""

from __future__ import annotations

import csv
import io
import os

import numpy as np

from engine.fileio import atomic_write_text
from engine.review import Review, ReviewStore

LABEL_VERDICTS = ("mislabeled", "correct label")
FILE_NAME = "label-review.json"


def case_key(dataset_sha256: str, case: int) -> tuple[str, str]:
    """(name, hash) under which a training case's verdict is stored."""
    return f"case {case}", f"{dataset_sha256}:{case}"


class LabelReviewStore(ReviewStore):
    """A ReviewStore whose verdicts are about the label, not the explanation."""

    allowed_verdicts = LABEL_VERDICTS

    def __init__(self, path: str | os.PathLike[str], dataset_sha256: str, source: str = "", reviewer: str = "") -> None:
        super().__init__(path, source=source, reviewer=reviewer)
        self.dataset_sha256 = dataset_sha256

    def set_case(self, case: int, verdict: str | None) -> Review:
        return self.set_verdict(*case_key(self.dataset_sha256, case), verdict)

    def case_verdicts(self, n: int) -> list[str | None]:
        keys = [case_key(self.dataset_sha256, i) for i in range(n)]
        return self.verdicts([k[0] for k in keys], [k[1] for k in keys])


def corrected_labels_csv(
    path: str | os.PathLike[str],
    verdicts: list[str | None],
    labels: np.ndarray,
    predicted: np.ndarray,
    case_index: np.ndarray,
    class_names: tuple[str, ...] = (),
) -> int:
    """Write one row per judged case; "mislabeled" takes the model's predicted class. Returns rows."""
    def name(c: int) -> str:
        return class_names[c] if 0 <= c < len(class_names) else str(c)

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["case", "dataset_case", "verdict", "label", "corrected_label", "corrected_class"])
    rows = 0
    for case, verdict in enumerate(verdicts):
        if verdict is None:
            continue
        corrected = int(predicted[case]) if verdict == "mislabeled" else int(labels[case])
        writer.writerow([case, int(case_index[case]), verdict, int(labels[case]), corrected, name(corrected)])
        rows += 1
    atomic_write_text(path, out.getvalue())
    return rows
