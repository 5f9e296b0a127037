"""engine.cache: the memory LRU's bounds, and the disk cache's integrity check and size cap."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from engine import cache
from engine.fileio import config_dir


@pytest.fixture
def disk() -> cache.DiskCache:
    cache.take_reports()
    return cache.DiskCache("test-section", max_bytes=10 << 20, title="test result")


def test_memory_lru_drops_least_recently_used_by_count_and_bytes() -> None:
    lru = cache.MemoryCache(max_entries=3)
    for key in "abc":
        lru.put(key, key.upper())
    assert lru.get("a") == "A"  # a is now the most recently used
    lru.put("d", "D")
    assert "b" not in lru and [k for k in "acd" if k in lru] == ["a", "c", "d"]

    by_bytes = cache.MemoryCache(max_entries=100, max_bytes=3000)
    for i in range(5):
        by_bytes.put(i, np.zeros(100, np.float64))  # 800 bytes each
    assert len(by_bytes) == 3 and by_bytes.nbytes == 2400 and 0 not in by_bytes and 4 in by_bytes
    by_bytes.put("big", np.zeros(10_000))  # bigger than the cap alone: kept, everything else goes
    assert len(by_bytes) == 1 and "big" in by_bytes


def test_disk_round_trip_keeps_arrays_and_metadata(disk) -> None:
    key = cache.key_of("x", {"b": 1, "a": 2}, np.arange(3))
    assert key == cache.key_of("x", {"a": 2, "b": 1}, np.arange(3))  # dict order does not matter
    assert key != cache.key_of("x", {"a": 2, "b": 1.5}, np.arange(3))
    arrays = {"maps": np.arange(12, dtype=np.float32).reshape(3, 4), "targets": np.array([2], np.int64)}
    disk.save(key, arrays, {"method": "saliency", "elapsed": 0.5})
    loaded, meta = disk.load(key)
    np.testing.assert_array_equal(loaded["maps"], arrays["maps"])
    assert loaded["maps"].dtype == np.float32 and meta == {"method": "saliency", "elapsed": 0.5}
    assert cache.take_reports() == []
    assert (config_dir() / cache.SECRET_FILE).stat().st_size == 32


def _rewrite(path, **arrays) -> None:
    """Replace one array inside a stored .npz, keeping the stored MAC (what an attacker can do)."""
    with np.load(path, allow_pickle=False) as data:
        content = {name: data[name] for name in data.files}
    content.update(arrays)
    with open(path, "wb") as handle:
        np.savez(handle, **content)


def test_tampered_entry_is_discarded_and_reported(disk) -> None:
    key = cache.key_of("tamper")
    disk.save(key, {"maps": np.ones((2, 2), np.float32)}, {"method": "m"})
    _rewrite(disk.path(key), maps=np.full((2, 2), 9.0, np.float32))
    assert disk.load(key) is None
    assert not disk.path(key).exists()
    (report,) = cache.take_reports()
    assert "test result" in report and "integrity" in report
    # metadata edited, arrays untouched: also caught
    disk.save(key, {"maps": np.ones((2, 2), np.float32)}, {"method": "m"})
    _rewrite(disk.path(key), __meta__=np.array('{"method": "other"}'))
    assert disk.load(key) is None and len(cache.take_reports()) == 1


def test_entry_moved_to_another_key_fails_the_check(disk) -> None:
    first, second = cache.key_of("first"), cache.key_of("second")
    disk.save(first, {"maps": np.zeros(3)})
    os.replace(disk.path(first), disk.path(second))
    assert disk.load(second) is None and len(cache.take_reports()) == 1


def test_entry_signed_with_another_install_secret_fails(disk, tmp_path, monkeypatch) -> None:
    key = cache.key_of("other-install")
    disk.save(key, {"maps": np.zeros(3)})
    monkeypatch.setenv("GLASSBOX_CONFIG_DIR", str(tmp_path / "another-install"))
    assert disk.load(key) is None and len(cache.take_reports()) == 1


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", b"not a zip at all"])
def test_empty_or_truncated_entry_is_a_miss_not_an_error(disk, content) -> None:
    key = cache.key_of("broken", content)
    disk.save(key, {"maps": np.zeros(3)})
    full = disk.path(key).read_bytes()
    disk.path(key).write_bytes(content or full[: len(full) // 2][:0])
    assert disk.load(key) is None and not disk.path(key).exists()
    assert cache.take_reports() == []  # nothing malicious to report: just recomputed
    disk.save(key, {"maps": np.ones(3)})  # the next save works as before
    np.testing.assert_array_equal(disk.load(key)[0]["maps"], np.ones(3))


def test_half_written_entry_is_a_miss(disk) -> None:
    key = cache.key_of("half")
    disk.save(key, {"maps": np.arange(1000.0)})
    full = disk.path(key).read_bytes()
    disk.path(key).write_bytes(full[: len(full) // 2])
    assert disk.load(key) is None and cache.take_reports() == []


def test_disk_cache_is_pruned_to_its_size_cap_oldest_first(disk) -> None:
    one = np.zeros(10_000, np.float64)  # ~80 kB per entry
    keys = [cache.key_of(i) for i in range(6)]
    now = time.time()
    for i, key in enumerate(keys):
        disk.save(key, {"a": one})
        os.utime(disk.path(key), (now - 100 + i, now - 100 + i))  # strictly increasing ages
    disk.load(keys[0])  # a read counts as a use: entry 0 is now the most recent
    disk.max_bytes = int(disk.size() / 6 * 3.5)
    disk.save(keys[5], {"a": one})  # a save prunes, and never the entry it just wrote
    kept = [i for i, key in enumerate(keys) if disk.path(key).exists()]
    assert disk.size() <= disk.max_bytes and len(kept) == 3
    assert kept == [0, 4, 5]  # the recently read entry survives, the oldest unused go
