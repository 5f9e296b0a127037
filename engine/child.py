"""Child processes that cannot be hijacked by the user's working folder.

`python -m engine.h5probe` started from the user's folder put that folder first on sys.path, so a
planted `h5py.py` or `engine/` package there ran during `inspect`. A child is therefore started
with the interpreter's isolation flag (-I: no working folder, no PYTHON* variables, no user
site), in an empty temporary working folder, and imports the app from the one directory that
holds this `engine` package, named explicitly, so a worktree, a venv and an installed copy all
work. A frozen bundle has no interpreter flags: it re-enters its own entry point with
`--glassbox-child` (see main.py).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

APP_ROOT = Path(__file__).resolve().parents[1]  # the directory that holds the `engine` package
CHILD_FLAG = "--glassbox-child"
_BOOT = (
    "import sys; root = sys.argv.pop(1); sys.path.insert(0, root); "
    "from engine.child import run_child; sys.exit(run_child(sys.argv[1:]))"
)
ALLOWED_MODULES = ("engine.h5probe", "engine.worker_process")


def command(module: str, args: Sequence[str]) -> list[str]:
    """The argv that runs `module.main(args)` in an isolated interpreter."""
    if module not in ALLOWED_MODULES:
        raise ValueError(f"not a child module: {module}")
    if getattr(sys, "frozen", False):
        return [sys.executable, CHILD_FLAG, module, *args]
    return [sys.executable, "-I", "-c", _BOOT, str(APP_ROOT), module, *args]


def run(module: str, args: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run an isolated child in an empty working folder; raises subprocess.TimeoutExpired."""
    with tempfile.TemporaryDirectory(prefix="glassbox-child-") as cwd:
        return subprocess.run(
            command(module, [os.path.abspath(a) if os.path.exists(a) else a for a in args]),
            capture_output=True, text=True, timeout=timeout, cwd=cwd, check=False,
            stdin=subprocess.DEVNULL,
        )


def run_child(argv: Sequence[str]) -> int:
    """Inside the child: `MODULE ARGS...` -> MODULE.main(ARGS)."""
    module, *args = argv
    if module not in ALLOWED_MODULES:
        print(f"not a child module: {module}")
        return 2
    return int(importlib.import_module(module).main(list(args)))
