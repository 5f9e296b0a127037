"""Run GIL-holding numeric work (t-SNE and UMAP fits) in a child process, with progress and cancel.

Why a process: openTSNE's and numba's compiled loops, and umap-learn's first-call compilation,
hold the GIL for hundreds of milliseconds at a time, so on the engine thread they freeze the
window however the work is chunked. A child has its own GIL. It is started the way every child
is (engine.child: isolated interpreter, empty working folder; a frozen bundle re-enters main.py
with --glassbox-child), gets one pickled call on stdin and answers with pickled messages on its
own copy of stdout (library prints go to stderr): progress, partial results, then the result
or the exception. Cancel kills it at once; a child that dies or is killed before answering is a
WorkerError naming its exit code and its last line on stderr. Only the functions listed in
FUNCTIONS may be called, and they never need TensorFlow (the child does not import it).
"""

from __future__ import annotations

import importlib
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO

from engine import child
from engine.errors import GlassboxError

FUNCTIONS = ("engine.embedding:fit_projection",)  # module:function, each taking progress= and partial=
MODULE = "engine.worker_process"
POLL_S = 0.05  # how often the waiting engine thread checks cancel (and gives way to interactive jobs)
_DONE = object()


class WorkerError(GlassboxError):
    """The worker process stopped before it answered (killed, crashed, out of memory)."""

    kind = "worker"


def run(
    function: str,
    kwargs: dict[str, Any],
    progress: Callable[[float, str], None] | None = None,
    check: Callable[[], None] | None = None,
    partial: Callable[[Any], None] | None = None,
    title: str = "the computation",
) -> Any:
    """`function(**kwargs, progress=..., partial=...)` in a child process; its result or its exception.

    `check` is called every POLL_S while waiting; whatever it raises (Cancelled) kills the child
    and propagates.
    """
    if function not in FUNCTIONS:
        raise ValueError(f"not a worker function: {function}")
    with tempfile.TemporaryDirectory(prefix="glassbox-worker-") as cwd:
        process = subprocess.Popen(
            child.command(MODULE, []), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=cwd,
        )
        messages: queue.Queue[Any] = queue.Queue()
        readers = [
            threading.Thread(target=_read_messages, args=(process.stdout, messages), daemon=True),
            threading.Thread(target=_read_tail, args=(process.stderr, tail := []), daemon=True),
        ]
        for reader in readers:
            reader.start()
        try:
            _send(process, function, kwargs)
            return _wait(process, messages, progress, check, partial, tail, title)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
            for reader in readers:
                reader.join(timeout=5)


def _send(process: subprocess.Popen, function: str, kwargs: dict[str, Any]) -> None:
    assert process.stdin is not None
    try:
        pickle.dump((function, kwargs), process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        process.stdin.close()
    except BrokenPipeError:  # it died at start-up: _wait reports how
        pass


def _wait(
    process: subprocess.Popen, messages: queue.Queue, progress: Callable[[float, str], None] | None,
    check: Callable[[], None] | None, partial: Callable[[Any], None] | None, tail: list[str], title: str,
) -> Any:
    while True:
        if check is not None:
            check()
        try:
            message = messages.get(timeout=POLL_S)
        except queue.Empty:
            continue
        if message is _DONE:
            code = process.wait()
            last = tail[-1] if tail else "no message"
            raise WorkerError(f"The worker process for {title} stopped before it finished (exit code {code}): {last}")
        kind, value = message
        if kind == "progress" and progress is not None:
            progress(*value)
        elif kind == "partial" and partial is not None:
            partial(value)
        elif kind == "result":
            return value
        elif kind == "error":
            raise value


def _read_messages(stream: BinaryIO, messages: queue.Queue) -> None:
    """Reader thread: one unpickled message after another until the child's stdout closes."""
    try:
        while True:
            messages.put(pickle.load(stream))
    except (EOFError, OSError, pickle.UnpicklingError):
        messages.put(_DONE)


def _read_tail(stream: BinaryIO, tail: list[str]) -> None:
    """Reader thread: keep the child's last stderr lines (its error, if it crashed)."""
    for line in stream:
        text = line.decode(errors="replace").strip()
        if text:
            tail[:] = [*tail[-19:], text]


# ----- inside the child ---------------------------------------------------------------------
def main(args: list[str]) -> int:
    """The child: read one call from stdin, answer on a private copy of stdout.

    File descriptors, not sys.stdin/stdout: a windowed frozen bundle has no sys.stdout.
    """
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # prints of libraries (numba, tqdm) go to stderr
    sys.stdout = sys.stderr
    for name in ("tensorflow", "keras"):  # umap-learn's optional parametric part would import them
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]

    def send(kind: str, value: Any) -> None:
        pickle.dump((kind, value), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    with os.fdopen(os.dup(0), "rb") as calls:
        function, kwargs = pickle.load(calls)
    if function not in FUNCTIONS:
        send("error", ValueError(f"not a worker function: {function}"))
        return 2
    module, _, name = function.partition(":")
    try:
        result = getattr(importlib.import_module(module), name)(
            **kwargs, progress=lambda f, m="": send("progress", (f, m)), partial=lambda v: send("partial", v)
        )
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent to be reported
        traceback.print_exc()  # to stderr, for whoever runs it by hand
        send("error", exc if _picklable(exc) else WorkerError(f"{type(exc).__name__} in the worker process: {exc}"))
        return 1
    send("result", result)
    out.close()
    return 0


def _picklable(exc: BaseException) -> bool:
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any failure means "send a plain error instead"
        return False
    return True
