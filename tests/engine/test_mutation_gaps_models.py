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
