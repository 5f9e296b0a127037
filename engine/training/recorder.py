"""`TrainingRecorder`: a Keras callback that records how the model learned each training case.

    from engine.training import TrainingRecorder
    model.fit(x, y, epochs=20, callbacks=[TrainingRecorder(x, y, "runs/digits", checkpoint_every=2)])

After every epoch it predicts all of `x` in inference mode (batched, one compiled function that
also returns the last layer's input) and writes one 16-byte record per case (see run.RECORD) and
the epoch's scalars (Keras logs plus the learning rate). Every `checkpoint_every` epochs (and at
the last one) it saves the weights and the last layer's input h and probabilities of every case:
TracIn (influence.py) needs exactly those for training cases, so influence never needs `x` again.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from pathlib import Path
from typing import Any

import keras
import numpy as np

from engine.errors import BadInputError, NotSupportedError
from engine.fileio import atomic_write_json
from engine.models import output_activation
from engine.predictions import to_probabilities
from engine.training.run import FORMAT, MANIFEST, RECORD, VERSION, write_array, write_npz

EPS = 1e-7


def dataset_sha256(x: np.ndarray, y: np.ndarray) -> str:
    """The hash the manifest carries: shape, dtype and bytes of the cases and of their labels."""
    digest = hashlib.sha256()
    for array in (np.ascontiguousarray(x), np.ascontiguousarray(y)):
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def last_dense(model: keras.Model) -> keras.layers.Layer:
    """The layer whose gradients TracIn uses: the last Dense (before a trailing activation layer)."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    for layer in reversed(layers[-2:]):
        if isinstance(layer, keras.layers.Dense):
            return layer
        if not isinstance(layer, (keras.layers.Activation, keras.layers.Softmax)):
            break
    raise NotSupportedError("Training records need a model that ends in a Dense layer (optionally + softmax).")


def feature_function(model: keras.Model) -> Any:
    """A compiled function x -> (last layer's input, model output), in inference mode."""
    import tensorflow as tf

    both = keras.Model(model.inputs, [last_dense(model).input, model.outputs[0]])
    return tf.function(lambda x: both(x, training=False), reduce_retracing=True)


def predict_features(function: Any, x: np.ndarray, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(h, raw outputs) for all of `x`, batch by batch."""
    hs, outs = [], []
    for start in range(0, len(x), batch_size):
        h, out = function(x[start : start + batch_size])
        hs.append(np.asarray(h).reshape(len(h), -1))
        outs.append(np.asarray(out))
    return np.concatenate(hs), np.concatenate(outs)


def records_from(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """One RECORD per case: cross-entropy of the label, its probability, the largest other one."""
    rows = np.arange(len(labels))
    p_label = probabilities[rows, labels]
    others = probabilities.copy()
    others[rows, labels] = -np.inf
    out = np.empty(len(labels), RECORD)
    out["loss"] = -np.log(np.clip(p_label, EPS, 1.0))
    out["p_label"] = p_label
    out["p_other"] = others.max(axis=1)
    out["predicted"] = probabilities.argmax(axis=1)
    return out


class TrainingRecorder(keras.callbacks.Callback):
    """Record every case at every epoch, and checkpoints for influence; see the module docstring.

    `case_index` (optional) says where each case of `x` sits in the dataset file the user opens
    in Glassbox (so a click on the data map opens it); the default is 0..N-1.
    """

    def __init__(
        self,
        x: np.ndarray,
        y: np.ndarray,
        run_dir: str | os.PathLike[str],
        checkpoint_every: int = 1,
        batch_size: int = 512,
        case_index: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        labels = np.asarray(y).reshape(len(y), -1)
        if labels.shape[1] > 1:  # one-hot
            labels = labels.argmax(axis=1)
        self.labels = labels.reshape(-1).astype(np.int64)
        if len(x) != len(self.labels) or not len(x):
            raise BadInputError(f"x has {len(x)} cases and y {len(self.labels)}; they must match and not be empty.")
        if checkpoint_every < 1:
            raise BadInputError("checkpoint_every must be at least 1.")
        self.x = x
        self.run_dir = Path(run_dir)
        self.checkpoint_every = int(checkpoint_every)
        self.batch_size = int(batch_size)
        self.case_index = np.arange(len(x)) if case_index is None else np.asarray(case_index, dtype=np.int64)
        if self.case_index.shape != self.labels.shape:
            raise BadInputError("case_index must give one dataset index per training case.")
        self.manifest: dict[str, Any] = {}
        self._function: Any = None
        self._activation: str | None = None

    # ----- Keras hooks -----------------------------------------------------------------------
    def on_train_begin(self, logs: dict | None = None) -> None:
        if (self.run_dir / MANIFEST).exists():
            raise BadInputError(f"{self.run_dir} already holds a run; record into a new folder.")
        self._function = feature_function(self.model)
        self._activation = output_activation(self.model)
        write_array(self.run_dir / "labels.npy", self.labels)
        write_array(self.run_dir / "case_index.npy", self.case_index)
        self.manifest = {
            "format": FORMAT,
            "version": VERSION,
            "n_cases": len(self.labels),
            "n_classes": int(self.model.outputs[0].shape[-1]),
            "dataset_sha256": dataset_sha256(self.x, self.labels),
            "model_name": self.model.name,
            "last_layer": last_dense(self.model).name,
            "labels": "labels.npy",
            "case_index": "case_index.npy",
            "checkpoint_every": self.checkpoint_every,
            "loss": "cross-entropy of the label, from the model's probabilities in inference mode",
            "created": _now(),
            "complete": False,
            "epochs": [],
            "checkpoints": [],
        }
        self._save_manifest()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        number = epoch + 1
        h, outputs = predict_features(self._function, self.x, self.batch_size)
        probabilities = to_probabilities(outputs, self._activation)
        name = f"epochs/{number:04d}.npy"
        write_array(self.run_dir / name, records_from(probabilities, self.labels))
        scalars = {k: float(v) for k, v in (logs or {}).items() if np.ndim(v) == 0}
        scalars["learning_rate"] = self._learning_rate()
        self.manifest["epochs"].append({"epoch": number, "file": name, "scalars": scalars})
        last = self.params.get("epochs") == number
        if number % self.checkpoint_every == 0 or last:
            self._checkpoint(number, h, probabilities, scalars["learning_rate"])
        self._save_manifest()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.manifest["complete"] = True
        self._save_manifest()

    # ----- writing -----------------------------------------------------------------------------
    def _checkpoint(self, number: int, h: np.ndarray, probabilities: np.ndarray, learning_rate: float) -> None:
        stem = f"checkpoints/{number:04d}"
        # Layer weights only: Keras' save_weights would add the optimizer's slots (3x the size).
        write_npz(self.run_dir / f"{stem}.weights.npz", compress=False,
                  **{f"w{i}": w for i, w in enumerate(self.model.get_weights())})
        write_npz(self.run_dir / f"{stem}.features.npz", compress=False, h=h.astype(np.float16),
                  probabilities=probabilities.astype(np.float16))
        self.manifest["checkpoints"].append(
            {"epoch": number, "learning_rate": learning_rate, "weights": f"{stem}.weights.npz", "features": f"{stem}.features.npz"}
        )

    def _learning_rate(self) -> float:
        try:
            return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        except (AttributeError, TypeError, ValueError):
            return float("nan")

    def _save_manifest(self) -> None:
        self.manifest["updated"] = _now()
        atomic_write_json(self.run_dir / MANIFEST, self.manifest)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
