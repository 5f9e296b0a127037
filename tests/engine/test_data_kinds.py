"""Cases for multi-input models (.npz, one array per input) and text models (.txt, CSV)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engine.data import load_dataset
from engine.errors import BadInputError
from engine.jobs import JobContext
from engine.workspace import Workspace


def load(path: Path):
    return load_dataset(JobContext(Workspace()), str(path))


def test_npz_with_one_array_per_input(tmp_path: Path) -> None:
    image = np.random.default_rng(0).uniform(size=(4, 8, 8, 1)).astype("float32")
    meta = np.arange(12, dtype="float32").reshape(4, 3)
    np.savez(tmp_path / "two.npz", image=image, meta=meta, y=np.array([0, 1, 1, 0]))
    dataset = load(tmp_path / "two.npz")
    assert dataset.kind == "multi" and len(dataset) == 4 and dataset.labels.tolist() == [0, 1, 1, 0]
    batch = dataset.inputs([1, 3])
    np.testing.assert_array_equal(batch["meta"], meta[[1, 3]])
    np.testing.assert_array_equal(batch["image"], image[[1, 3]])
    np.savez(tmp_path / "ragged.npz", image=image, meta=meta[:3])
    with pytest.raises(BadInputError, match="same, non-zero number"):
        load(tmp_path / "ragged.npz")


def test_text_lines_and_csv_text_column(tmp_path: Path) -> None:
    (tmp_path / "cases.txt").write_text("the cat sat\n\na dog ran\n")
    texts = load(tmp_path / "cases.txt")
    assert texts.kind == "text" and len(texts) == 2 and texts.inputs([1]).tolist() == [["a dog ran"]]
    (tmp_path / "reviews.csv").write_text('id,review,label\n1,"great, really",pos\n2,awful,neg\n3,fine,pos\n')
    reviews = load(tmp_path / "reviews.csv")
    assert reviews.inputs([0]).tolist() == [["great, really"]]
    assert reviews.class_names == ["neg", "pos"] and reviews.labels.tolist() == [1, 0, 1]
    (tmp_path / "numbers.csv").write_text("a,b\n1,2\n")  # numbers under a header: a table (issue 15)
    assert load(tmp_path / "numbers.csv").kind == "tabular"
    assert len(set(texts.case_hashes)) == 2
