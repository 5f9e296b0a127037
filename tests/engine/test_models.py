"""Loading .keras / .h5 / SavedModel safely, and describing every layer (nested ones too).

The small model builders here are shared by the other model tests (corrupt files, CLI, offline).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import keras
import numpy as np
import pytest

from engine.errors import Cancelled, ModelLoadError, NotSupportedError, UnsafeModelError
from engine.graph import layer_paths
from engine.jobs import CancelToken, JobContext
from engine import models
from engine.models import describe, load_model, open_model_task
from engine.provenance import record, sha256_array, sha256_file, sha256_tree
from engine.workspace import Workspace

X = np.random.default_rng(0).random((3, 8, 8, 1), dtype=np.float32)


def small_cnn(activation: str | None = "softmax") -> keras.Model:
    """Conv -> BatchNorm -> pool -> Dense: has non-trainable params and a known output activation."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1), name="pixels")
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    h = keras.layers.BatchNormalization(name="bn")(h)
    h = keras.layers.GlobalAveragePooling2D(name="gap")(h)
    outputs = keras.layers.Dense(3, activation=activation, name="head")(h)
    return keras.Model(inputs, outputs, name="small_cnn")


def nested_model() -> keras.Model:
    """A functional model holding a Sequential and a functional sub-model (two levels deep)."""
    keras.utils.set_random_seed(0)
    features = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c1"), keras.layers.ReLU(name="r1")],
        name="features",
    )
    block_in = keras.Input((8, 8, 1))
    block = keras.Model(block_in, keras.layers.Conv2D(2, 1, name="a")(block_in), name="block")
    mid_in = keras.Input((8, 8, 1))
    mid = keras.Model(mid_in, keras.layers.Flatten(name="flat")(block(mid_in)), name="mid")
    x_in = keras.Input((8, 8, 1), name="x")
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(features(x_in))
    joined = keras.layers.Concatenate(name="join")([pooled, mid(x_in)])
    out = keras.layers.Dense(2, name="logits")(joined)
    return keras.Model(x_in, keras.layers.Activation("sigmoid", name="prob")(out), name="outer")


def lambda_model() -> keras.Model:
    inputs = keras.Input((4,))
    doubled = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="d")(doubled))


def save_in_every_format(model: keras.Model, folder: Path, stem: str) -> dict[str, Path]:
    """The model as .keras, legacy .h5 and a SavedModel folder: the three formats we open."""
    paths = {"keras": folder / f"{stem}.keras", "h5": folder / f"{stem}.h5", "savedmodel": folder / f"{stem}_saved"}
    model.save(paths["keras"])
    model.save(paths["h5"])
    model.export(paths["savedmodel"], verbose=False)
    return paths


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("models")
    paths = save_in_every_format(small_cnn(), folder, "cnn")
    paths["nested"] = folder / "nested.keras"
    nested_model().save(paths["nested"])
    lam = lambda_model()
    paths["lambda_keras"], paths["lambda_h5"] = folder / "lam.keras", folder / "lam.h5"
    lam.save(paths["lambda_keras"])
    lam.save(paths["lambda_h5"])
    return paths


def test_keras_file_description_matches_the_model(files: dict[str, Path]) -> None:
    model, desc = load_model(files["keras"])
    assert desc.format == "keras"
    assert desc.sha256 == hashlib.sha256(files["keras"].read_bytes()).hexdigest()
    assert [(s.name, s.shape, s.dtype) for s in desc.inputs] == [("pixels", (None, 8, 8, 1), "float32")]
    assert [(s.name, s.shape) for s in desc.outputs] == [("head", (None, 3))]
    assert desc.total_params == model.count_params() == 40 + 16 + 15
    assert desc.non_trainable_params == 8  # bn moving mean + variance
    assert desc.output_activation == "softmax"
    assert [layer.path for layer in desc.all_layers()] == layer_paths(model)
    conv = desc.layer("conv")
    assert (conv.class_name, conv.output_shape, conv.params, conv.activation) == ("Conv2D", (None, 6, 6, 4), 40, "relu")
    assert conv.inbound == ("pixels",)
    assert [(w.name, w.shape) for w in conv.weights] == [("conv/kernel", (3, 3, 1, 4)), ("conv/bias", (4,))]
    assert conv.config["filters"] == 4 and conv.config["kernel_size"] == [3, 3]
    bn = desc.layer("bn")
    assert (bn.params, bn.trainable_params, bn.non_trainable_params) == (16, 8, 8)
    assert desc.layer("gap").activation is None


def test_to_dict_is_json_and_round_trips(files: dict[str, Path]) -> None:
    _, desc = load_model(files["nested"])
    data = json.loads(json.dumps(desc.to_dict()))
    assert data["format"] == "keras" and data["n_layers"] == desc.n_layers == 11
    mid = next(layer for layer in data["layers"] if layer["name"] == "mid")
    assert [c["path"] for c in mid["children"]] == ["mid/block", "mid/flat"]
    assert mid["children"][0]["children"][0]["weights"][0]["shape"] == [1, 1, 1, 2]


def test_nested_tree_paths_params_inbound_and_activation(files: dict[str, Path]) -> None:
    model, desc = load_model(files["nested"])
    assert [layer.path for layer in desc.all_layers()] == layer_paths(model) == [
        "features", "features/c1", "features/r1", "gap", "mid", "mid/block", "mid/block/a",
        "mid/flat", "join", "logits", "prob",
    ]
    assert desc.n_layers == 11
    mid = desc.layer("mid")
    assert mid.class_name == "Functional" and mid.params == 4 == sum(c.params for c in mid.walk()[1:] if not c.children)
    assert desc.layer("mid/block/a").output_shape == (None, 8, 8, 2)
    assert desc.layer("join").inbound == ("gap", "mid")
    assert desc.layer("features/c1").inbound == ()  # first layer of a Sequential
    assert desc.layer("features/r1").inbound == ("features/c1",)  # a path: the browser links it
    assert desc.layer("mid/flat").inbound == ("mid/block",)
    assert desc.layer("gap").inbound == ("features",)
    assert desc.layer("features/r1").activation == "relu"
    assert desc.output_activation == "sigmoid"  # from a trailing Activation layer


def test_h5_loads_the_same_weights(files: dict[str, Path]) -> None:
    model, desc = load_model(files["h5"])
    reference = small_cnn()
    assert desc.format == "h5" and desc.total_params == 71
    np.testing.assert_allclose(model.predict(X, verbose=0), reference.predict(X, verbose=0), rtol=1e-6)


def test_savedmodel_is_wrapped_and_predicts_like_the_original(files: dict[str, Path]) -> None:
    model, desc = load_model(files["savedmodel"])
    assert desc.format == "savedmodel"
    assert desc.sha256 == sha256_tree(files["savedmodel"])
    assert [layer.class_name for layer in desc.layers] == ["TFSMLayer", "Identity"]
    assert desc.total_params == 71 and desc.inputs[0].shape == (None, 8, 8, 1)
    assert (desc.outputs[0].name, desc.outputs[0].shape) == ("output_0", (None, 3))
    assert "not visible" in desc.notes[0]
    np.testing.assert_allclose(model.predict(X, verbose=0), small_cnn().predict(X, verbose=0), rtol=1e-5)


def test_savedmodel_signatures_outputs_named_and_unsupported_ones_refused(tmp_path: Path) -> None:
    import tensorflow as tf

    class Module(tf.Module):
        def __init__(self) -> None:
            self.scale = tf.Variable(2.0)

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
        def two_outputs(self, x):  # noqa: ANN001, ANN201
            return {"logits": x * self.scale, "features": x}

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)] * 2)
        def two_inputs(self, a, b):  # noqa: ANN001, ANN201
            return {"y": a + b}

    module = Module()
    tf.saved_model.save(module, tmp_path / "outputs", signatures={"serving_default": module.two_outputs})
    model, desc = load_model(tmp_path / "outputs")
    assert [s.name for s in desc.outputs] == ["features", "logits"] and desc.total_params == 1
    features, logits = model.predict(np.ones((2, 3), np.float32), verbose=0)
    np.testing.assert_allclose(logits, 2.0 * features)
    tf.saved_model.save(module, tmp_path / "inputs", signatures={"serving_default": module.two_inputs})
    with pytest.raises(NotSupportedError, match="one input"):
        load_model(tmp_path / "inputs")
    tf.saved_model.save(module, tmp_path / "unsigned", signatures={})
    with pytest.raises(ModelLoadError, match="unsigned: the SavedModel has no 'serving_default' or 'serve'"):
        load_model(tmp_path / "unsigned")


def test_savedmodel_hash_covers_every_file(files: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(files["savedmodel"], copy)
    assert sha256_tree(copy) == sha256_tree(files["savedmodel"])
    (copy / "fingerprint.pb").write_bytes(b"changed")
    assert sha256_tree(copy) != sha256_tree(files["savedmodel"])


@pytest.mark.parametrize("key", ["lambda_keras", "lambda_h5"])
def test_lambda_layer_is_refused_unless_trusted(files: dict[str, Path], key: str) -> None:
    with pytest.raises(UnsafeModelError) as info:
        load_model(files[key])
    message = str(info.value)
    assert files[key].name in message and "Lambda layer ('double')" in message and "--trust" in message
    assert "\n" not in message
    model, desc = load_model(files[key], trust=True)
    assert desc.layer("double").class_name == "Lambda"
    x = np.ones((1, 4), np.float32)
    expected = 2.0 * x @ model.get_layer("d").kernel.numpy() + model.get_layer("d").bias.numpy()
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6)


@pytest.mark.parametrize("key", ["lambda_keras", "lambda_h5"])
def test_keras_safe_mode_is_the_second_line_of_defence(
    files: dict[str, Path], key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even if our own config scan missed the Lambda, Keras' safe_mode refusal becomes UnsafeModelError."""
    monkeypatch.setattr(models, "unsafe_reasons", lambda config: [])
    with pytest.raises(UnsafeModelError, match=r"needs unsafe deserialisation \([^;]*Lambda[^;]*\); .*--trust"):
        load_model(files[key])  # Keras' first sentence is quoted: it names the Lambda layer


def test_unregistered_custom_layer_is_named(tmp_path: Path) -> None:
    @keras.saving.register_keras_serializable(package="glassbox_test")
    class AddOne(keras.layers.Layer):
        def call(self, x):  # noqa: ANN001, ANN201
            return x + 1.0

    inputs = keras.Input((3,))
    path = tmp_path / "custom.keras"
    keras.Model(inputs, AddOne(name="plus")(inputs)).save(path)
    _, desc = load_model(path)  # registered: builds
    assert desc.layer("plus").class_name == "AddOne"
    del keras.saving.get_custom_objects()["glassbox_test>AddOne"]
    with pytest.raises(ModelLoadError) as info:
        load_model(path)
    assert "'AddOne'" in str(info.value) and "custom.keras" in str(info.value)
    assert not isinstance(info.value, UnsafeModelError)


def test_logits_and_sigmoid_outputs(tmp_path: Path) -> None:
    assert describe(small_cnn(activation=None)).output_activation is None
    assert describe(small_cnn(activation="sigmoid")).output_activation == "sigmoid"


def test_frozen_layer_counts_as_non_trainable() -> None:
    model = small_cnn()
    model.get_layer("conv").trainable = False
    desc = describe(model)
    assert desc.layer("conv").trainable is False and desc.layer("conv").trainable_params == 0
    assert desc.non_trainable_params == 40 + 8


def test_open_model_task_replaces_the_model_only_on_success(files: dict[str, Path], tmp_path: Path) -> None:
    workspace = Workspace()
    steps: list[float] = []
    ctx = JobContext(workspace, progress=lambda f, _msg: steps.append(f))
    desc = open_model_task(ctx, str(files["keras"]))
    assert workspace.description is desc and workspace.model.name == "small_cnn"
    assert steps[-1] == 1.0 and steps == sorted(steps)
    workspace.cache["activations"] = "kept until the model changes"
    (tmp_path / "broken.keras").write_bytes(b"not a zip")
    with pytest.raises(ModelLoadError):
        open_model_task(JobContext(workspace), str(tmp_path / "broken.keras"))
    assert workspace.description is desc and workspace.cache  # previous model untouched
    with pytest.raises(UnsafeModelError):
        open_model_task(JobContext(workspace), str(files["lambda_keras"]))
    assert workspace.description is desc
    token = CancelToken()
    cancelling = JobContext(workspace, progress=lambda f, _m: token.cancel() if f >= 0.3 else None, cancel=token)
    with pytest.raises(Cancelled):
        open_model_task(cancelling, str(files["h5"]))
    assert workspace.description is desc


def test_provenance_hashes_and_record(files: dict[str, Path]) -> None:
    assert sha256_file(files["keras"]) == hashlib.sha256(files["keras"].read_bytes()).hexdigest()
    x = np.arange(16, dtype=np.float32)
    assert sha256_array(x) == sha256_array(x.copy())
    assert sha256_array(x) != sha256_array(x.reshape(4, 4))  # same bytes, other shape
    assert sha256_array(x) != sha256_array(x.view(np.int32))  # same bytes, other dtype
    assert sha256_array(x.reshape(4, 4).T) == sha256_array(np.ascontiguousarray(x.reshape(4, 4).T))
    rec = record("abc", x, "saliency", {"steps": np.int64(8), "size": (2, 2)}, seed=3)
    assert json.loads(json.dumps(rec))["params"] == {"steps": 8, "size": [2, 2]}
    assert rec["input_sha256"] == sha256_array(x) and rec["seed"] == 3
    assert {"keras", "tensorflow", "numpy", "python"} <= set(rec["versions"])


def test_shared_layer_and_several_inputs_and_outputs() -> None:
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    shared = keras.layers.Dense(3, name="shared")
    summed = keras.layers.Add(name="add")([shared(a), shared(b)])
    model = keras.Model([a, b], [keras.layers.Dense(2, activation="softmax", name="o1")(summed),
                                 keras.layers.Dense(1, name="o2")(shared(a))])
    desc = describe(model)
    assert [s.name for s in desc.inputs] == ["a", "b"] and [s.name for s in desc.outputs] == ["o1", "o2"]
    assert desc.layer("shared").inbound == ("a", "b") and desc.layer("shared").output_shape == (None, 3)
    assert desc.layer("add").inbound == ("shared",)
    assert desc.total_params == model.count_params() == 15 + 8 + 4  # the shared kernel counts once
    assert desc.output_activation == "softmax"


def test_subclassed_model_is_described_with_a_note(tmp_path: Path) -> None:
    @keras.saving.register_keras_serializable(package="glassbox_test")
    class TwoDense(keras.Model):
        def __init__(self, **kwargs):  # noqa: ANN003, ANN204
            super().__init__(**kwargs)
            self.hidden = keras.layers.Dense(4, name="hidden")
            self.head = keras.layers.Dense(2, activation="sigmoid", name="head")

        def call(self, x):  # noqa: ANN001, ANN201
            return self.head(self.hidden(x))

    model = TwoDense(name="two")
    model(np.zeros((1, 3), np.float32))
    model.save(tmp_path / "sub.keras")
    _, desc = load_model(tmp_path / "sub.keras")
    assert [layer.path for layer in desc.layers] == ["hidden", "head"]
    assert desc.inputs[0].shape == (None, 3) and desc.outputs == ()
    assert desc.layer("hidden").output_shape == "?" and desc.total_params == 16 + 10
    assert desc.output_activation == "sigmoid" and "Subclassed" in desc.notes[0]
