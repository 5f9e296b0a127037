"""Limits checked before anything is allocated or read: hostile files are refused, not survived.

A FIFO named m.keras blocks `open` for ever, a /dev/zero symlink named zero.h5 never ends, a
13 KB .keras can declare a 2 GiB weight and a 3 MB zip can inflate to 5 GB. So every untrusted
path is first `stat`ed (it must be a regular file, or a folder where one is expected), opened
without blocking, and its declared sizes are compared with the file's real size and with a
memory budget before a byte is decoded.
"""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path
from typing import BinaryIO

from engine.errors import BadInputError

DEFAULT_BUDGET = 4 << 30
BUDGET_ENV = "GLASSBOX_MEMORY_BUDGET"
# Declared payload per stored byte beyond which a file is a bomb, not a model: deflate
# cannot exceed ~1032:1, and Keras stores weights uncompressed in HDF5.
MAX_RATIO = 1100
SMALL = 1 << 20  # anything below a MiB is too small to matter


def memory_budget() -> int:
    """Bytes one request may allocate: GLASSBOX_MEMORY_BUDGET ("512M", "2G", bytes) or half the
    machine's available memory, at most DEFAULT_BUDGET."""
    text = os.environ.get(BUDGET_ENV, "").strip().upper()
    if text:
        factor = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1], 1)
        try:
            return max(1, int(float(text.rstrip("KMG")) * factor))
        except ValueError:
            pass
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return DEFAULT_BUDGET
    return max(SMALL, min(DEFAULT_BUDGET, available // 2))


def human(n: float) -> str:
    """1536 -> '1.5 KiB': sizes in messages."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, word in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a folder")):
        if test(mode):
            return word
    return "not a regular file"


def not_file_or_folder(path: str | os.PathLike[str]) -> str | None:
    """Why `path` is neither a regular file nor a folder (FIFO, device, socket...), from its
    stat alone (symlinks followed); None if it is one, or if it cannot be stat'ed."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    return f"it is {kind(mode)}, not a model file"


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a regular file for reading without ever blocking: opened O_NONBLOCK (a FIFO swapped
    in after a stat check cannot block either), checked with fstat, then made blocking again."""
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise BadInputError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise BadInputError(f"{name}: is {kind(info.st_mode)}, not a file")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_regular(path: str | os.PathLike[str], max_bytes: int | None = None) -> bytes:
    """A regular file's bytes (see `open_regular`), refused past `max_bytes` before reading."""
    limit = memory_budget() if max_bytes is None else max_bytes
    with open_regular(path) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise BadInputError(f"{os.fspath(path)}: {human(size)} is larger than the limit of {human(limit)}")
        return handle.read(limit + 1)[:limit]


def check_zip(path: str | os.PathLike[str], archive: zipfile.ZipFile) -> None:
    """Refuse a zip whose members declare more than the budget, inflate past deflate's ratio,
    or share compressed bytes (an overlapping-entry bomb), from the directory alone."""
    size = os.path.getsize(path)
    infos = archive.infolist()
    declared = sum(info.file_size for info in infos)
    budget = memory_budget()
    if declared > budget:
        raise BadInputError(
            f"{os.fspath(path)}: the archive declares {human(declared)} of contents, past the memory "
            f"budget of {human(budget)} ({BUDGET_ENV})"
        )
    stored = sum(info.compress_size for info in infos)
    if stored > size:
        raise BadInputError(f"{os.fspath(path)}: the archive's entries overlap (a zip bomb)")
    for info in infos:
        if info.file_size > SMALL and info.file_size > MAX_RATIO * max(1, info.compress_size):
            raise BadInputError(
                f"{os.fspath(path)}: {info.filename} inflates {human(info.compress_size)} to "
                f"{human(info.file_size)} (a zip bomb)"
            )


def check_declared(path: str | os.PathLike[str], declared: int, stored: int, what: str = "of weights") -> None:
    """Refuse a file that declares far more data than it stores, or more than the budget."""
    budget = memory_budget()
    if declared > SMALL and declared > MAX_RATIO * max(1, stored):
        raise BadInputError(
            f"{Path(path).name}: declares {human(declared)} {what} but stores only {human(stored)}"
        )
    if declared > budget:
        raise BadInputError(
            f"{Path(path).name}: declares {human(declared)} {what}, past the memory budget of "
            f"{human(budget)} ({BUDGET_ENV})"
        )
