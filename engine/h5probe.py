"""Read every attribute and dataset of an HDF5 file, in a child process that can be killed.

The HDF5 C library can loop forever (or crash) on a damaged file: a zeroed block in a legacy
.h5 model hangs in `attrs[...]`, holding the GIL, where no timeout can interrupt it. So before
Keras opens untrusted HDF5 bytes in the app's own process, this module reads all of them in a
throw-away child (only h5py imported, ~0.2 s). If the child finishes, the same bytes are safe
to read in-process; if it hangs or dies, the file is damaged.

    python -m engine.h5probe FILE [MEMBER]   # MEMBER: an .h5 file inside a zip (.keras)
prints nothing and exits 0 if readable; prints one line and exits 3 if not, 4 if its datasets
declare more bytes than the file stores or the memory budget allows (checked before reading).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile

from engine import child, limits
from engine.errors import BadInputError

UNREADABLE = 3
TOO_LARGE = 4


def declared_bytes(source: str | io.BytesIO) -> int:
    """What reading every dataset would allocate, from the metadata alone (no values read)."""
    import h5py

    total = 0

    def visit(_name: str, item: object) -> None:
        nonlocal total
        if isinstance(item, h5py.Dataset):
            total += int(item.size or 0) * item.dtype.itemsize

    with h5py.File(source, "r") as handle:
        handle.visititems(visit)
    return total


def read_everything(source: str | io.BytesIO) -> None:
    """Touch every attribute and every dataset's values (what Keras may read later)."""
    import h5py

    def visit(_name: str, item: object) -> None:
        for _key, _value in item.attrs.items():  # type: ignore[attr-defined]
            pass
        if isinstance(item, h5py.Dataset):
            item[()]

    with h5py.File(source, "r") as handle:
        for _key, _value in handle.attrs.items():
            pass
        handle.visititems(visit)


def probe(path: str | os.PathLike[str], member: str | None = None, timeout: float = 20.0) -> str | None:
    """None if the HDF5 bytes read cleanly in a child process, else a short reason.

    BadInputError if the datasets declare more than the file stores or the budget allows.
    """
    args = [os.fspath(path)] + ([member] if member else [])
    try:
        done = child.run("engine.h5probe", args, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"reading it did not finish within {timeout:.0f} s"
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        return f"reading it crashed the HDF5 library (signal {-done.returncode})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    reason = lines[-1] if lines else f"the HDF5 reader failed (exit {done.returncode})"
    if done.returncode == TOO_LARGE:
        raise BadInputError(reason)
    return reason


def main(argv: list[str]) -> int:
    path, member = argv[0], (argv[1] if len(argv) > 1 else None)
    try:
        if member is None:
            source: str | io.BytesIO = path
            stored = os.path.getsize(path)
        else:
            with zipfile.ZipFile(path) as archive:  # the caller checked the zip's sizes
                source = io.BytesIO(archive.read(member))
            stored = len(source.getvalue())
        try:
            limits.check_declared(member or path, declared_bytes(source), stored)
        except BadInputError as exc:
            print(str(exc))
            return TOO_LARGE
        read_everything(source)
    except Exception as exc:  # noqa: BLE001 (any failure means: damaged)
        print(" ".join(f"{type(exc).__name__}: {exc}".split())[:200])
        return UNREADABLE
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
