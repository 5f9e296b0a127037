"""Hostile files, generated on the spot (nothing binary is committed): what an attacker would
hand Glassbox. Each maker writes into a folder and returns the path it made.

Used by the adversarial corpus (tests/engine/test_hostile_*.py, tests/gui/test_hostile_*.py).
"""

from __future__ import annotations

import io
import json
import os
import socket
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np


def fifo(folder: Path, name: str) -> Path:
    path = folder / name
    os.mkfifo(path)
    return path


def symlink(folder: Path, name: str, target: str | Path) -> Path:
    path = folder / name
    path.symlink_to(target)
    return path


def unix_socket(folder: Path, name: str) -> tuple[Path, socket.socket]:
    """A bound UNIX socket at folder/name (keep the socket object alive while it is used)."""
    path = folder / name
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    return path, sock


def overlapping_zip(path: Path, member: str, data: bytes, copies: int = 40) -> Path:
    """A zip whose central directory lists the same compressed bytes `copies` + 1 times (the
    overlapping-entry zip bomb): each entry inflates the same data again."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, data)
    raw = buffer.getvalue()
    end = raw.rindex(b"PK\x05\x06")
    size, offset = struct.unpack("<II", raw[end + 12:end + 20])
    directory = raw[offset:offset + size]
    stem, dot, suffix = member.rpartition(".")
    names = [f"{i:0{len(stem)}d}"[-len(stem):] + dot + suffix for i in range(copies)]
    entries = [directory] + [directory.replace(member.encode(), name.encode()) for name in names]
    record = bytearray(raw[end:end + 22])
    struct.pack_into("<HHII", record, 8, copies + 1, copies + 1, sum(map(len, entries)), offset)
    path.write_bytes(raw[:offset] + b"".join(entries) + bytes(record))
    return path


def bzip2_bomb(path: Path, member: str, size: int = 8 << 20, extra: dict[str, bytes] | None = None) -> Path:
    """A member that inflates `size` bytes from a few dozen (bzip2 reaches ratios deflate cannot)."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
        archive.writestr(zipfile.ZipInfo(member), b"0" * size, compress_type=zipfile.ZIP_BZIP2)
    return path


def with_member(source: Path, target: Path, member: str, data: bytes) -> Path:
    """A copy of zip `source` with `member` replaced by `data`."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            new.writestr(info.filename, data if info.filename == member else old.read(info))
    return target


def huge_h5(path: Path, n_values: int = 2**29, attrs: dict | None = None) -> Path:
    """An HDF5 file of a few KB declaring a dataset of n_values float32 (2 GiB by default)."""
    import h5py

    with h5py.File(path, "w") as handle:
        for key, value in (attrs or {}).items():
            handle.attrs[key] = value
        handle.create_dataset("layers/dense/vars/0", shape=(n_values,), dtype="float32")
    return path


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_declaring(path: Path, width: int, height: int) -> Path:
    """A valid-looking PNG header declaring width x height gray pixels, with one tiny IDAT."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * (1 + min(width, 4096)))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b""))
    return path


def tiff_declaring(path: Path, width: int, height: int) -> Path:
    """A 2 KB little-endian TIFF whose one strip declares width x height 8-bit pixels."""
    entries = [
        (256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
        (273, 4, 1, 8 + 2 + 12 * 9 + 4), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, width * height),
    ]
    ifd = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHI", tag, kind, count) + (struct.pack("<HH", value, 0) if kind == 3 else struct.pack("<I", value))
        for tag, kind, count, value in entries
    ) + struct.pack("<I", 0)
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + ifd + bytes(2048))
    return path


def npy_declaring(shape: tuple[int, ...], dtype: str = "<f4") -> bytes:
    """An .npy header declaring `shape` followed by almost no data."""
    header = repr({"descr": dtype, "fortran_order": False, "shape": shape}).encode()
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + bytes(64)


def npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def npz_members(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def deep_json(depth: int, leaf: object = 1) -> str:
    """A JSON text nested `depth` lists deep (past Python's recursion limit when large)."""
    return "[" * depth + json.dumps(leaf) + "]" * depth


def tree(folder: Path) -> set[str]:
    """Every path under `folder` (to prove that nothing was written outside what is allowed)."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}
