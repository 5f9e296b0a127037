"""Opening cases from folders, image files and .npz; fitting them to a model; predictions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from engine.data import Dataset, open_dataset_task, set_preprocessing_task
from engine.errors import BadInputError, Cancelled
from engine.image_io import read_image
from engine.jobs import JobContext
from engine.predictions import predict_task, to_probabilities
from engine.preprocessing import Preprocessing
from engine.workspace import Workspace


def ctx_for(workspace: Workspace | None = None) -> JobContext:
    return JobContext(workspace or Workspace())


def save(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix in (".tif", ".tiff"):
        tifffile.imwrite(path, array)
    else:
        Image.fromarray(array).save(path)
    return path


@pytest.fixture
def class_folder(tmp_path: Path) -> Path:
    """cats/ (2 images) and dogs/ (1 image, nested one level) plus one unlabelled image at the top."""
    root = tmp_path / "cases"
    save(root / "cats" / "a.png", np.full((6, 6, 3), 10, np.uint8))
    save(root / "cats" / "b.jpg", np.full((8, 8, 3), 200, np.uint8))
    save(root / "dogs" / "deep" / "c.bmp", np.full((5, 5), 30, np.uint8))
    save(root / "loose.png", np.zeros((4, 4), np.uint8))
    (root / "notes.txt").write_text("not an image")
    return root


def test_folder_with_class_subfolders_gives_labels(class_folder: Path) -> None:
    ctx = ctx_for()
    summary = open_dataset_task(ctx, str(class_folder))
    assert summary.names == ("loose.png", "cats/a.png", "cats/b.jpg", "dogs/deep/c.bmp")
    assert summary.class_names == ("cats", "dogs")
    assert summary.labels.tolist() == [-1, 0, 0, 1]
    assert summary.thumbnails.shape == (4, 48, 48, 3) and summary.thumbnails.dtype == np.uint8
    assert summary.skipped == ()
    assert ctx.workspace.dataset.hash == summary.hash
    assert ctx.workspace.dataset.raw(3).shape == (5, 5)


def test_renamed_file_keeps_case_hash(class_folder: Path) -> None:
    before = open_dataset_task(ctx_for(), str(class_folder))
    (class_folder / "cats" / "a.png").rename(class_folder / "cats" / "z.png")
    after = open_dataset_task(ctx_for(), str(class_folder))
    assert before.case_hashes[before.names.index("cats/a.png")] == after.case_hashes[after.names.index("cats/z.png")]


def test_16bit_tiff_rgba_png_and_bmp_preprocess_to_model_shape(tmp_path: Path) -> None:
    wide = np.zeros((10, 10), np.uint16)
    wide[0, 0], wide[5, 5] = 65535, 32768
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 1], rgba[..., 3] = 255, 0  # fully transparent green: alpha is dropped
    bmp = np.full((10, 10, 3), 51, np.uint8)
    files = [save(tmp_path / "w.tif", wide), save(tmp_path / "r.png", rgba), save(tmp_path / "b.bmp", bmp)]
    assert read_image(files[0]).dtype == np.uint16
    assert read_image(files[1]).shape == (10, 10, 4)
    ctx = ctx_for()
    summary = open_dataset_task(ctx, "", paths=[str(f) for f in files])
    assert summary.names == ("w.tif", "r.png", "b.bmp")
    dataset = ctx.workspace.dataset.with_preprocessing(Preprocessing().fit((None, 10, 10, 3)))
    x = dataset.inputs([0, 1, 2])
    assert x.shape == (3, 10, 10, 3) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0, 0], 1.0)  # 65535 -> 1.0 with 0..1 scaling
    np.testing.assert_allclose(x[0, 5, 5], 32768 / 65535, rtol=1e-6)
    np.testing.assert_allclose(x[1, 3, 3], [0.0, 1.0, 0.0])
    np.testing.assert_allclose(x[2], 0.2, rtol=1e-6)
    gray = dataset.with_preprocessing(Preprocessing(scale="-1..1").fit((None, 5, 5, 1)))
    assert gray.inputs([1]).shape == (1, 5, 5, 1)
    assert gray.display_image(2).shape == (5, 5)
    assert gray.hash != dataset.hash  # the recipe is part of the dataset hash


def test_corrupt_file_is_skipped_and_listed(class_folder: Path) -> None:
    (class_folder / "cats" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    summary = open_dataset_task(ctx_for(), str(class_folder))
    assert len(summary) == 4
    assert "cats/broken.png" not in summary.names
    assert len(summary.skipped) == 1 and summary.skipped[0].startswith("cats/broken.png: ")


def test_nothing_readable_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "x.png").write_bytes(b"garbage")
    with pytest.raises(BadInputError, match="none of the 1"):
        open_dataset_task(ctx_for(), str(tmp_path))
    with pytest.raises(BadInputError, match="no such"):
        open_dataset_task(ctx_for(), str(tmp_path / "missing"))
    (tmp_path / "data.csv").write_text("1,2")  # CSVs are text cases: this one has no header and no case
    with pytest.raises(BadInputError, match="header row"):
        open_dataset_task(ctx_for(), str(tmp_path / "data.csv"))
    (tmp_path / "data.bin").write_text("1,2")
    with pytest.raises(BadInputError, match="not an image"):
        open_dataset_task(ctx_for(), str(tmp_path / "data.bin"))


def test_npz_with_x_y_and_class_names(tmp_path: Path) -> None:
    x = np.arange(5 * 4 * 4, dtype=np.uint8).reshape(5, 4, 4, 1)
    np.savez(tmp_path / "d.npz", x=x, y=np.array([0, 1, 2, 1, 0]), class_names=np.array(["a", "b", "c"]))
    ctx = ctx_for()
    summary = open_dataset_task(ctx, str(tmp_path / "d.npz"))
    assert summary.names[3] == "case 3" and summary.labels.tolist() == [0, 1, 2, 1, 0]
    assert summary.class_names == ("a", "b", "c") and summary.input_shape == (4, 4, 1)
    np.testing.assert_allclose(ctx.workspace.dataset.inputs([2])[0], x[2] / 255.0, rtol=1e-6)
    np.savez(tmp_path / "nox.npz", y=np.zeros(3))
    with pytest.raises(BadInputError, match="no array named 'x'"):
        open_dataset_task(ctx_for(), str(tmp_path / "nox.npz"))
    np.savez(tmp_path / "bady.npz", x=x, y=np.zeros(4))
    with pytest.raises(BadInputError, match="4 labels for 5"):
        open_dataset_task(ctx_for(), str(tmp_path / "bady.npz"))


def test_tabular_npz_passes_features_through(tmp_path: Path) -> None:
    x = np.random.default_rng(0).normal(size=(6, 3)).astype(np.float32)
    np.savez(tmp_path / "t.npz", x=x)
    ctx = ctx_for()
    summary = open_dataset_task(ctx, str(tmp_path / "t.npz"))
    assert summary.kind == "tabular" and summary.labels.tolist() == [-1] * 6
    np.testing.assert_array_equal(ctx.workspace.dataset.inputs([4, 5]), x[4:6])


# ----- with a model ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_model():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, activation="relu")(inputs)
    h = keras.layers.GlobalAveragePooling2D()(h)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))


def test_open_fits_model_and_predictions_equal_model_predict(tiny_model, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 255, size=(150, 12, 12, 3), dtype=np.uint8)  # wrong size and channels
    np.savez(tmp_path / "d.npz", x=x)
    workspace = Workspace(model=tiny_model)
    summary = open_dataset_task(ctx_for(workspace), str(tmp_path / "d.npz"), preprocessing={"resize": "pad"})
    assert summary.input_shape == (8, 8, 1)
    assert summary.preprocessing["size"] == [8, 8] and summary.preprocessing["resize"] == "pad"
    seen: list[float] = []
    ctx = JobContext(workspace, lambda f, _m: seen.append(f))
    result = predict_task(ctx, batch_size=64)
    expected = tiny_model.predict(workspace.dataset.inputs(range(150)), verbose=0)
    np.testing.assert_allclose(result.probabilities, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(result.predicted, expected.argmax(axis=1))
    np.testing.assert_allclose(result.confidence, expected.max(axis=1), rtol=1e-5)
    assert result.dataset_hash == summary.hash
    assert seen[-1] == 1.0 and len(seen) >= 3


def test_predict_cancel_and_refit_errors(tiny_model) -> None:
    workspace = Workspace(model=tiny_model)
    workspace.dataset = Dataset.from_arrays(np.zeros((10, 8, 8, 1), np.uint8))
    ctx = ctx_for(workspace)
    ctx.cancel.cancel()
    with pytest.raises(Cancelled):
        predict_task(ctx)
    with pytest.raises(BadInputError, match="expects 1"):
        set_preprocessing_task(ctx_for(workspace), {"channels": "rgb"})
    workspace.dataset = Dataset.from_arrays(np.zeros((3, 5), np.float32))  # tabular vs image model
    with pytest.raises(BadInputError, match=r"Cases are \(5,\).*expects \(None, 8, 8, 1\)"):
        predict_task(ctx_for(workspace))
    workspace.dataset = Dataset.from_arrays(np.zeros((10, 8, 8, 1), np.uint8))
    summary = set_preprocessing_task(ctx_for(workspace), {"scale": "-1..1"})
    assert summary.preprocessing["scale"] == "-1..1"
    np.testing.assert_allclose(workspace.dataset.inputs([0]), -1.0)


def test_to_probabilities_handles_logits_and_single_sigmoid() -> None:
    logits = np.array([[2.0, 0.0, -1.0]])
    p = to_probabilities(logits, None)
    np.testing.assert_allclose(p, np.exp(logits) / np.exp(logits).sum(), rtol=1e-6)
    np.testing.assert_allclose(to_probabilities(np.array([[0.8]]), "sigmoid"), [[0.2, 0.8]], rtol=1e-6)


def test_cancelled_open_keeps_the_previous_dataset(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", x=np.zeros((300, 4, 4), np.uint8))
    ctx = ctx_for()
    previous = Dataset.from_arrays(np.zeros((2, 4, 4), np.uint8))
    ctx.workspace.dataset = previous
    ctx.cancel.cancel()
    with pytest.raises(Cancelled):
        open_dataset_task(ctx, str(tmp_path / "d.npz"))
    assert ctx.workspace.dataset is previous


def test_prediction_chunks_are_sized_to_about_150_ms() -> None:
    """The next chunk holds what fits CHUNK_SECONDS at the last chunk's pace, 1 to batch_size rows:
    a slow model (0.1 s a case) goes one case at a time, a fast one at the full batch."""
    from engine.predictions import CHUNK_SECONDS, FIRST_CHUNK, chunk_rows

    assert CHUNK_SECONDS == 0.15 and FIRST_CHUNK == 4
    assert chunk_rows(0.4, 4, 64) == 1  # 0.1 s a case
    assert chunk_rows(0.2, 4, 64) == 3  # 0.05 s a case: 3 fit in 0.15 s
    assert chunk_rows(0.004, 4, 64) == 64  # 1 ms a case: capped at the batch
    assert chunk_rows(0.0, 4, 16) == 16  # too fast to time
    assert chunk_rows(10.0, 1, 64) == 1  # never 0
