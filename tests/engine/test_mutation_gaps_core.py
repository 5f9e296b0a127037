"""Gaps the mutation harness (tests/mutation) found in the engine core's tests: the caches'
exact bounds, the install secret, the model identity, and other known answers.

Each test pins a behaviour a small bug would change (an off-by-one bound, a dropped call, a
swapped operator), with a value worked out by hand.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from engine import cache, identity
from engine.fileio import config_dir


# ----- engine.cache --------------------------------------------------------------------------
def test_memory_cache_of_one_entry_holds_exactly_one() -> None:
    for bound in (1, 0, -3):  # below one: still one entry, the newest
        lru = cache.MemoryCache(max_entries=bound)
        lru.put("a", 1)
        lru.put("b", 2)
        assert len(lru) == 1 and "b" in lru and lru.get("a", "gone") == "gone"


def test_memory_cache_at_its_bounds_keeps_everything() -> None:
    lru = cache.MemoryCache(max_entries=2, max_bytes=1600)
    lru.put("a", np.zeros(100))  # 800 bytes
    lru.put("b", np.zeros(100))  # 1600 bytes: exactly both bounds
    assert len(lru) == 2 and lru.nbytes == 1600
    lru.put("a", np.zeros(50))  # replacing an entry frees its old size first
    assert len(lru) == 2 and lru.nbytes == 1200
    assert lru.pop("a").shape == (50,) and lru.nbytes == 800 and lru.pop("a") is None
    lru.clear()
    assert len(lru) == 0 and lru.nbytes == 0


def test_size_of_measures_arrays_inside_containers_and_dataclasses() -> None:
    from dataclasses import dataclass

    @dataclass
    class Holder:
        a: np.ndarray
        b: tuple

    value = Holder(np.zeros(10, np.float32), (np.zeros(3, np.int64), {"k": np.zeros(2, np.uint8)}))
    assert cache.size_of(value) == 40 + 24 + 2
    assert cache.size_of(None) == 0


def test_install_secret_is_created_owner_only_in_a_new_config_folder(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GLASSBOX_CONFIG_DIR", str(tmp_path / "new" / "config"))
    cache._secrets.clear()
    first = cache.secret()
    path = config_dir() / cache.SECRET_FILE
    assert len(first) == 32 and path.read_bytes() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cache._secrets.clear()
    assert cache.secret() == first  # read back from the file: the same install secret
    path.write_bytes(b"short")  # a damaged secret (< 32 bytes) is replaced, not used
    cache._secrets.clear()
    fresh = cache.secret()
    assert len(fresh) == 32 and fresh != b"short" and path.read_bytes() == fresh
    cache._secrets.clear()


def test_disk_cache_title_defaults_to_its_section_in_reports(tmp_path: Path) -> None:
    cache.take_reports()
    disk = cache.DiskCache("embeddings", max_bytes=1 << 20)
    assert disk.title == "embeddings"
    disk.save("k", {"x": np.arange(4)})
    with np.load(disk.path("k")) as data:  # tamper with the stored array, keep the MAC
        arrays = {name: data[name] for name in data.files}
    arrays["x"] = arrays["x"] + 1
    np.savez(disk.path("k"), **arrays)
    assert disk.load("k") is None and not disk.path("k").exists()
    assert cache.take_reports() == [
        "A cached embeddings failed its integrity check; it was discarded and recomputed."
    ]


def test_disk_cache_prune_keeps_the_newest_entry_and_exactly_the_cap(tmp_path: Path) -> None:
    disk = cache.DiskCache("prune", max_bytes=1 << 30)
    for i, key in enumerate("abc"):
        disk.save(key, {"x": np.zeros(1000)})
        os.utime(disk.path(key), (1000 + i, 1000 + i))  # a oldest, c newest
    sizes = {key: disk.path(key).stat().st_size for key in "abc"}
    disk.max_bytes = sizes["b"] + sizes["c"]  # exactly two entries fit
    disk.prune()
    assert [k for k in "abc" if disk.path(k).exists()] == ["b", "c"]
    disk.max_bytes = 0
    disk.prune(keep=disk.path("b"))  # the kept entry survives even past the cap
    assert [k for k in "abc" if disk.path(k).exists()] == ["b"]
    assert disk.size() == sizes["b"]


# ----- engine.identity -----------------------------------------------------------------------
class _Model:
    def __init__(self, name: str, weights: list[np.ndarray]) -> None:
        self.name, self.weights = name, weights


def test_weights_hash_tells_shape_dtype_and_bytes_apart() -> None:
    base = identity.weights_sha256(_Model("m", [np.zeros((2, 3), np.float32)]))
    assert base == identity.weights_sha256(_Model("m", [np.zeros((2, 3), np.float32)]))
    others = [
        _Model("n", [np.zeros((2, 3), np.float32)]),
        _Model("m", [np.zeros((3, 2), np.float32)]),  # same bytes, other shape
        _Model("m", [np.zeros(6, np.int32)]),  # same bytes, other dtype
        _Model("m", [np.zeros((2, 3), np.float32), np.zeros(0, np.float32)]),
        _Model("m", [np.eye(2, 3, dtype=np.float32)]),
    ]
    assert len({base, *(identity.weights_sha256(m) for m in others)}) == len(others) + 1
    import hashlib

    expected = hashlib.sha256(b"m")
    expected.update(b"<f4(2, 3)")
    expected.update(bytes(24))
    assert base == expected.hexdigest()


# ----- engine.fileio -------------------------------------------------------------------------
def test_a_write_that_fails_before_the_rename_keeps_the_old_file_and_no_temp(tmp_path: Path) -> None:
    from engine import fileio

    target = tmp_path / "review.json"
    fileio.atomic_write_text(target, "old")
    with pytest.raises(TypeError):
        fileio.atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]  # fails inside write()
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["review.json"]  # the temp file was removed


# ----- engine.h5probe (run in-process here; the loader runs it in a child) -----------------
def test_h5_probe_names_the_member_or_file_that_declares_too_much(tmp_path: Path, capsys) -> None:
    import zipfile

    from engine import h5probe
    from tests import hostile

    big = hostile.huge_h5(tmp_path / "big.h5")
    assert h5probe.main([str(big)]) == h5probe.TOO_LARGE
    assert capsys.readouterr().out.startswith("big.h5: declares 2.0 GiB of weights but stores only ")
    archive = tmp_path / "m.keras"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("model.weights.h5", big.read_bytes())
    assert h5probe.main([str(archive), "model.weights.h5"]) == h5probe.TOO_LARGE
    assert capsys.readouterr().out.startswith("model.weights.h5: declares 2.0 GiB of weights but stores only ")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all")
    assert h5probe.main([str(tmp_path / "junk.h5")]) == h5probe.UNREADABLE != h5probe.TOO_LARGE
    assert capsys.readouterr().out.strip()  # one line saying why
    small = hostile.huge_h5(tmp_path / "small.h5", n_values=8)
    assert h5probe.main([str(small)]) == 0


# ----- engine.provenance ---------------------------------------------------------------------
def test_tree_hash_is_the_documented_stream_of_name_lengths_names_and_file_hashes(tmp_path: Path) -> None:
    """A SavedModel's hash is recomputable by anyone: for each file in sorted POSIX order, its
    name's length (8 bytes, little-endian), its name, then the raw SHA-256 of its bytes."""
    import hashlib

    from engine.provenance import sha256_tree

    (tmp_path / "variables").mkdir()
    (tmp_path / "variables" / "v.index").write_bytes(b"idx")
    (tmp_path / "saved_model.pb").write_bytes(b"graph")
    expected = hashlib.sha256()
    for name, data in (("saved_model.pb", b"graph"), ("variables/v.index", b"idx")):
        expected.update(len(name).to_bytes(8, "little") + name.encode() + hashlib.sha256(data).digest())
    assert sha256_tree(tmp_path) == expected.hexdigest()


def test_h5_probe_child_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    """The probe as the loader runs it: a child process whose exit code carries the verdict."""
    from engine import h5probe
    from engine.errors import BadInputError
    from tests import hostile

    (tmp_path / "junk.h5").write_bytes(b"not hdf5 at all")
    reason = h5probe.probe(tmp_path / "junk.h5")
    assert reason is not None and "\n" not in reason
    with pytest.raises(BadInputError, match="^big.h5: declares 2.0 GiB of weights but stores only "):
        h5probe.probe(hostile.huge_h5(tmp_path / "big.h5"))
    assert h5probe.probe(hostile.huge_h5(tmp_path / "small.h5", n_values=8)) is None
