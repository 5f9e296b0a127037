"""Work around PySide6 6.12.0's reference leak in ``SignalInstance.emit`` on Python 3.11.

``emit()`` returns ``Py_True`` without taking a reference, so every emission lowers the reference
count of ``True``. On Python 3.12+ ``True`` is immortal and nothing happens; on 3.11 the count
reaches zero after a few thousand emissions and the interpreter aborts with "Fatal Python error:
bool_dealloc" (seen at the end of the GUI test run, and it would end a long GUI session).

`install()` checks for the leak once and, only if it is there, wraps ``emit`` to hand back the
missing reference. Importing this module installs the fix; `gui.engine_thread` imports it, so
every GUI process (and every GUI test) has it before its first signal.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal, SignalInstance


class _Probe(QObject):
    fired = Signal(int)


def emit_leaks_a_reference() -> bool:
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.fired.emit(0)
    return sys.getrefcount(True) < before


def install() -> bool:
    """Patch ``SignalInstance.emit`` if it leaks; returns whether it patched."""
    if getattr(SignalInstance.emit, "_glassbox_fixed", False) or not emit_leaks_a_reference():
        return False
    original = SignalInstance.emit

    def emit(self: SignalInstance, *args: Any) -> Any:
        result = original(self, *args)
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(result))  # the reference emit() forgot
        return result

    emit._glassbox_fixed = True  # type: ignore[attr-defined]
    SignalInstance.emit = emit  # type: ignore[method-assign]
    return True


install()
