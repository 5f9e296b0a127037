"""A process that imports TensorFlow and the other heavy libraries once, then forks one child per
pytest run: a mutant costs its tests, not another 10-30 s of imports on a loaded machine.

Protocol: one JSON line in on stdin, {"args": [...], "timeout": s, "log": path}; one JSON line out,
{"status": "passed" | "failed" | "timeout" | "no tests", "seconds": s}. Nothing from engine/ or
tests/ is imported here, so each child imports the mutated tree afresh. No TensorFlow op runs in
this process: its thread pools start in the child, after the fork, which is what makes forking
safe.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

HEAVY = ("numpy", "scipy", "tensorflow", "keras", "sklearn", "sklearn.linear_model", "skimage",
         "skimage.segmentation", "skimage.transform", "h5py", "PIL.Image", "pytest")


def _child(args: list[str], log: str) -> None:
    os.setsid()
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    import pytest

    code = 1
    try:
        code = int(pytest.main(args))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, timeout: float) -> tuple[str, float]:
    start = time.monotonic()
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            return {0: "passed", 5: "no tests"}.get(code, "failed"), time.monotonic() - start
        if time.monotonic() - start > timeout:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout", time.monotonic() - start
        time.sleep(0.05)


def main() -> None:
    import importlib

    sys.path[0] = os.getcwd()  # the copied tree, not this file's folder

    for name in HEAVY:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    running: list[int] = []

    def stop(*_: object) -> None:  # take the running child (its own process group) down too
        for pid in running:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        os._exit(143)

    signal.signal(signal.SIGTERM, stop)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _child(request["args"], request["log"])
        running[:] = [pid]
        status, seconds = _wait(pid, request["timeout"])
        print(json.dumps({"status": status, "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
