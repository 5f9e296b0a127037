"""Adversarial corpus, SavedModels: their graphs are code. Each hostile SavedModel is described
from saved_model.pb without executing anything, and refused without trust, naming its ops; no
file is read or written by `inspect` (the graphs would write a marker file if they ran)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from engine import cli, savedmodel_scan
from engine.errors import ModelLoadError, UnsafeModelError
from engine.models import load_model
from engine.provenance import sha256_tree
from tests import hostile

tf = pytest.importorskip("tensorflow")
SPEC = [tf.TensorSpec([None, 3], tf.float32)]


def _save(folder: Path, name: str, serve, init=None) -> Path:  # noqa: ANN001
    """A tf.Module whose serving function is `serve(module, x)`; `init(module)` runs at build."""

    class Module(tf.Module):
        def __init__(self) -> None:
            self.v = tf.Variable(1.0)
            if init is not None:
                init(self)

        @tf.function(input_signature=SPEC)
        def call(self, x):  # noqa: ANN001, ANN201
            return {"y": serve(self, x)}

    module = Module()
    path = folder / name
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.call})
    return path


def _zero(t):  # noqa: ANN001, ANN202 - keeps a hostile op in the graph without changing the output
    return tf.cast(t, tf.float32) * 0.0


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("saved")
    secret = folder / "secret.txt"
    secret.write_text("secret")
    vocab = folder / "vocab.txt"
    vocab.write_text("a\nb\n")
    leak = str(folder / "LEAKED")

    def read_write(m, x):  # noqa: ANN001, ANN202
        tf.io.write_file(leak, tf.io.read_file(str(secret)))
        return x * m.v

    def table(m):  # noqa: ANN001, ANN202 - a resource initialiser that reads a file on load
        m.table = tf.lookup.StaticHashTable(tf.lookup.TextFileInitializer(
            str(vocab), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE, tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER),
            -1)

    paths = {
        "clean": _save(folder, "clean", lambda m, x: x * m.v),
        "read_write": _save(folder, "read_write", read_write),
        "remote": _save(folder, "remote", lambda m, x: x + _zero(tf.strings.length(tf.io.read_file("gs://bucket/x")))),
        "py_function": _save(folder, "py_function", lambda m, x: tf.py_function(lambda t: t, [x], tf.float32)),
        "matching_files": _save(folder, "matching", lambda m, x: x + _zero(tf.size(tf.io.matching_files("/etc/*")))),
        "table_init": _save(folder, "table", lambda m, x: x + tf.cast(m.table.lookup(tf.constant("a")), tf.float32), table),
    }
    paths["garbage_pb"] = folder / "garbage"
    paths["garbage_pb"].mkdir()
    (paths["garbage_pb"] / "saved_model.pb").write_bytes(os.urandom(3000))
    paths["empty_pb"] = folder / "empty"
    paths["empty_pb"].mkdir()
    (paths["empty_pb"] / "saved_model.pb").write_bytes(b"")
    paths["leak"] = Path(leak)
    return paths


EXPECTED = {
    "read_write": ("ReadFile in", "WriteFile in"),
    "remote": ("gs:// path in", "ReadFile in"),
    "py_function": ("EagerPyFunc in",),
    "matching_files": ("MatchingFiles in",),
    "table_init": ("InitializeTableFromTextFileV2 in",),
}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_risky_savedmodel_is_refused_naming_its_ops_and_runs_nothing(case: str, saved, capsys) -> None:
    before = hostile.tree(saved[case])
    assert cli.main(["inspect", str(saved[case])]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "its graph runs file, network or Python-callback ops" in lines[0]
    assert all(op in lines[0] for op in EXPECTED[case]), lines[0]
    assert f"content SHA-256 {sha256_tree(saved[case])}" in lines[0] and "--trust" in lines[0]
    assert not saved["leak"].exists() and hostile.tree(saved[case]) == before


def test_scan_describes_without_running(saved) -> None:
    info = savedmodel_scan.scan(saved["read_write"])
    assert info.signatures == {"serving_default": {"inputs": {"x": ("float", (None, 3))},
                                                   "outputs": {"y": ("float", (None, 3))}}}
    assert info.ops["WriteFile"] == 1 and info.ops["ReadFile"] == 1
    clean = savedmodel_scan.scan(saved["clean"])
    assert clean.risky == () and "no file, network or Python-callback ops" in clean.summary
    assert clean.ops["RestoreV2"] == 1  # the loader's own restore op is allowed in the saver only
    assert not saved["leak"].exists()


def test_clean_savedmodel_loads_with_the_scan_in_its_notes(saved) -> None:
    model, description = load_model(saved["clean"])
    assert any("no file, network or Python-callback ops" in note for note in description.notes)
    np.testing.assert_allclose(model.predict(np.ones((2, 3), np.float32), verbose=0), np.ones((2, 3)))


@pytest.mark.parametrize("case,phrase", [("garbage_pb", "saved_model.pb is damaged"),
                                         ("empty_pb", "saved_model.pb holds no graph")])
def test_damaged_graph_files_are_one_line(case: str, phrase: str, saved, capsys) -> None:
    assert cli.main(["inspect", str(saved[case])]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and phrase in lines[0], lines


def test_trusted_risky_savedmodel_runs_only_the_trusted_content(saved, tmp_path: Path) -> None:
    """A trusted hash that no longer matches is refused before TensorFlow reads the graph."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(saved["read_write"], copy)
    trusted = sha256_tree(copy)
    with pytest.raises(UnsafeModelError):
        load_model(copy)
    (copy / "fingerprint.pb").write_bytes(b"swapped")
    with pytest.raises(ModelLoadError, match="changed since it was trusted"):
        load_model(copy, trust=trusted)
    assert not saved["leak"].exists()
