"""The model-kind matrix: every kind of model a user brings, against every engine view.

Each row is a tiny model built here (saved and reopened where the format matters); each cell
runs the engine task the GUI runs (inspect, case view, predict dataset, a gradient method, a
CAM method, a perturbation method, activations, weights) and asserts a number, a known answer
where one exists, or a clear "not supported" message the row expects. An unexpected refusal or
any other exception fails the cell. Set GLASSBOX_MATRIX=path to write the matrix as Markdown.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from engine import explain_service, explainers  # noqa: E402
from engine.activations import activations_task  # noqa: E402
from engine.data import Dataset, fit_to_model  # noqa: E402
from engine.errors import BadInputError, NotSupportedError  # noqa: E402
from engine.jobs import JobContext  # noqa: E402
from engine.models import describe, load_model  # noqa: E402
from engine.predictions import predict_task  # noqa: E402
from engine.preprocessing import Preprocessing  # noqa: E402
from engine.weights import layer_weights_task  # noqa: E402
from engine.workspace import Workspace  # noqa: E402

COLUMNS = ("inspect", "case view", "predict", "gradient", "CAM", "perturbation", "activations", "weights", "embedding")
IMG = (8, 8, 1)
RESULTS: dict[tuple[str, str], str] = {}


@dataclass
class Kind:
    build: Callable[[Path], tuple[Any, Any]]  # tmp folder -> (model, description)
    cases: Callable[[], Any]  # -> Dataset
    heads: tuple[str, ...]  # expected head kinds
    unsupported: dict[str, str] = field(default_factory=dict)  # column -> words the refusal must contain
    slow: bool = False


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def images(n: int = 3, shape: tuple[int, ...] = IMG) -> Dataset:
    return Dataset.from_arrays(rng(1).uniform(0, 1, (n, *shape)).astype("float32"), np.arange(n) % 2)


def rows(n: int = 3, f: int = 6) -> Dataset:
    return Dataset.from_arrays(rng(2).normal(size=(n, f)).astype("float32"), np.arange(n) % 2)


def memory(model: Any) -> tuple[Any, Any]:
    return model, describe(model)


def conv_trunk(inputs: Any, dtype: Any = None) -> Any:
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv", dtype=dtype)(inputs)
    return keras.layers.GlobalAveragePooling2D(name="gap", dtype=dtype)(h)


def image_model(head: Callable[[Any], Any], name: str) -> Any:
    keras.utils.set_random_seed(0)
    inputs = keras.Input(IMG, name="image")
    outputs = head(conv_trunk(inputs))
    return keras.Model(inputs, outputs, name=name)


def tabular_model(head: Callable[[Any], Any], name: str, f: int = 6) -> Any:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((f,), name="features")
    return keras.Model(inputs, head(keras.layers.Dense(5, activation="relu", name="hidden")(inputs)), name=name)


NOT_IMAGE = {"CAM": "images"}


# ----------------------------------------------------------------------------- the model kinds
def softmax_cnn(_: Path) -> tuple[Any, Any]:
    return memory(image_model(lambda h: keras.layers.Dense(3, activation="softmax", name="cls")(h), "softmax_cnn"))


def single_sigmoid(_: Path) -> tuple[Any, Any]:
    return memory(image_model(lambda h: keras.layers.Dense(1, activation="sigmoid", name="p")(h), "single_sigmoid"))


def multi_label(_: Path) -> tuple[Any, Any]:
    return memory(tabular_model(lambda h: keras.layers.Dense(3, activation="sigmoid", name="labels")(h), "multi_label"))


def softmax_layer(_: Path) -> tuple[Any, Any]:
    return memory(image_model(lambda h: keras.layers.Softmax(name="softmax")(keras.layers.Dense(3, name="z")(h)), "softmax_layer"))


def logits(_: Path) -> tuple[Any, Any]:
    return memory(tabular_model(lambda h: keras.layers.Dense(3, name="logits")(h), "logits"))


def two_heads(_: Path) -> tuple[Any, Any]:
    def heads(h: Any) -> list[Any]:
        return [keras.layers.Dense(4, name="box")(h), keras.layers.Dense(1, activation="sigmoid", name="face")(h)]
    return memory(image_model(heads, "two_heads"))


def regression(_: Path) -> tuple[Any, Any]:
    return memory(tabular_model(lambda h: keras.layers.Dense(1, name="value")(h), "regression"))


def dense_map(_: Path) -> tuple[Any, Any]:
    keras.utils.set_random_seed(0)
    inputs = keras.Input(IMG, name="image")
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    return memory(keras.Model(inputs, keras.layers.Conv2D(2, 1, activation="softmax", name="seg")(h), name="dense_map"))


def two_inputs(_: Path) -> tuple[Any, Any]:
    keras.utils.set_random_seed(0)
    image, meta = keras.Input(IMG, name="image"), keras.Input((3,), name="meta")
    h = keras.layers.Concatenate()([conv_trunk(image), meta])
    return memory(keras.Model([image, meta], keras.layers.Dense(2, activation="softmax", name="cls")(h), name="two_inputs"))


def two_input_cases() -> Dataset:
    r = rng(3)
    return Dataset.from_inputs({"image": r.uniform(0, 1, (3, *IMG)).astype("float32"),
                                "meta": r.normal(size=(3, 3)).astype("float32")}, np.arange(3) % 2)


TEXTS = ["the cat sat on the mat", "a dog ran far away", "the dog sat"]


def text_lstm(_: Path) -> tuple[Any, Any]:
    keras.utils.set_random_seed(0)
    vectorize = keras.layers.TextVectorization(max_tokens=30, output_sequence_length=6, name="vectorize")
    vectorize.adapt(TEXTS)
    inputs = keras.Input((1,), dtype="string", name="text")
    h = keras.layers.Embedding(30, 4, name="embedding")(vectorize(inputs))
    h = keras.layers.LSTM(3, name="lstm")(h)
    return memory(keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="cls")(h), name="text_lstm"))


def masked_tokens(_: Path) -> tuple[Any, Any]:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((7,), dtype="int32", name="ids")
    h = keras.layers.LSTM(3, name="lstm")(keras.layers.Embedding(20, 4, mask_zero=True, name="embedding")(inputs))
    return memory(keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="cls")(h), name="masked"))


def padded_id_cases() -> Dataset:
    ids = rng(6).integers(1, 20, (3, 7))
    ids[:, 4:] = 0  # padding: masked out by the model
    return Dataset.from_arrays(ids, np.arange(3) % 2)


def token_ids(_: Path) -> tuple[Any, Any]:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((7,), dtype="int32", name="ids")
    h = keras.layers.GlobalAveragePooling1D(name="pool")(keras.layers.Embedding(20, 4, name="embedding")(inputs))
    return memory(keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="cls")(h), name="token_ids"))


def id_cases() -> Dataset:
    return Dataset.from_arrays(rng(4).integers(1, 20, (3, 7)), np.arange(3) % 2)


def signal_conv1d(_: Path) -> tuple[Any, Any]:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 2), name="signal")
    h = keras.layers.Conv1D(4, 5, activation="relu", name="conv1d")(inputs)
    h = keras.layers.GlobalAveragePooling1D(name="gap")(h)
    return memory(keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="cls")(h), name="signal_conv1d"))


def gru_sequence(_: Path) -> tuple[Any, Any]:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((12, 3), name="sequence")
    h = keras.layers.GRU(4, name="gru")(inputs)
    return memory(keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="cls")(h), name="gru_sequence"))


def sequences(t: int, c: int) -> Callable[[], Dataset]:
    return lambda: Dataset.from_arrays(rng(5).normal(size=(3, t, c)).astype("float32"), np.arange(3) % 2)


def mixed_float16(_: Path) -> tuple[Any, Any]:
    keras.utils.set_random_seed(0)
    inputs = keras.Input(IMG, name="image")
    h = conv_trunk(inputs, dtype="mixed_float16")
    return memory(keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="cls", dtype="float32")(h)))


def custom_layer(tmp: Path) -> tuple[Any, Any]:
    from tests.engine.custom_layers import Scale  # the trusted module, imported: its class is registered

    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,), name="features")
    h = Scale(name="scale")(keras.layers.Dense(5, activation="relu", name="hidden")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="cls")(h), name="custom_layer")
    model.save(tmp / "custom.keras")
    return load_model(tmp / "custom.keras")


def _tf_keras_model() -> Any:
    import tf_keras

    tf_keras.utils.set_random_seed(0)
    return tf_keras.Sequential([
        tf_keras.layers.Input((6,)), tf_keras.layers.Dense(5, activation="relu", name="hidden"),
        tf_keras.layers.Dense(3, activation="softmax", name="cls"),
    ])


def tf_keras_h5(tmp: Path) -> tuple[Any, Any]:
    _tf_keras_model().save(tmp / "legacy.h5")
    return load_model(tmp / "legacy.h5")


def tf_keras_savedmodel(tmp: Path) -> tuple[Any, Any]:
    _tf_keras_model().save(tmp / "legacy_savedmodel", save_format="tf")
    return load_model(tmp / "legacy_savedmodel")


def keras3_export(tmp: Path) -> tuple[Any, Any]:
    model, _ = single_sigmoid(tmp)
    model.export(tmp / "exported", verbose=False)
    return load_model(tmp / "exported")


def nested(_: Path) -> tuple[Any, Any]:
    keras.utils.set_random_seed(0)
    block = keras.Sequential([keras.Input(IMG), keras.layers.Conv2D(4, 3, activation="relu", name="conv")], name="features")
    inputs = keras.Input(IMG, name="image")
    h = keras.layers.GlobalAveragePooling2D(name="gap")(block(inputs))
    return memory(keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="cls")(h), name="nested"))


def sigmoid_map(_: Path) -> tuple[Any, Any]:
    keras.utils.set_random_seed(0)
    inputs = keras.Input(IMG, name="image")
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv")(inputs)
    return memory(keras.Model(inputs, keras.layers.Conv2D(1, 1, activation="sigmoid", name="mask")(h), name="sigmoid_map"))


def application(name: str) -> Callable[[Path], tuple[Any, Any]]:
    def build(_: Path) -> tuple[Any, Any]:
        keras.utils.set_random_seed(0)
        return memory(getattr(keras.applications, name)(weights=None, input_shape=(32, 32, 3), classes=4))
    return build


KINDS: dict[str, Kind] = {
    "softmax CNN": Kind(softmax_cnn, images, ("softmax",)),
    "single sigmoid": Kind(single_sigmoid, images, ("sigmoid",)),
    "multi-label sigmoid": Kind(multi_label, rows, ("sigmoid",), NOT_IMAGE),
    "softmax as a layer": Kind(softmax_layer, images, ("softmax",)),
    "logits": Kind(logits, rows, ("logits",), NOT_IMAGE),
    "two heads (box + face)": Kind(two_heads, images, ("regression", "sigmoid")),
    "regression": Kind(regression, rows, ("regression",), NOT_IMAGE),
    "dense map (softmax)": Kind(dense_map, images, ("dense",), {"embedding": "no Dense layer"}),
    "dense map (one sigmoid)": Kind(sigmoid_map, images, ("dense",), {"embedding": "no Dense layer"}),
    "two inputs (image + meta)": Kind(two_inputs, two_input_cases, ("softmax",), {"CAM": "images"}),
    "TextVectorization + LSTM": Kind(text_lstm, lambda: Dataset.from_texts(TEXTS, [0, 1, 1]), ("softmax",),
                                     {"CAM": "images"}),
    "token ids + Embedding": Kind(token_ids, id_cases, ("softmax",), {"CAM": "images"}),
    "masked token ids + LSTM": Kind(masked_tokens, padded_id_cases, ("softmax",), {"CAM": "images"}),
    "Conv1D on a signal": Kind(signal_conv1d, sequences(32, 2), ("softmax",), {"CAM": "images"}),
    "GRU on a sequence": Kind(gru_sequence, sequences(12, 3), ("softmax",), {"CAM": "images"}),
    "mixed float16": Kind(mixed_float16, images, ("softmax",)),
    "custom layer (trusted module)": Kind(custom_layer, rows, ("softmax",), NOT_IMAGE),
    "tf_keras .h5": Kind(tf_keras_h5, rows, ("softmax",), NOT_IMAGE),
    "tf_keras SavedModel": Kind(tf_keras_savedmodel, rows, ("softmax",), NOT_IMAGE),
    "Keras-3 SavedModel export": Kind(keras3_export, images, ("sigmoid",)),
    "nested sub-model": Kind(nested, images, ("softmax",)),
    "EfficientNetB0 (weights=None)": Kind(application("EfficientNetB0"), lambda: images(3, (32, 32, 3)), ("softmax",),
                                          slow=True),
    "ResNet50 (weights=None)": Kind(application("ResNet50"), lambda: images(3, (32, 32, 3)), ("softmax",), slow=True),
}
KINDS["Keras-3 SavedModel export"].unsupported = {"CAM": "4-D", "embedding": "no Dense layer"}


@pytest.fixture(scope="module")
def opened(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Workspace]:
    """Each kind built once for the whole module, with its cases fitted to it."""
    built: dict[str, Workspace] = {}

    def get(name: str) -> Workspace:
        if name not in built:
            kind = KINDS[name]
            model, description = kind.build(tmp_path_factory.mktemp("kind"))
            workspace = Workspace(model=model, description=description)
            workspace.dataset = fit_to_model(kind.cases(), Preprocessing(), workspace)
            built[name] = workspace
        return built[name]

    return get


def cell(name: str, column: str, run: Callable[[], str]) -> None:
    """Run one cell: a number (recorded) or the refusal this row expects, never anything else."""
    expected = KINDS[name].unsupported.get(column)
    try:
        shown = run()
    except (NotSupportedError, BadInputError) as exc:
        message = str(exc)
        RESULTS[(name, column)] = f"not supported: {message}"
        assert expected is not None, f"{name} / {column}: unexpected refusal: {message}"
        assert expected in message and "\n" not in message and "Traceback" not in message
        return
    RESULTS[(name, column)] = shown
    assert expected is None, f"{name} / {column}: expected a refusal ({expected!r}), got {shown}"


def params(**extra: Any) -> dict[str, Any]:
    return {"batch_size": 16, **extra}


def rows_of(name: str) -> list[pytest.param]:
    return [pytest.param(n, marks=[pytest.mark.slow] if KINDS[n].slow else []) for n in KINDS]


ALL = rows_of("")


def model_output(ws: Workspace, case: int = 0) -> list[np.ndarray]:
    from engine.model_inputs import feed

    out = ws.model(feed(ws.model, ws.dataset.inputs([case])), training=False)
    outs = list(out.values()) if isinstance(out, dict) else list(out) if isinstance(out, (list, tuple)) else [out]
    return [np.asarray(o, dtype=np.float64)[0] for o in outs]


# ----------------------------------------------------------------------------------- the cells
@pytest.mark.parametrize("name", ALL)
def test_inspect(name: str, opened: Callable[[str], Workspace]) -> None:
    def run() -> str:
        heads = opened(name).description.heads
        assert tuple(h.kind for h in heads) == KINDS[name].heads
        return ", ".join(f"{h.name}: {h.kind} {h.shape}" for h in heads)
    cell(name, "inspect", run)


@pytest.mark.parametrize("name", ALL)
def test_case_view(name: str, opened: Callable[[str], Workspace]) -> None:
    ws = opened(name)

    def run() -> str:
        view = explain_service.case_view_task(JobContext(ws), 0)
        raw = model_output(ws)
        assert [o.head.kind for o in view.heads] == list(KINDS[name].heads)
        for shown, values in zip(view.heads, raw):
            if shown.values is not None:  # regression: the numbers themselves
                np.testing.assert_allclose(shown.values, values.reshape(-1), rtol=1e-5, atol=1e-6)
            if shown.map is not None:
                assert shown.map.shape == values.shape[:-1]
            if shown.probabilities is not None and shown.head.units == 1:  # one sigmoid: [1 - p, p]
                np.testing.assert_allclose(shown.probabilities, [1 - values[0], values[0]], rtol=1e-5)
        if view.top.n_classes:
            assert abs(float(view.top.probabilities.sum()) - 1.0) < 1e-4 or KINDS[name].heads == ("sigmoid",)
        return "; ".join(o.summary for o in view.heads)
    cell(name, "case view", run)


@pytest.mark.parametrize("name", ALL)
def test_predict(name: str, opened: Callable[[str], Workspace]) -> None:
    ws = opened(name)

    def run() -> str:
        result = predict_task(JobContext(ws), batch_size=2)
        n = len(ws.dataset)
        assert len(result) == n
        if result.head:
            p = result.probabilities
            assert p.shape[0] == n and np.all((p >= 0) & (p <= 1))
            raw = model_output(ws)[[h.name for h in ws.description.heads].index(result.head)]
            if raw.size == 1:  # a single sigmoid unit: class 1 is the output
                np.testing.assert_allclose(p[0], [1 - raw[0], raw[0]], rtol=1e-5)
            return f"{result.head}: confidence {float(result.confidence[0]):.3f}"
        assert np.all(result.predicted == -1)
        if result.values:
            first = next(iter(result.values.values()))
            np.testing.assert_allclose(first[0], model_output(ws)[0].reshape(-1), rtol=1e-5, atol=1e-6)
            return f"no classifier head; values {first[0].round(3).tolist()}"
        return "no classifier head; dense map only (shown in the case view)"
    cell(name, "predict", run)


def explain(ws: Workspace, method: str, **extra: Any) -> Any:
    return explain_service.explain_case_task(JobContext(ws), 0, method, params(**extra))


def maps_of(result: Any) -> list[np.ndarray]:
    return [r.maps for r in result.values()] if isinstance(result, dict) else [result.maps]


@pytest.mark.parametrize("name", ALL)
def test_gradient_method(name: str, opened: Callable[[str], Workspace]) -> None:
    ws = opened(name)

    def run() -> str:
        result = explain(ws, "integrated_gradients", steps=4 if KINDS[name].slow else 32)
        results = list(result.values()) if isinstance(result, dict) else [result]
        for r in results:
            assert np.all(np.isfinite(r.maps))
        gap = results[0].completeness_gap
        shown = f"IG |gap| {float(np.abs(gap).max()):.1e}, sum {float(sum(r.maps.sum() for r in results)):.3g}"
        assert float(np.abs(gap).max()) < 1e-3  # IG's completeness: the maps add up to f(x) - f(baseline)
        shown += "; " + explained_score_is_the_output(ws)
        if KINDS[name].heads[-1] == "sigmoid" and ws.description.heads[-1].units == 1:
            # the known answer: the explained score of class 1 is the output p, of class 0 it is 1 - p
            explainer = explainers.create("saliency", ws.model, output_index=len(ws.description.heads) - 1)
            x = ws.dataset.inputs([0])
            p = model_output(ws)[-1][0]
            np.testing.assert_allclose(explainer.scores(x, [1]), [p], rtol=1e-5)
            np.testing.assert_allclose(explainer.scores(x, [0]), [1 - p], rtol=1e-5)
            one, zero = explainer.explain(x, 1).maps, explainer.explain(x, 0).maps
            np.testing.assert_allclose(zero, -one, rtol=1e-5, atol=1e-7)
            shown += f"; p(1) = output = {p:.4f}, p(0) = {1 - p:.4f}"
        return shown
    cell(name, "gradient", run)


def explained_score_is_the_output(ws: Workspace) -> str:
    """The score a method explains is the model's own output for the head and target: the
    probability (one sigmoid unit: p for class 1, 1 - p for class 0), the logit or the value, or
    a dense map's channel summed over the map. Checks every view (heads, inputs, tokens)."""
    head = ws.description.heads[-1]
    raw = model_output(ws)[head.index]
    probability = head.activation in ("softmax", "sigmoid")
    explainer = explainers.create("saliency", ws.model, output_index=head.index,
                                  output="probability" if probability else "auto")
    target = min(1, head.n_classes - 1)
    if head.units == 1 and head.kind != "regression":
        per_class = np.stack([1 - raw, raw], axis=-1)[..., 0, :]  # (..., 2): [1 - p, p]
    else:
        per_class = raw
    expected = per_class.reshape(-1, per_class.shape[-1]).sum(axis=0)[target]
    got = explainer.scores(ws.dataset.inputs([0]), [target])
    np.testing.assert_allclose(got, [expected], rtol=2e-3, atol=1e-5)  # float16 rows: a looser rtol
    return f"score(class {target}) = output {float(expected):.4g}"


@pytest.mark.parametrize("name", ALL)
def test_cam_method(name: str, opened: Callable[[str], Workspace]) -> None:
    ws = opened(name)

    def run() -> str:
        result = explain(ws, "gradcam")
        assert result.heatmap.shape == ws.dataset.inputs([0]).shape[:3] and np.all(np.isfinite(result.heatmap))
        return f"Grad-CAM max {float(result.heatmap.max()):.3g}"
    cell(name, "CAM", run)


@pytest.mark.parametrize("name", ALL)
def test_perturbation_method(name: str, opened: Callable[[str], Workspace]) -> None:
    ws = opened(name)

    def run() -> str:
        shape = ws.dataset.inputs([0])
        patch = 1 if (isinstance(shape, dict) or shape.dtype == object or shape.ndim == 2) else 4
        patch = 16 if KINDS[name].slow else patch  # the applications: 4 patches of their 32x32 input
        result = explain(ws, "occlusion", patch_size=patch, stride=patch)
        maps = maps_of(result)
        assert all(np.all(np.isfinite(m)) for m in maps)
        return f"occlusion max |drop| {max(float(np.abs(m).max()) for m in maps):.3g}"
    cell(name, "perturbation", run)


def some_layer(ws: Workspace) -> str:
    layers = [info for info in ws.description.all_layers() if info.class_name not in ("InputLayer",)]
    with_weights = [info for info in layers if info.params]
    return (with_weights or layers)[0].path


@pytest.mark.parametrize("name", ALL)
def test_activations(name: str, opened: Callable[[str], Workspace]) -> None:
    ws = opened(name)

    def run() -> str:
        result = activations_task(JobContext(ws), some_layer(ws), cases=[0])
        assert result.values.shape[0] == 1 and np.all(np.isfinite(result.values))
        return f"{result.path}: {result.kind} {tuple(result.values.shape[1:])}"
    cell(name, "activations", run)


@pytest.mark.parametrize("name", ALL)
def test_weights(name: str, opened: Callable[[str], Workspace]) -> None:
    ws = opened(name)

    def run() -> str:
        path = some_layer(ws)
        result = layer_weights_task(JobContext(ws), path)
        assert result.params == ws.description.layer(path).params
        return f"{path}: {result.params} params"
    cell(name, "weights", run)


@pytest.mark.parametrize("name", ALL)
def test_embedding(name: str, opened: Callable[[str], Workspace]) -> None:
    from engine.embedding import embedding_task

    ws = opened(name)

    def run() -> str:
        result = embedding_task(JobContext(ws), method="pca", thumbnails=False)
        assert result.coords.shape == (len(ws.dataset), 2) and np.all(np.isfinite(result.coords))
        if not ws.description.heads[0].is_classifier:  # nothing to colour by: no invented classes
            assert np.all(result.predicted == -1) and result.regions is None
        return f"PCA of {result.layer}: {result.feature_dim} features; predicted {result.predicted.tolist()}"
    cell(name, "embedding", run)


def test_savedmodel_and_h5_of_one_model_explain_the_same(opened: Callable[[str], Workspace]) -> None:
    """The same Keras-2 model saved as .h5 and as a SavedModel: the same layers (the SavedModel is
    rebuilt, not wrapped) and the same logit-mode saliency, number for number."""
    h5, saved = opened("tf_keras .h5"), opened("tf_keras SavedModel")
    assert [info.class_name for info in saved.description.layers] == [info.class_name for info in h5.description.layers]
    a = explain_service.explain_case_task(JobContext(h5), 0, "saliency", target=1)
    b = explain_service.explain_case_task(JobContext(saved), 0, "saliency", target=1)
    np.testing.assert_allclose(a.maps, b.maps, rtol=1e-6, atol=1e-8)
    assert np.abs(a.maps).max() > 0


def teardown_module() -> None:
    target = os.environ.get("GLASSBOX_MATRIX")
    if not target:
        return
    lines = ["| model kind | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name in KINDS:
        cells = [RESULTS.get((name, c), "(not run)").replace("|", "/") for c in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    Path(target).write_text("\n".join(lines) + "\n")
