"""Errors a user can read. Anything else that escapes a job is reported as an internal error."""

from __future__ import annotations


class GlassboxError(Exception):
    """A failure with a one-line message meant for the user (not a bug)."""

    kind = "error"


class BadInputError(GlassboxError):
    """The user's file, array or parameter cannot be used as given."""

    kind = "bad_input"


class ModelLoadError(BadInputError):
    """A model file could not be opened; the message names the file and the problem."""

    kind = "model_load"


class UnsafeModelError(ModelLoadError):
    """The file needs unsafe deserialisation; it loads only when the user trusts it."""

    kind = "unsafe_model"


class NotSupportedError(GlassboxError):
    """A valid model or input that this version cannot handle yet (e.g. multi-input models)."""

    kind = "not_supported"


class NumericalError(GlassboxError):
    """NaN or Inf appeared where a finite number was needed."""

    kind = "numerical"


class OutOfMemoryError(GlassboxError):
    """The work did not fit in memory even at the smallest batch size."""

    kind = "out_of_memory"


class Cancelled(GlassboxError):
    """The user (or a newer request for the same view) cancelled the job."""

    kind = "cancelled"


def is_out_of_memory(exc: BaseException) -> bool:
    """The one out-of-memory test: Python's MemoryError, ours, and TensorFlow's
    ResourceExhaustedError (named, so that this module never imports TensorFlow)."""
    if isinstance(exc, (MemoryError, OutOfMemoryError)):
        return True
    return any(cls.__name__ == "ResourceExhaustedError" for cls in type(exc).__mro__)
