"""engine.jobs without Qt: progress is clamped and monotonic, cancel is cooperative, and every
exception becomes a JobError of the right kind."""

from __future__ import annotations

import pytest

from engine.errors import (
    BadInputError,
    Cancelled,
    ModelLoadError,
    NumericalError,
    OutOfMemoryError,
    UnsafeModelError,
)
from dataclasses import dataclass

from engine.jobs import CancelToken, Job, JobContext, describe_error, run_job
from engine.tasks import Priority, task
from engine.tasks.registry import resolve


def test_progress_is_clamped_and_never_goes_back() -> None:
    seen: list[tuple[float, str]] = []
    ctx = JobContext(None, lambda f, m: seen.append((f, m)))
    for fraction in (0.2, 0.1, 1.7, -3, 0.5):
        ctx.progress(fraction, "x")
    assert [f for f, _ in seen] == [0.2, 0.2, 1.0, 1.0, 1.0]


def test_cancel_token_is_shared_and_callable() -> None:
    token = CancelToken()
    ctx = JobContext(None, cancel=token)
    ctx.check()  # not cancelled: no error
    assert not token() and not ctx.cancelled()
    token.cancel()
    assert token() and ctx.cancelled() and ctx.cancel is token
    with pytest.raises(Cancelled):
        ctx.check()


def _count_task(ctx: JobContext, n: int) -> int:
    total = 0
    for i in range(n):
        ctx.check()
        ctx.progress((i + 1) / n)
        total += i
    return total


@task(f"{__name__}:_count_task", "builtins:int", Priority.BACKGROUND)
@dataclass(frozen=True)
class Count:
    n: int


@task(f"{__name__}:_cancels_itself", "builtins:str")
@dataclass(frozen=True)
class CancelsItself:
    pass


def test_run_job_passes_fields_and_workspace() -> None:
    seen: list[float] = []
    job = Job(Count(n=4))
    assert run_job(job, workspace=object(), progress=lambda f, m: seen.append(f)) == 6
    assert seen == [0.25, 0.5, 0.75, 1.0]


def test_run_job_cancelled_before_start_never_runs() -> None:
    job = Job(Count(n=4))
    job.token.cancel()
    seen: list[float] = []
    with pytest.raises(Cancelled):
        run_job(job, None, lambda f, m: seen.append(f))
    assert seen == []


def _cancels_itself(ctx: JobContext) -> str:
    ctx.cancel.cancel()  # e.g. replaced while computing, and never checked again
    return "stale result"


def test_result_of_job_cancelled_while_running_is_not_returned() -> None:
    with pytest.raises(Cancelled):
        run_job(Job(CancelsItself()), None)


@pytest.mark.parametrize("bad", ["engine.jobs", "engine.jobs:no_such_function", "no_such_module:f"])
def test_resolve_rejects_bad_names(bad: str) -> None:
    with pytest.raises((ValueError, AttributeError, ImportError)):
        resolve(bad)


def test_a_background_job_gives_way_between_chunks() -> None:
    """ctx.check() calls the engine's give-way hook once per chunk, after the cancel check."""
    calls: list[int] = []
    job = Job(Count(n=3))
    assert run_job(job, None, give_way=lambda: calls.append(1)) == 3
    assert len(calls) == 3 and job.priority == Priority.BACKGROUND


class ResourceExhaustedError(Exception):
    """Same name as TensorFlow's OOM error, which describe_error recognises by name."""


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (BadInputError("x.png: expected 28x28, got 32x32"), "bad_input"),
        (ModelLoadError("m.keras: truncated"), "model_load"),
        (UnsafeModelError("m.keras: Lambda layer"), "unsafe_model"),
        (NumericalError("NaN in logits"), "numerical"),
        (OutOfMemoryError("batch of 1 does not fit"), "out_of_memory"),
        (Cancelled("Cancelled."), "cancelled"),
        (MemoryError("Unable to allocate 3 GiB"), "out_of_memory"),
        (ResourceExhaustedError("OOM when allocating tensor"), "out_of_memory"),
        (ValueError("shapes (2,3) and (4,5) not aligned\nmore"), "internal"),
    ],
)
def test_describe_error_kinds(exc: BaseException, kind: str) -> None:
    error = describe_error(exc)
    assert error.kind == kind
    assert "\n" not in error.message and error.message
    assert bool(error.details) == (kind == "internal")


def test_internal_error_keeps_traceback() -> None:
    try:
        _ = [1][3]
    except IndexError as exc:
        error = describe_error(exc)
    assert error.message == "IndexError: list index out of range"
    assert "Traceback" in error.details and "test_internal_error_keeps_traceback" in error.details


def _per_input_task(ctx: JobContext, answer: object) -> int:
    """A multi-input model's kind of answer: one Result per input, or something wrong."""
    return answer  # type: ignore[return-value]


@task(f"{__name__}:_per_input_task", "builtins:int")
@dataclass(frozen=True)
class PerInput:
    answer: object


def test_a_result_per_input_passes_the_type_check_and_anything_else_does_not() -> None:
    assert run_job(Job(PerInput(answer={"image": 1, "table": 2})), None) == {"image": 1, "table": 2}
    for wrong in ({"image": "one"}, {}, "one"):
        with pytest.raises(TypeError):
            run_job(Job(PerInput(answer=wrong)), None)
