"""engine.limits at its edges: the budget's parsing, each refusal's exact threshold and reason.

Written for the mutation harness (tests/mutation): every bound here is checked on both sides,
so an off-by-one (`>` for `>=`), a lost unit or a deleted refusal fails a test.
"""

from __future__ import annotations

import os
import socket
import zipfile
from pathlib import Path

import pytest

from engine import limits
from engine.errors import BadInputError


@pytest.mark.parametrize(
    ("text", "expected"),
    [("512M", 512 << 20), ("2G", 2 << 30), ("3k", 3 << 10), ("1000", 1000), (" 1.5G ", 3 << 29), ("0", 1)],
)
def test_memory_budget_parses_units_and_never_drops_below_one_byte(monkeypatch, text, expected) -> None:
    monkeypatch.setenv(limits.BUDGET_ENV, text)
    assert limits.memory_budget() == expected


@pytest.mark.parametrize(
    ("pages", "expected"),
    [(1000, 1000 * 4096 // 2), (10, limits.SMALL), (10 << 20, limits.DEFAULT_BUDGET), (None, limits.DEFAULT_BUDGET)],
)
def test_memory_budget_unset_is_half_the_free_memory_within_bounds(monkeypatch, pages, expected) -> None:
    monkeypatch.setenv(limits.BUDGET_ENV, "lots")  # not a number: ignored, as if unset

    def sysconf(name: str) -> int:
        if pages is None:
            raise ValueError(name)  # a platform without these names
        return {"SC_AVPHYS_PAGES": pages, "SC_PAGE_SIZE": 4096}[name]

    monkeypatch.setattr(limits.os, "sysconf", sysconf)
    assert limits.memory_budget() == expected


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (5 << 20, "5.0 MiB"),
     (3 << 30, "3.0 GiB"), (2 << 40, "2.0 TiB"), (4096 << 40, "4096.0 TiB")],
)
def test_human_sizes(n, text) -> None:
    assert limits.human(n) == text


def test_kind_and_not_file_or_folder_name_what_a_path_is(tmp_path: Path) -> None:
    fifo = tmp_path / "m.keras"
    os.mkfifo(fifo)
    assert limits.not_file_or_folder(fifo) == "it is a FIFO (named pipe), not a model file"
    assert limits.not_file_or_folder("/dev/null") == "it is a character device, not a model file"
    sock_path = tmp_path / "s.h5"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(sock_path))
        assert limits.not_file_or_folder(sock_path) == "it is a socket, not a model file"
    (tmp_path / "f.h5").write_bytes(b"x")
    assert limits.not_file_or_folder(tmp_path / "f.h5") is None
    assert limits.not_file_or_folder(tmp_path) is None
    assert limits.not_file_or_folder(tmp_path / "missing") is None
    assert limits.kind(os.stat(tmp_path).st_mode) == "a folder"
    assert limits.kind(0) == "not a regular file"


def test_open_regular_refuses_a_fifo_at_once_and_reads_a_file(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.h5"
    os.mkfifo(fifo)  # no writer: a blocking open would hang here for ever
    with pytest.raises(BadInputError, match=r"pipe\.h5: is a FIFO \(named pipe\), not a file$"):
        limits.open_regular(fifo)
    open_fds = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        with pytest.raises(BadInputError, match=r"is a folder, not a file$"):
            limits.open_regular(tmp_path)
    assert len(os.listdir("/proc/self/fd")) == open_fds  # a refused path leaves no descriptor open
    with pytest.raises(BadInputError, match=r"missing\.h5: cannot be read \(No such file or directory\)$"):
        limits.open_regular(tmp_path / "missing.h5")
    path = tmp_path / "ok.bin"
    path.write_bytes(b"abc")
    with limits.open_regular(path) as handle:
        assert os.get_blocking(handle.fileno())  # made blocking again: reads never return short
        assert handle.read() == b"abc"


def test_read_regular_refuses_past_its_limit_and_reads_up_to_it(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(b"0123456789")
    assert limits.read_regular(path, max_bytes=10) == b"0123456789"
    with pytest.raises(BadInputError, match=r"data\.bin: 10 B is larger than the limit of 9 B$"):
        limits.read_regular(path, max_bytes=9)
    monkeypatch.setenv(limits.BUDGET_ENV, "9")  # no max_bytes: the memory budget is the limit
    with pytest.raises(BadInputError, match="larger than the limit of 9 B"):
        limits.read_regular(path)


def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> zipfile.ZipFile:
    with zipfile.ZipFile(path, "w", compression=method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return zipfile.ZipFile(path)


def test_check_zip_refuses_past_the_budget_and_accepts_at_it(tmp_path: Path, monkeypatch) -> None:
    archive = _zip(tmp_path / "a.keras", {"a": b"x" * 600, "b": b"y" * 400})  # declares 1000 bytes
    monkeypatch.setenv(limits.BUDGET_ENV, "1000")
    limits.check_zip(tmp_path / "a.keras", archive)  # exactly the budget: fine
    monkeypatch.setenv(limits.BUDGET_ENV, "999")
    with pytest.raises(BadInputError) as caught:
        limits.check_zip(tmp_path / "a.keras", archive)
    assert str(caught.value).endswith(
        "a.keras: the archive declares 1000 B of contents, past the memory budget of 999 B (GLASSBOX_MEMORY_BUDGET)"
    )


def test_check_zip_refuses_overlapping_entries(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(limits.BUDGET_ENV, "1G")
    archive = _zip(tmp_path / "o.keras", {"a": b"a" * 100, "b": b"b" * 100}, zipfile.ZIP_STORED)
    limits.check_zip(tmp_path / "o.keras", archive)
    archive.infolist()[1].compress_size = os.path.getsize(tmp_path / "o.keras")  # as if it reused a's bytes
    with pytest.raises(BadInputError, match=r"o\.keras: the archive's entries overlap \(a zip bomb\)$"):
        limits.check_zip(tmp_path / "o.keras", archive)


def test_check_zip_ratio_threshold_is_strict_and_small_members_pass(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(limits.BUDGET_ENV, "1G")
    archive = _zip(tmp_path / "r.keras", {"w": b"\0" * 1000}, zipfile.ZIP_STORED)
    info = archive.infolist()[0]
    assert info.compress_size == 1000
    info.file_size = limits.MAX_RATIO * 1000  # 1.1 MB, exactly the ratio: allowed
    limits.check_zip(tmp_path / "r.keras", archive)
    info.file_size += 1
    with pytest.raises(BadInputError, match=r"r\.keras: w inflates 1000 B to 1\.0 MiB \(a zip bomb\)$"):
        limits.check_zip(tmp_path / "r.keras", archive)
    info.compress_size, info.file_size = 0, limits.SMALL  # a MiB from nothing: too small to matter
    limits.check_zip(tmp_path / "r.keras", archive)
    info.file_size = limits.SMALL + 1  # just past it, from 0 stored bytes (counted as 1)
    with pytest.raises(BadInputError, match="a zip bomb"):
        limits.check_zip(tmp_path / "r.keras", archive)


def test_check_declared_thresholds(monkeypatch) -> None:
    monkeypatch.setenv(limits.BUDGET_ENV, "1G")
    limits.check_declared("/x/m.h5", limits.MAX_RATIO * 1000, 1000)  # exactly the ratio
    with pytest.raises(BadInputError) as caught:
        limits.check_declared("/x/m.h5", limits.MAX_RATIO * 1000 + 1, 1000)
    assert str(caught.value).endswith("m.h5: declares 1.0 MiB of weights but stores only 1000 B")
    limits.check_declared("m.h5", limits.SMALL, 0)  # a MiB: too small to matter whatever is stored
    with pytest.raises(BadInputError, match="stores only 0 B$"):
        limits.check_declared("m.h5", limits.SMALL + 1, 0)
    monkeypatch.setenv(limits.BUDGET_ENV, "2M")
    limits.check_declared("m.h5", 2 << 20, 2 << 20)
    with pytest.raises(BadInputError) as caught:
        limits.check_declared("m.h5", (2 << 20) + 1, 2 << 20, what="of tensors")
    assert str(caught.value).endswith(
        "m.h5: declares 2.0 MiB of tensors, past the memory budget of 2.0 MiB (GLASSBOX_MEMORY_BUDGET)"
    )
