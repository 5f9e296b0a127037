"""Adversarial corpus, cases and review files: hostile images are skipped and listed (the folder
always opens, nothing blocks), .npz files are bounded before use, review files never lose or
mix up what reviewers wrote, and long signals are resized in memory proportional to them."""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.data import MAX_CLASSES, load_dataset, load_npz
from engine.errors import BadInputError
from engine.image_io import read_image
from engine.jobs import JobContext
from engine.preprocessing import Preprocessing
from engine.review import ReviewStore
from tests import hostile


def _png(path: Path, size: tuple[int, int] = (8, 6), value: int = 128) -> Path:
    Image.fromarray(np.full(size[::-1], value, np.uint8)).save(path)
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# name -> (maker(folder) -> path, phrase in its "skipped" line)
IMAGES = {
    "fifo.png": (lambda f: hostile.fifo(f, "fifo.png"), "is a FIFO (named pipe), not a file"),
    "zero.png": (lambda f: hostile.symlink(f, "zero.png", "/dev/zero"), "is a character device"),
    "null.jpg": (lambda f: hostile.symlink(f, "null.jpg", "/dev/null"), "is a character device"),
    "to_fifo.bmp": (lambda f: hostile.symlink(f, "to_fifo.bmp", hostile.fifo(f, ".hidden-pipe")), "FIFO"),
    "bomb.png": (lambda f: hostile.png_declaring(f / "bomb.png", 50_000, 50_000), "decompression bomb"),
    "big.png": (lambda f: hostile.png_declaring(f / "big.png", 12_000, 12_000), "declares 12000×12000 pixels"),
    "bomb.tif": (lambda f: hostile.tiff_declaring(f / "bomb.tif", 50_000, 50_000), "50000"),
    "empty.png": (lambda f: _write(f / "empty.png", b""), "not a readable image"),
    "text.jpg": (lambda f: _write(f / "text.jpg", b"not an image at all"), "not a readable image"),
    "random.tiff": (lambda f: _write(f / "random.tiff", os.urandom(5000)), "not a readable image"),
    "truncated.png": (lambda f: _write(f / "truncated.png", _png(f / "t.tmp.png").read_bytes()[:40]), "not a readable image"),
}


def test_hostile_images_are_skipped_and_listed_and_the_folder_opens(tmp_path: Path) -> None:
    folder = tmp_path / "cases"
    folder.mkdir()
    good = [_png(folder / f"good{i}.png", value=40 * i) for i in range(3)]
    for name, (make, _phrase) in IMAGES.items():
        make(folder)
    (folder / "t.tmp.png").unlink()
    (folder / "dir.png").mkdir()  # a folder named like an image
    dataset = load_dataset(JobContext(None), str(folder))
    assert dataset.names == [p.name for p in good]
    skipped = {line.split(":", 1)[0]: line for line in dataset.skipped}
    assert set(skipped) == set(IMAGES), dataset.skipped
    for name, (_make, phrase) in IMAGES.items():
        assert phrase in skipped[name], skipped[name]
    assert all("\n" not in line for line in dataset.skipped)


def test_exif_orientation_is_applied_and_recorded(tmp_path: Path) -> None:
    array = np.zeros((10, 20, 3), np.uint8)
    array[:, :10] = 255  # left half white, as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    path = tmp_path / "camera.jpg"
    Image.fromarray(array).save(path, exif=exif, quality=95)
    info: dict = {}
    shown = read_image(path, info=info)
    assert shown.shape == (20, 10, 3) and info == {"exif_orientation": 6}
    assert shown[:8].mean() > 200 and shown[12:].mean() < 50  # stored left half is now on top
    dataset = load_dataset(JobContext(None), str(tmp_path))
    assert dataset.case_provenance(0)["exif_orientation"] == 6


def test_an_image_changed_on_disk_after_opening_is_detected(tmp_path: Path) -> None:
    path = _png(tmp_path / "a.png")
    dataset = load_dataset(JobContext(None), str(tmp_path))
    record = dataset.case_provenance(0)
    assert record["case_sha256"] == dataset.case_hashes[0] and record["preprocessing"]["resize"] == "stretch"
    _png(path, value=7)  # same name and size, other pixels
    with pytest.raises(BadInputError, match="a.png changed on disk since the cases were opened"):
        dataset.inputs([0])


# name -> (maker(folder) -> path, phrase of the BadInputError)
NPZ = {
    "label_1e12": (lambda f: hostile.npz(f / "a.npz", x=np.zeros((2, 4, 4)), y=np.array([0, 10**12])),
                   "labels must be class indices"),
    "label_negative": (lambda f: hostile.npz(f / "a.npz", x=np.zeros((2, 4, 4)), y=np.array([0, -5])),
                       "labels must be class indices"),
    "label_past_names": (lambda f: hostile.npz(f / "a.npz", x=np.zeros((2, 4, 4)), y=np.array([0, 3]),
                                               class_names=np.array(["a", "b"])), "label 3 but only 2 class names"),
    "too_many_names": (lambda f: hostile.npz(f / "a.npz", x=np.zeros((2, 4, 4)),
                                             class_names=np.arange(MAX_CLASSES + 1).astype(str)), "class names; at most"),
    "object_array": (lambda f: hostile.npz(f / "a.npz", x=np.array([{"a": 1}, None], dtype=object)),
                     "never unpickled"),
    "declares_8_tb": (lambda f: hostile.npz_members(f / "a.npz", {"x.npy": hostile.npy_declaring((10**6, 10**6, 2))}),
                      "declares 7.3 TiB of arrays"),
    "overlapping_bomb": (lambda f: hostile.overlapping_zip(f / "a.npz", "x.npy", hostile.npy_declaring((4, 4))),
                         "entries overlap"),
    "bzip2_bomb": (lambda f: hostile.bzip2_bomb(f / "a.npz", "x.npy"), "(a zip bomb)"),
    "no_x": (lambda f: hostile.npz(f / "a.npz", y=np.zeros(3)), "no array named 'x'"),
    "x_1d": (lambda f: hostile.npz(f / "a.npz", x=np.zeros(5)), "x must be (N, H, W[, C]) images"),
    "y_fraction": (lambda f: hostile.npz(f / "a.npz", x=np.zeros((2, 3)), y=np.array([0.5, 1.0])),
                   "y must hold integer class indices"),
    "not_a_zip": (lambda f: _write(f / "a.npz", b"PK but not really"), "not a readable .npz file"),
    "fifo": (lambda f: hostile.fifo(f, "a.npz"), "is a FIFO (named pipe), not a file"),
}


@pytest.mark.parametrize("case", sorted(NPZ))
def test_hostile_npz_is_one_line_error(case: str, tmp_path: Path) -> None:
    make, phrase = NPZ[case]
    path = make(tmp_path)
    tracemalloc.start()
    try:
        with pytest.raises(BadInputError) as info:
            load_npz(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert phrase in str(info.value) and "\n" not in str(info.value) and str(info.value).startswith("a.npz")
    assert peak < 32 << 20  # refused from headers: nothing large was allocated


def test_a_long_signal_is_resized_in_memory_proportional_to_it() -> None:
    """43,844 samples once built a dense 43844 x 43844 resample matrix (14.7 GB)."""
    signal = np.random.default_rng(0).random((1, 43_844), dtype=np.float32)
    tracemalloc.start()
    try:
        out = Preprocessing(size=(1, 2048), scale="none").apply(signal)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert out.shape == (1, 2048, 1)
    assert peak < 8 << 20  # a few copies of the 175 KB input, not 7.7 GB of identity matrix
    assert abs(float(out.mean()) - float(signal.mean())) < 0.01  # an average of it, not garbage


# name -> (file text, what the store must say / do)
REVIEWS = {
    "not_json": ("{ nope", "unreadable"),
    "a_list": ("[1, 2, 3]", "unreadable"),
    "a_string": ('"hello"', "unreadable"),
    "wrong_format": ('{"format": "other", "cases": {}}', "unreadable"),
    "deep_file": (hostile.deep_json(100_000), "unreadable"),
    "binary": (None, "unreadable"),
    "cases_a_string": ('{"format": "glassbox-review", "version": 2, "cases": "x"}', ""),
    "null_entry": ('{"format": "glassbox-review", "version": 2, "cases": {"a.png": null}}', "quarantined"),
    "number_entry": ('{"format": "glassbox-review", "version": 2, "cases": {"a.png": 5}}', "quarantined"),
    "history_not_list": ('{"format": "glassbox-review", "version": 2, "cases": {"a.png": {"h": {"history": 3}}}}',
                         "quarantined"),
    "event_bad_kind": ('{"format": "glassbox-review", "version": 2, "cases": {"a.png": {"h": {"history": '
                       '[{"id": "1", "kind": "delete", "time": "t", "os_user": "", "reviewer": "", '
                       '"model_sha256": ""}]}}}}', "quarantined"),
    "deep_entry": ('{"format": "glassbox-review", "version": 2, "cases": {"a.png": ' + hostile.deep_json(100) + "}}",
                   "quarantined"),
    "newer_version": ('{"format": "glassbox-review", "version": 7, "cases": {}}', "read-only"),
}


@pytest.mark.parametrize("case", sorted(REVIEWS))
def test_hostile_review_file_opens_with_a_message_and_keeps_working(case: str, tmp_path: Path) -> None:
    text, outcome = REVIEWS[case]
    path = tmp_path / "r.json"
    path.write_bytes(os.urandom(2000) + b"\xff" if text is None else text.encode())
    original = path.read_bytes()
    store = ReviewStore(path)
    if outcome == "unreadable":
        assert "was unreadable" in store.warning and "starting afresh" in store.warning
        aside = [p for p in tmp_path.iterdir() if p.name.startswith("r.json.unreadable-")]
        assert len(aside) == 1 and aside[0].read_bytes() == original  # kept, never overwritten
    elif outcome == "quarantined":
        assert "quarantined" in store.warning and "a.png" in store.warning
    elif outcome == "read-only":
        assert store.read_only and "read-only" in store.warning
        with pytest.raises(BadInputError):
            store.set_note("b.png", "h", "x")
        assert path.read_bytes() == original
        return
    store.set_verdict("b.png", "h2", "plausible")  # the case list keeps working
    assert ReviewStore(path).get("b.png", "h2").verdict == "plausible"
    if outcome == "quarantined":
        assert [q["case"] for q in json.loads(path.read_text())["quarantined"]] == ["a.png"]


def test_a_fifo_as_review_file_never_blocks(tmp_path: Path) -> None:
    hostile.fifo(tmp_path, "r.json")
    store = ReviewStore(tmp_path / "r.json")
    assert "is a FIFO" in store.warning
    store.set_verdict("a.png", "h", "plausible")
    assert ReviewStore(tmp_path / "r.json").get("a.png", "h").verdict == "plausible"
