"""The worker process for GIL-holding fits: same numbers as in-process, progress, partial maps,
errors passed back by type, cancel and a killed worker both ending in a clear error."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

from engine import embedding, worker_process
from engine.errors import BadInputError, Cancelled

FIT = "engine.embedding:fit_projection"


def _features(n: int = 60) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = np.repeat(np.eye(3, 8) * 6.0, n // 3, axis=0)
    return (centres + rng.normal(size=(n, 8))).astype(np.float32)


def _children() -> list[int]:
    """PIDs of this process's live worker children (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and b"engine.worker_process" in cmdline:
            if stat.rsplit(")", 1)[1].split()[0] != "Z":
                found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_tsne_in_the_worker_is_the_in_process_map_with_progress_and_forming_maps():
    x = _features()
    reports: list[tuple[float, str]] = []
    forming: list[np.ndarray] = []
    coords = worker_process.run(FIT, {"features": x, "method": "tsne", "params": {"perplexity": 10.0}, "seed": 3},
                                lambda f, m: reports.append((f, m)), None, forming.append)
    assert coords.shape == (60, 2) and coords.dtype == np.float32
    np.testing.assert_allclose(coords, embedding.project(x, "tsne", {"perplexity": 10.0}, 3), rtol=1e-5, atol=1e-5)
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert forming and all(m.shape == (60, 2) for m in forming)


@pytest.mark.slow
def test_umap_hands_on_its_map_while_it_forms():
    x = _features()
    forming: list[np.ndarray] = []
    coords = embedding.project(x, "umap", {"n_neighbors": 10}, 0, partial=forming.append)
    assert forming and all(m.shape == (60, 2) and np.isfinite(m).all() for m in forming)
    assert not np.allclose(forming[0], coords)  # the first one is the starting layout, not the result


def test_an_error_in_the_worker_comes_back_as_the_same_error():
    with pytest.raises(BadInputError, match="at least 3 cases"):
        worker_process.run(FIT, {"features": _features()[:2], "method": "tsne", "params": {}, "seed": 0})


def test_only_listed_functions_run_in_a_worker():
    with pytest.raises(ValueError, match="not a worker function"):
        worker_process.run("os:system", {"command": "true"})


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the child through /proc")
def test_cancel_kills_the_worker_and_a_killed_worker_is_a_clear_error():
    x = np.random.default_rng(1).normal(size=(1500, 20)).astype(np.float32)
    seen: list[float] = []

    def cancel_after_first_report() -> None:
        if seen:
            raise Cancelled("Cancelled.")

    with pytest.raises(Cancelled):
        worker_process.run(FIT, {"features": x, "method": "tsne", "params": {}, "seed": 0},
                           lambda f, _m: seen.append(f), cancel_after_first_report)
    assert seen[-1] < 1.0 and _children() == []  # stopped early, and the process is gone

    def kill_on_first_report(_f: float, _m: str) -> None:
        for pid in _children():
            os.kill(pid, signal.SIGKILL)

    with pytest.raises(worker_process.WorkerError, match=r"t-SNE stopped before it finished \(exit code -9\)"):
        worker_process.run(FIT, {"features": x, "method": "tsne", "params": {}, "seed": 0},
                           kill_on_first_report, title="t-SNE")
