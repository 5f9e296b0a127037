"""Work around PySide6 6.12.0's reference leak in ``SignalInstance.emit`` on Python 3.11.

``emit()`` returns ``Py_True`` without taking a reference, so every emission lowers the reference
count of ``True``. On Python 3.12+ ``True`` is immortal and nothing happens; on 3.11 the count
reaches zero after a few thousand emissions and the interpreter aborts with "Fatal Python error:
bool_dealloc" (seen at the end of the GUI test run; it would end a long GUI session too).

Wrapping ``emit`` is not an option: PySide6 recognises ``other_signal.emit`` passed to
``connect`` (signal-to-signal connections, used by superqt) only when it is the original method.
So, if the leak is there, `install()` gives ``True`` a reference cushion no session can use up,
which is what Python 3.12 does for every bool. Importing this module installs it;
`gui.engine_thread` imports it, so every GUI process and GUI test has it before its first signal.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

CUSHION = 1 << 48  # references; one per emission, so never used up


class _Probe(QObject):
    fired = Signal(int)


def emit_leaks_a_reference() -> bool:
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.fired.emit(0)
    return sys.getrefcount(True) < before


def install() -> bool:
    """Add the cushion if this PySide6 leaks (CPython < 3.12 only); returns whether it did."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if not emit_leaks_a_reference():
        return False
    refcount = ctypes.c_ssize_t.from_address(id(True))  # ob_refcnt is PyObject's first field
    refcount.value += CUSHION
    return True


install()
