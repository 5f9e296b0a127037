"""Read every attribute and dataset of an HDF5 file, in a child process that can be killed.

The HDF5 C library can loop forever (or crash) on a damaged file: a zeroed block in a legacy
.h5 model hangs in `attrs[...]`, holding the GIL, where no timeout can interrupt it. So before
Keras opens untrusted HDF5 bytes in the app's own process, this module reads all of them in a
throw-away child (only h5py imported, ~0.2 s). If the child finishes, the same bytes are safe
to read in-process; if it hangs or dies, the file is damaged.

    python -m engine.h5probe FILE [MEMBER]   # MEMBER: an .h5 file inside a zip (.keras)
prints nothing and exits 0 if readable; prints one line and exits 3 if not.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

UNREADABLE = 3
ROOT = Path(__file__).resolve().parents[1]


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
    """None if the HDF5 bytes read cleanly in a child process, else a short reason."""
    command = [sys.executable, "-m", "engine.h5probe", os.fspath(path)] + ([member] if member else [])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except subprocess.TimeoutExpired:
        return f"reading it did not finish within {timeout:.0f} s"
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        return f"reading it crashed the HDF5 library (signal {-done.returncode})"
    lines = (done.stdout or done.stderr).strip().splitlines()
    return lines[-1] if lines else f"the HDF5 reader failed (exit {done.returncode})"


def main(argv: list[str]) -> int:
    path, member = argv[0], (argv[1] if len(argv) > 1 else None)
    try:
        if member is None:
            read_everything(path)
        else:
            with zipfile.ZipFile(path) as archive:
                read_everything(io.BytesIO(archive.read(member)))
    except Exception as exc:  # noqa: BLE001 (any failure means: damaged)
        print(" ".join(f"{type(exc).__name__}: {exc}".split())[:200])
        return UNREADABLE
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
