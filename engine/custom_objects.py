"""The user's own custom-object module (a Python file): code, so it runs only when trusted.

A model with custom layers or activations needs their classes registered with Keras. The user
names the Python file that defines them (`--custom-objects FILE --trust` on the CLI, File ▸ Load
custom objects… in the GUI); its bytes are read once, hashed, and only the bytes whose SHA-256
the user trusted are executed (a file swapped after the confirmation is refused). Everything
the module defines or registers is then offered to Keras when a model is loaded.
"""

from __future__ import annotations

import hashlib
import os
import sys
import types
from pathlib import Path
from typing import Any

from engine import limits
from engine.errors import BadInputError, UnsafeModelError
from engine.jobs import JobContext

MAX_BYTES = 4 << 20
LOADED: dict[str, Any] = {}  # name -> class or function, for keras' custom_objects


def load(path: str | os.PathLike[str], trust: bool | str) -> list[str]:
    """Run the module and collect what it defines; returns the names Keras will know it by.

    `trust`: True (the CLI's --trust) or the SHA-256 the user confirmed; False is refused.
    """
    if not trust:
        raise UnsafeModelError(
            f"{os.fspath(path)}: a custom-object module is Python code; load it only if you trust it (--trust)"
        )
    data = limits.read_regular(path, MAX_BYTES)
    sha = hashlib.sha256(data).hexdigest()
    if isinstance(trust, str) and trust != sha:
        raise BadInputError(
            f"{os.fspath(path)}: its content changed since it was trusted (trusted SHA-256 {trust[:12]}…, "
            f"now {sha[:12]}…); it was not loaded"
        )
    import keras

    name = f"glassbox_custom_{Path(path).stem}_{sha[:12]}"
    module = types.ModuleType(name)
    module.__file__ = os.fspath(path)
    sys.modules[name] = module
    try:
        exec(compile(data, os.fspath(path), "exec"), module.__dict__)  # noqa: S102 - trusted by the user
    except Exception as exc:  # the user's code: report it in one line
        del sys.modules[name]
        raise BadInputError(f"{os.fspath(path)}: the module failed ({type(exc).__name__}: {exc})") from None
    names = []
    for attribute, value in vars(module).items():
        if attribute.startswith("_") or getattr(value, "__module__", None) != name or not callable(value):
            continue
        registered = keras.saving.get_registered_name(value)
        LOADED[registered] = LOADED[attribute] = value
        names.append(registered)
    return sorted(set(names))


def load_custom_objects_task(ctx: JobContext, path: str, sha256: str) -> tuple[str, ...]:
    """GUI task: run the module whose SHA-256 the user confirmed."""
    ctx.progress(0.0, f"Loading custom objects from {Path(path).name}")
    names = load(path, sha256)
    ctx.progress(1.0, f"Loaded {len(names)} custom object(s) from {Path(path).name}")
    return tuple(names)
