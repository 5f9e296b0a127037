"""Gaps the mutation harness found in engine.models' tests: loading is safe unless trust is
given, its progress steps, and an unreadable file's reason."""

from __future__ import annotations

from pathlib import Path

import pytest

keras = pytest.importorskip("keras")

from engine import models  # noqa: E402
from engine.errors import ModelLoadError, UnsafeModelError  # noqa: E402


@pytest.fixture(scope="module")
def lambda_model(tmp_path_factory) -> Path:
    inputs = keras.Input((3,))
    doubled = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    path = tmp_path_factory.mktemp("models") / "lam.keras"
    keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(doubled)).save(path)
    return path


def test_loading_is_safe_unless_trusted_and_reports_its_steps(lambda_model: Path) -> None:
    with pytest.raises(UnsafeModelError, match="Lambda"):
        models.load_model(lambda_model)  # the default: never run code from the file
    steps: list[tuple[float, str]] = []
    model, description = models.load_model(lambda_model, trust=True, progress=lambda f, m: steps.append((f, m)))
    assert steps == [(0.0, "Checking the file"), (0.1, "Hashing the file"), (0.3, "Building the model"),
                     (0.9, "Describing the layers")]
    assert description.sha256 == models._hash(lambda_model) and model.output_shape == (None, 2)


def test_a_file_that_cannot_be_read_while_hashing_names_the_permission(tmp_path: Path, monkeypatch) -> None:
    def refuse(path):  # noqa: ANN001, ANN202 - root reads anything, so the refusal is simulated
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(models, "sha256_path", refuse)
    with pytest.raises(ModelLoadError, match="no permission to read the file$"):
        models._hash(tmp_path / "m.keras")


def _chained(*messages: str) -> Exception:
    """An exception raised from one raised from ..., the last message innermost (as Keras wraps)."""
    error: Exception | None = None
    for text in reversed(messages):
        try:
            raise ValueError(text) from error
        except ValueError as caught:
            error = caught
    assert error is not None
    return error


def test_a_failed_load_quotes_the_innermost_error_or_the_safe_mode_refusal() -> None:
    outer = _chained("could not be deserialized properly", "layer failed", "the real reason")
    assert str(models._explain_load_failure("m.keras", {}, outer)) == (
        "Cannot open m.keras: the file is damaged or not a Keras model (ValueError: the real reason)"
    )
    assert str(models._explain_load_failure("m.keras", {}, ValueError("alone"))).endswith("(ValueError: alone)")
    refusal = _chained("wrapped", "Requested the deserialization of a Lambda layer with safe_mode=True. Details.")
    unsafe = models._explain_load_failure("m.keras", {}, refusal)
    assert isinstance(unsafe, UnsafeModelError) and str(unsafe) == (
        "Cannot open m.keras: needs unsafe deserialisation (Requested the deserialization of a Lambda layer "
        f"with safe_mode=True); {models.TRUST_HINT}"
    )


def test_a_savedmodel_input_keeps_its_signature_name(tmp_path: Path) -> None:
    import tensorflow as tf

    class Module(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="pixels")])
        def serve(self, x):  # noqa: ANN001, ANN201
            return {"y": 2.0 * x}

    module = Module()
    tf.saved_model.save(module, tmp_path / "named", signatures={"serving_default": module.serve})
    _, description = models.load_model(tmp_path / "named")
    assert [spec.name for spec in description.inputs] == ["pixels"]


def test_signature_inputs_keep_their_names_and_number_the_unnamed() -> None:
    """A Keras export's 'serve' endpoint takes positional specs (named after the model's inputs),
    a signature takes keyword ones: both keep their order and names; an unnamed one is numbered."""
    from types import SimpleNamespace

    import tensorflow as tf

    named, unnamed, keyword = (tf.TensorSpec([None, 3], tf.float32, name="pixels"), tf.TensorSpec([None]),
                               tf.TensorSpec([None, 2]))
    fn = SimpleNamespace(structured_input_signature=((named, unnamed), {"mask": keyword}))
    assert models._signature_inputs(fn) == [("pixels", named), ("input_1", unnamed), ("mask", keyword)]
