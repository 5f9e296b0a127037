"""Adversarial corpus, models: every hostile model file gets `inspect` exit code 2 and exactly one
line naming the problem, without hanging, without running code from it and without writing
anywhere. Cases run through the CLI's `main` in this process (TensorFlow is loaded once); the
ones that matter most also run as a real `main.py inspect` subprocess with a timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from engine import cli, models
from engine.errors import ModelLoadError
from engine.jobs import JobContext
from engine.models import load_model
from engine.provenance import sha256_file
from tests import hostile
from tests.engine.test_models import lambda_model, small_cnn

ROOT = Path(__file__).resolve().parents[2]
PLANTED = "open({marker!r}, 'w').write('ran')\n"


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("good")
    paths = {"keras": folder / "good.keras", "h5": folder / "good.h5", "lambda": folder / "lam.keras"}
    small_cnn().save(paths["keras"])
    small_cnn().save(paths["h5"])
    lambda_model().save(paths["lambda"])
    return paths


def _config(good: dict[str, Path]) -> bytes:
    with zipfile.ZipFile(good["keras"]) as archive:
        return archive.read("config.json")


def _swishy(good: dict[str, Path], folder: Path) -> Path:
    """A model whose activation is a function registered as 'mylab>swishy' that we do not have."""
    config = json.loads(_config(good))
    config["config"]["layers"][-1]["config"]["activation"] = {
        "module": "builtins", "class_name": "function", "config": "mylab>swishy", "registered_name": "function"}
    return hostile.with_member(good["keras"], folder / "swishy.keras", "config.json", json.dumps(config).encode())


def _weights(good: dict[str, Path]) -> str:
    with zipfile.ZipFile(good["keras"]) as archive:
        return next(n for n in archive.namelist() if n.endswith(".h5"))


# name -> (maker(folder, good) -> path, phrase the one line must hold)
CASES = {
    "fifo_keras": (lambda f, g: hostile.fifo(f, "m.keras"), "it is a FIFO (named pipe), not a model file"),
    "fifo_h5": (lambda f, g: hostile.fifo(f, "m.h5"), "it is a FIFO (named pipe), not a model file"),
    "dev_zero_h5": (lambda f, g: hostile.symlink(f, "zero.h5", "/dev/zero"), "it is a character device"),
    "dev_null_keras": (lambda f, g: hostile.symlink(f, "null.keras", "/dev/null"), "it is a character device"),
    "dev_urandom_hdf5": (lambda f, g: hostile.symlink(f, "r.hdf5", "/dev/urandom"), "it is a character device"),
    "symlink_to_fifo": (lambda f, g: hostile.symlink(f, "l.keras", hostile.fifo(f, "pipe")), "FIFO"),
    "dangling_symlink": (lambda f, g: hostile.symlink(f, "gone.keras", f / "nowhere"), "no such file or folder"),
    "folder_named_keras": (lambda f, g: _mkdir(f / "m.keras"), "the folder is not a TensorFlow SavedModel"),
    "folder_named_h5": (lambda f, g: _mkdir(f / "m.h5"), "the folder is not a TensorFlow SavedModel"),
    "savedmodel_pb_fifo": (lambda f, g: _pb_fifo(f), "the folder is not a TensorFlow SavedModel"),
    "savedmodel_dev_zero_inside": (lambda f, g: _inside_saved(f, lambda d: hostile.symlink(d, "variables.data", "/dev/zero")),
                                   "variables.data: it is a character device"),
    "savedmodel_fifo_inside": (lambda f, g: _inside_saved(f, lambda d: hostile.fifo(d, "asset.txt")),
                               "asset.txt: it is a FIFO"),
    "savedmodel_folder_loop": (lambda f, g: _inside_saved(f, lambda d: hostile.symlink(d, "loop", d)),
                               "loop is a linked folder"),
    "empty_keras": (lambda f, g: _write(f / "e.keras", b""), "the file is empty"),
    "empty_h5": (lambda f, g: _write(f / "e.h5", b""), "the file is empty"),
    "random_keras": (lambda f, g: _write(f / "r.keras", os.urandom(4096)), "not a Keras archive"),
    "random_h5": (lambda f, g: _write(f / "r.h5", os.urandom(4096)), "damaged"),
    "zip_named_h5": (lambda f, g: _copy(g["keras"], f / "z.h5"), "is a zip archive"),
    "hdf5_named_keras": (lambda f, g: _copy(g["h5"], f / "h.keras"), "is HDF5"),
    "truncated_keras": (lambda f, g: _write(f / "t.keras", g["keras"].read_bytes()[:300]), "truncated or damaged"),
    "unknown_suffix": (lambda f, g: _write(f / "m.pt", b"x"), "it is a PyTorch model, which this app does not open"),
    "config_not_json": (lambda f, g: hostile.with_member(g["keras"], f / "c.keras", "config.json", b"{nope"),
                        "config.json is damaged"),
    "config_a_list": (lambda f, g: hostile.with_member(g["keras"], f / "l.keras", "config.json", b"[1, 2]"),
                      "config.json does not describe a model"),
    "config_deep": (lambda f, g: hostile.with_member(g["keras"], f / "d.keras", "config.json",
                                                     hostile.deep_json(100_000).encode()), "damaged"),
    "overlapping_zip_bomb": (lambda f, g: hostile.overlapping_zip(f / "o.keras", "config.json", _config(g)),
                             "the archive's entries overlap (a zip bomb)"),
    "bzip2_zip_bomb": (lambda f, g: hostile.bzip2_bomb(f / "b.keras", "model.weights.h5",
                                                       extra={"config.json": _config(g)}), "(a zip bomb)"),
    "weights_declare_2_gib": (lambda f, g: hostile.with_member(
        g["keras"], f / "w.keras", _weights(g), hostile.huge_h5(f / "w.h5").read_bytes()),
        "declares 2.0 GiB of weights but stores only"),
    "h5_declares_2_gib": (lambda f, g: hostile.huge_h5(f / "big.h5", attrs={"model_config": _h5_config(g)}),
                          "declares 2.0 GiB of weights but stores only"),
    "lambda_untrusted": (lambda f, g: _copy(g["lambda"], f / "lam.keras"), "Lambda layer ('double')"),
    "unknown_function": (lambda f, g: _swishy(g, f), "'swishy' (registered as 'mylab>swishy')"),
    "custom_objects_untrusted": (lambda f, g: _copy(g["keras"], f / "ok.keras"),
                                 "a custom-object module is Python code"),
}
EXTRA_ARGS = {"custom_objects_untrusted": ["--custom-objects", "__MODULE__"]}


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _copy(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes())
    return target


def _pb_fifo(folder: Path) -> Path:
    saved = _mkdir(folder / "sm")
    hostile.fifo(saved, "saved_model.pb")
    return saved


def _inside_saved(folder: Path, plant) -> Path:  # noqa: ANN001
    saved = _mkdir(folder / "sm")
    _write(saved / "saved_model.pb", b"")
    plant(saved)
    return saved


def _h5_config(good: dict[str, Path]) -> str:
    import h5py

    with h5py.File(good["h5"], "r") as handle:
        return handle.attrs["model_config"]


@pytest.fixture(autouse=True)
def _quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "H5_PROBE_SECONDS", 8.0)


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_model_is_one_line_and_exit_2(case: str, good, tmp_path: Path, capsys) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    make, phrase = CASES[case]
    path = make(folder, good)
    args = [a.replace("__MODULE__", str(_write(tmp_path / "mod.py", b"raise SystemExit(9)\n")))
            for a in EXTRA_ARGS.get(case, [])]
    before = hostile.tree(tmp_path)
    code = cli.main(["inspect", str(path), *args])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and phrase in lines[0], err
    assert hostile.tree(tmp_path) == before  # nothing written next to the file


def test_a_socket_named_like_a_model_is_refused(tmp_path: Path, capsys) -> None:
    path, sock = hostile.unix_socket(tmp_path, "s.keras")
    try:
        assert cli.main(["inspect", str(path)]) == 2
    finally:
        sock.close()
    assert "it is a socket, not a model file" in capsys.readouterr().err


def _planted(folder: Path) -> Path:
    """A working folder with an `h5py.py` and an `engine/` package that record being imported."""
    marker = folder / "PLANTED-CODE-RAN"
    (folder / "h5py.py").write_text(PLANTED.format(marker=str(marker)))
    (folder / "engine").mkdir()
    (folder / "engine" / "__init__.py").write_text(PLANTED.format(marker=str(marker)))
    (folder / "engine" / "h5probe.py").write_text(PLANTED.format(marker=str(marker)))
    return marker


def test_planted_modules_in_the_working_folder_never_run_in_the_probe(good, tmp_path, monkeypatch, capsys) -> None:
    marker = _planted(tmp_path)
    monkeypatch.setattr(models, "_PROBED_CLEAN", set())  # probe these files in a child again
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))  # ignored by the isolated child too
    assert cli.main(["inspect", str(good["h5"])]) == 0
    assert cli.main(["inspect", str(good["keras"])]) == 0
    assert "small_cnn" in capsys.readouterr().out
    assert not marker.exists()


def _run_cli(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HOME=str(cwd), TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, str(ROOT / "main.py"), "inspect", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.slow
def test_cli_subprocess_planted_folder_fifo_and_dev_zero(good, tmp_path: Path) -> None:
    """The real command line, from a hostile working folder: no hang, no planted code, one line."""
    marker = _planted(tmp_path)
    planted = hostile.tree(tmp_path)
    done = _run_cli([str(good["h5"])], tmp_path)
    assert done.returncode == 0 and "small_cnn" in done.stdout and not marker.exists(), done.stderr
    assert hostile.tree(tmp_path) == planted  # HOME is this folder: not even Keras' keras.json lands here
    for path, phrase in ((hostile.fifo(tmp_path, "m.keras"), "FIFO"),
                         (hostile.symlink(tmp_path, "zero.h5", "/dev/zero"), "character device")):
        done = _run_cli([str(path)], tmp_path, timeout=30)
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1 and phrase in lines[0], done.stderr


def test_trust_is_for_the_content_not_the_path(good, tmp_path: Path) -> None:
    """The SHA-256 the user trusted is what loads; other bytes at the same path are refused."""
    path = _copy(good["lambda"], tmp_path / "lam.keras")
    trusted = sha256_file(path)
    with pytest.raises(ModelLoadError) as refused:
        load_model(path)
    assert f"content SHA-256 {trusted}" in str(refused.value)
    _copy(good["keras"], path)  # swapped while the trust dialog was open
    with pytest.raises(ModelLoadError, match="its content changed since it was trusted"):
        load_model(path, trust=trusted)
    _copy(good["lambda"], path)
    _, description = load_model(path, trust=trusted)
    assert description.sha256 == trusted


def test_custom_objects_module_loads_only_when_trusted(good, tmp_path: Path, capsys) -> None:
    module = _write(tmp_path / "mylab.py", (
        b"import keras\n\n@keras.saving.register_keras_serializable(package='mylab')\n"
        b"def swishy(x):\n    return x * keras.ops.sigmoid(x)\n"))
    path = _swishy(good, tmp_path)
    assert cli.main(["inspect", str(path), "--custom-objects", str(module)]) == 2
    assert "--trust" in capsys.readouterr().err
    assert cli.main(["inspect", str(path), "--custom-objects", str(module), "--trust"]) == 0
    assert "swishy" in capsys.readouterr().out


def test_a_custom_objects_module_swapped_after_confirmation_is_refused(tmp_path: Path) -> None:
    """The GUI's confirmation names a SHA-256; other bytes at that path never run."""
    from engine import custom_objects
    from engine.errors import BadInputError

    marker = tmp_path / "RAN"
    module = _write(tmp_path / "mod.py", b"X = 1\n")
    confirmed = sha256_file(module)
    _write(module, PLANTED.format(marker=str(marker)).encode())  # swapped while the dialog was open
    with pytest.raises(BadInputError, match="changed since it was trusted"):
        custom_objects.load_custom_objects_task(JobContext(None), str(module), confirmed)
    assert not marker.exists()


def test_clean_hdf5_bytes_are_probed_once_an_edited_file_again(good, tmp_path, monkeypatch) -> None:
    from engine import h5probe

    calls: list[tuple] = []
    real = h5probe.probe
    monkeypatch.setattr(models, "_PROBED_CLEAN", set())
    monkeypatch.setattr(h5probe, "probe", lambda *a, **k: calls.append(a) or real(*a, **k))
    copy = tmp_path / "copy.h5"
    copy.write_bytes(good["h5"].read_bytes())
    for path in (good["h5"], good["h5"], copy):  # the copy has the same bytes: not probed again
        load_model(path)
    assert len(calls) == 1
    damaged = tmp_path / "damaged.h5"
    damaged.write_bytes(good["h5"].read_bytes()[:4096])
    for _ in range(2):  # a failure is never remembered as clean
        with pytest.raises(ModelLoadError):
            load_model(damaged)
    assert len(calls) == 3
