"""Damaged and wrong files: each either loads or raises a one-line ModelLoadError naming the file.

Variants are generated from real small .keras / .h5 / SavedModel files: truncations, byte
flips, zeroed blocks, random bytes, broken archives, wrong extensions, unreadable files.
Nothing else may escape: no other exception type, no crash, no hang (pytest-timeout).
"""

from __future__ import annotations

import builtins
import io
import json
import os
import re
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ModelLoadError
from engine import models
from engine.models import load_model
from tests.engine.test_models import save_in_every_format, small_cnn

Variant = Callable[[dict[str, Path], Path], Path]


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return save_in_every_format(small_cnn(), tmp_path_factory.mktemp("originals"), "m")


@pytest.fixture(autouse=True)
def _short_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hanging HDF5 read is given up after 8 s here (20 s in the app): keeps the file fast."""
    monkeypatch.setattr(models, "H5_PROBE_SECONDS", 8.0)


def _mutated(kind: str, name: str, change: Callable[[bytes], bytes]) -> Variant:
    def make(originals: dict[str, Path], folder: Path) -> Path:
        target = folder / name
        target.write_bytes(change(originals[kind].read_bytes()))
        return target

    return make


def _truncate(fraction: float) -> Callable[[bytes], bytes]:
    return lambda data: data[: max(1, int(len(data) * fraction))]


def _flip(fraction: float, count: int = 1) -> Callable[[bytes], bytes]:
    """Invert `count` bytes starting at a fraction of the file's length."""
    def change(data: bytes) -> bytes:
        buf = bytearray(data)
        start = min(len(buf) - count, int(len(buf) * fraction))
        for i in range(start, start + count):
            buf[i] ^= 0xFF
        return bytes(buf)

    return change


def _zero(fraction: float, size: int) -> Callable[[bytes], bytes]:
    def change(data: bytes) -> bytes:
        start = int(len(data) * fraction)
        return data[:start] + bytes(min(size, len(data) - start)) + data[start + size:]

    return change


def _archive(name: str, members: dict[str, bytes]) -> Variant:
    def make(originals: dict[str, Path], folder: Path) -> Path:
        target = folder / name
        with zipfile.ZipFile(target, "w") as archive:
            for member, data in members.items():
                archive.writestr(member, data)
        return target

    return make


def _rewritten_config(name: str, edit: Callable[[dict], dict], drop: tuple[str, ...] = ()) -> Variant:
    """A real .keras archive whose config.json has been edited and `drop` members left out."""
    def make(originals: dict[str, Path], folder: Path) -> Path:
        target = folder / name
        with zipfile.ZipFile(originals["keras"]) as src, zipfile.ZipFile(target, "w") as dst:
            for item in src.infolist():
                if item.filename in drop:
                    continue
                data = src.read(item.filename)
                if item.filename == "config.json":
                    data = json.dumps(edit(json.loads(data))).encode()
                dst.writestr(item, data)
        return target

    return make


def _rename_class(config: dict) -> dict:
    text = json.dumps(config).replace('"class_name": "Conv2D"', '"class_name": "NoSuchConv"')
    return json.loads(text.replace('"module": "keras.layers", "class_name": "NoSuchConv"',
                                   '"module": null, "class_name": "NoSuchConv"'))


def _bytes_file(name: str, data: bytes) -> Variant:
    def make(originals: dict[str, Path], folder: Path) -> Path:
        target = folder / name
        target.write_bytes(data)
        return target

    return make


def _copy_as(kind: str, name: str) -> Variant:
    def make(originals: dict[str, Path], folder: Path) -> Path:
        return Path(shutil.copy(originals[kind], folder / name))

    return make


def _savedmodel(name: str, file: str, change: Callable[[bytes], bytes] | None) -> Variant:
    """A copy of the SavedModel folder with one file damaged (or removed when change is None)."""
    def make(originals: dict[str, Path], folder: Path) -> Path:
        target = folder / name
        shutil.copytree(originals["savedmodel"], target)
        victim = target / file
        if change is None:
            victim.unlink()
        else:
            victim.write_bytes(change(victim.read_bytes()))
        return target

    return make


def _folder(name: str) -> Variant:
    def make(originals: dict[str, Path], folder: Path) -> Path:
        target = folder / name
        target.mkdir()
        (target / "readme.txt").write_text("not a model")
        return target

    return make


def _weights_only_h5(originals: dict[str, Path], folder: Path) -> Path:
    target = folder / "weights_only.weights.h5"
    small_cnn().save_weights(target)
    return Path(shutil.copy(target, folder / "weights_only.h5"))


RANDOM = np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes()

VARIANTS: dict[str, Variant] = {
    **{f"keras_truncated_{f}": _mutated("keras", f"t{f}.keras", _truncate(f))
       for f in (0.0, 0.01, 0.1, 0.3, 0.5, 0.9, 0.99, 0.999)},
    **{f"keras_flip_{f}": _mutated("keras", f"f{f}.keras", _flip(f))
       for f in (0.0, 0.002, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.999)},
    "keras_flip_run": _mutated("keras", "frun.keras", _flip(0.3, count=64)),
    **{f"keras_zeroed_{f}": _mutated("keras", f"z{f}.keras", _zero(f, 512)) for f in (0.0, 0.4, 0.97)},
    **{f"h5_truncated_{f}": _mutated("h5", f"t{f}.h5", _truncate(f)) for f in (0.001, 0.1, 0.5, 0.9, 0.99)},
    **{f"h5_flip_{f}": _mutated("h5", f"f{f}.h5", _flip(f)) for f in (0.0, 0.01, 0.1, 0.3, 0.6, 0.95)},
    **{f"h5_zeroed_{f}": _mutated("h5", f"z{f}.h5", _zero(f, 1024)) for f in (0.0, 0.25, 0.7)},
    "keras_random_bytes": _bytes_file("random.keras", RANDOM),
    "h5_random_bytes": _bytes_file("random.h5", RANDOM),
    "keras_empty": _bytes_file("empty.keras", b""),
    "h5_empty": _bytes_file("empty.h5", b""),
    "keras_text": _bytes_file("text.keras", b"hello, I am not a model\n"),
    "zip_without_config": _archive("noconfig.keras", {"metadata.json": b"{}"}),
    "zip_broken_config": _archive("badjson.keras", {"config.json": b'{"class_name": "Functional", ', "metadata.json": b"{}"}),
    "zip_config_not_object": _archive("list.keras", {"config.json": b"[1, 2, 3]"}),
    "zip_config_without_weights": _rewritten_config("noweights.keras", lambda c: c, drop=("model.weights.h5",)),
    "zip_config_wrong_layer": _rewritten_config("unknownclass.keras", _rename_class),
    "zip_config_empty_object": _archive("emptyconfig.keras", {"config.json": b"{}"}),
    "h5_weights_only": _weights_only_h5,
    "wrong_extension_txt": _copy_as("keras", "model.txt"),
    "wrong_extension_pt": _copy_as("keras", "model.pt"),
    "no_extension": _copy_as("keras", "model"),
    "h5_named_keras": _copy_as("h5", "swapped.keras"),
    "keras_named_h5": _copy_as("keras", "swapped.h5"),
    "folder_not_savedmodel": _folder("plain_folder"),
    "savedmodel_pb_random": _savedmodel("sm_random", "saved_model.pb", lambda d: RANDOM),
    "savedmodel_pb_truncated": _savedmodel("sm_trunc", "saved_model.pb", _truncate(0.5)),
    "savedmodel_pb_flipped": _savedmodel("sm_flip", "saved_model.pb", _flip(0.5, count=16)),
    "savedmodel_no_pb": _savedmodel("sm_nopb", "saved_model.pb", None),
    "savedmodel_no_variables": _savedmodel("sm_novars", "variables/variables.index", None),
    "savedmodel_variables_truncated": _savedmodel(
        "sm_vars", "variables/variables.data-00000-of-00001", _truncate(0.5)
    ),
}


# Why each refused family is refused: the reason a user reads, not only "refused" (a weaker
# check that still refuses, e.g. a zip magic-number test instead of a zip directory check,
# changes the reason).
REASONS: dict[str, str] = {
    "keras_truncated_0.0": r"not a Keras archive \(\.keras files are zip archives\)",  # one byte: no zip magic
    "keras_truncated": r"the archive is truncated or damaged \(its zip directory is missing\)",
    "keras_flip": r"the archive is damaged \(checksum mismatch in ",
    "keras_zeroed": r"the archive is damaged \(checksum mismatch in ",
    "h5_truncated": r"the HDF5 data is damaged \(OSError: .*(truncated file|ring type mismatch)",
    "h5_flip": r"the (HDF5 data|file) is damaged \(",
    "h5_zeroed": r"the HDF5 data is damaged \(",
    "random_bytes": r"(not a Keras archive|the HDF5 data is damaged \(OSError: .*file signature not found)",
    "empty": r"the file is empty \(0 bytes\)",
    "keras_text": r"not a Keras archive",
    "zip_without_config": r"the Keras archive has no config\.json",
    "zip_broken_config": r"config\.json is damaged \(JSONDecodeError",
    "zip_config_not_object": r"config\.json does not describe a model",
    "zip_config_without_weights": r"the file is damaged or not a Keras model \(ValueError: Expected a model\.weights",
    "zip_config_wrong_layer": r"uses custom object 'NoSuchConv', which this app cannot build",
    "zip_config_empty_object": r"the file is damaged or not a Keras model",
    "h5_weights_only": r"the HDF5 file holds no model config \(weights only\?\)",
    "wrong_extension_txt": r"unsupported file type '\.txt'; expected \.keras, \.h5 or a SavedModel folder",
    "wrong_extension_pt": r"unsupported file type '\.pt'",
    "no_extension": r"unsupported file type '\(no extension\)'",
    "h5_named_keras": r"the file is HDF5 .*rename it to \.h5",
    "keras_named_h5": r"the file is a zip archive .*rename it to \.keras",
    "folder_not_savedmodel": r"the folder is not a TensorFlow SavedModel \(no saved_model\.pb\)",
    "savedmodel_no_pb": r"the folder is not a TensorFlow SavedModel \(no saved_model\.pb\)",
    # where the flipped bytes land decides which reader notices first (both are clean refusals)
    "savedmodel_pb": r"(saved_model\.pb is damaged \(DecodeError\)|the SavedModel is damaged \(OSError: Cannot parse file)",
    "savedmodel_no_variables": r"the SavedModel is damaged \(",
    "savedmodel_variables_truncated": r"the SavedModel is damaged \(",
}


def _reason(name: str) -> str:
    """The expected reason of the variant itself, or of the family its name starts or ends with."""
    keys = [k for k in REASONS if k == name or name.startswith(k + "_") or name.endswith("_" + k)]
    assert keys, f"no expected reason for {name}"
    return REASONS[max(keys, key=len)]


def _check_outcome(path: Path) -> tuple[str, str]:
    """('loaded' | 'refused', message); fails the test for anything but a one-line ModelLoadError."""
    try:
        model, desc = load_model(path)
    except ModelLoadError as exc:
        message = str(exc)
        assert path.name in message, message
        assert "\n" not in message and len(message) < 400, message
        return "refused", message
    assert desc.n_layers >= 1 and desc.sha256
    probabilities = model.predict(np.zeros((1, 8, 8, 1), np.float32), verbose=0)
    assert probabilities.shape == (1, 3)
    return "loaded", ""


def test_there_are_at_least_thirty_variants() -> None:
    assert len(VARIANTS) >= 30
    assert sum(name.startswith(("keras_truncated", "h5_truncated")) for name in VARIANTS) >= 10
    assert sum("_flip" in name for name in VARIANTS) >= 10
    for name in VARIANTS:
        _reason(name)  # every family says why it is refused


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_loads_or_fails_cleanly(name: str, originals: dict[str, Path], tmp_path: Path) -> None:
    path = VARIANTS[name](originals, tmp_path)
    outcome, message = _check_outcome(path)
    must_refuse = ("truncated", "random", "empty", "text", "zip_", "wrong_extension", "no_extension",
                   "folder", "weights_only", "swapped", "no_pb", "named")
    if any(key in name for key in must_refuse):
        assert outcome == "refused"
    if outcome == "refused":
        assert re.search(f"^Cannot open .*{re.escape(path.name)}: {_reason(name)}", message), message


def test_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="nowhere.keras: no such file"):
        load_model(tmp_path / "nowhere.keras")


def test_unknown_class_is_named(originals: dict[str, Path], tmp_path: Path) -> None:
    path = VARIANTS["zip_config_wrong_layer"](originals, tmp_path)
    with pytest.raises(ModelLoadError, match="'NoSuchConv'"):
        load_model(path)


@pytest.mark.timeout(60)
def test_unreadable_file(originals: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """chmod 000; as root (who may read anyway) the kernel's refusal is simulated on open()."""
    path = Path(shutil.copy(originals["keras"], tmp_path / "secret.keras"))
    path.chmod(0)
    if os.geteuid() == 0:
        real_open = builtins.open

        def refusing_open(file, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if os.fspath(file) == os.fspath(path) if isinstance(file, (str, os.PathLike)) else False:
                raise PermissionError(13, "Permission denied", os.fspath(path))
            return real_open(file, *args, **kwargs)

        monkeypatch.setattr(builtins, "open", refusing_open)
        monkeypatch.setattr(io, "open", refusing_open)
    with pytest.raises(ModelLoadError, match="secret.keras: no permission to read"):
        load_model(path)
