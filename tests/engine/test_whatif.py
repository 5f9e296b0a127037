"""What-if edits: the prediction of an edited case is the model's prediction of that input, a
brush changes pixels only under it, words map to tokens, and counterfactuals persist."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from engine import whatif  # noqa: E402
from engine.data import Dataset, load_texts  # noqa: E402
from engine.errors import BadInputError  # noqa: E402
from engine.jobs import JobContext  # noqa: E402
from engine.preprocessing import Preprocessing  # noqa: E402
from engine.text_tokens import CUT, OOV, PADDING, WORD, align  # noqa: E402
from engine.whatif_store import (  # noqa: E402
    keep_counterfactual_task,
    load_counterfactuals_task,
    read_store,
    store_path,
)
from engine.workspace import Workspace  # noqa: E402

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


def _ctx(model, dataset, sha="a" * 64) -> JobContext:
    workspace = Workspace()
    workspace.set_model(model, SimpleNamespace(sha256=sha, output_activation="softmax", heads=()))
    workspace.dataset = dataset
    return JobContext(workspace)


@pytest.fixture(scope="module")
def tiny_tabular():
    keras.utils.set_random_seed(1)
    inputs = keras.Input((4,), name="features")
    h = keras.layers.Dense(6, activation="tanh")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))
    x = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    return model, Dataset.from_arrays(x, np.arange(10) % 3, class_names=["a", "b", "c"])


@pytest.fixture(scope="module")
def text_demo():
    model = keras.saving.load_model(DEMO / "review_sentiment.keras")
    return model, load_texts(DEMO / "reviews.csv")


def test_feature_edit_predicts_like_a_direct_model_call(tiny_tabular) -> None:
    model, dataset = tiny_tabular
    ctx = _ctx(model, dataset)
    edit = {"kind": "features", "values": {"2": 3.5, "0": -1.25}}
    got = whatif.whatif_predict_task(ctx, 4, edit, k=3)
    row = dataset.raw(4).copy()
    row[2], row[0] = 3.5, -1.25
    direct = np.asarray(model(row[None], training=False))[0]
    np.testing.assert_allclose(got.probabilities, np.sort(direct)[::-1], rtol=1e-6)
    assert list(got.classes) == list(np.argsort(-direct))
    assert got.values[2] == 3.5 and got.values[1] == row[1]
    unedited = np.asarray(model(dataset.raw(4)[None], training=False))[0]
    assert not np.allclose(direct, unedited)  # the edit did change the answer


def test_feature_edit_of_the_breast_cancer_demo_feeds_scaled_values() -> None:
    """The demo MLP takes standardised features: a dataset of scaled rows (as an .npz holds
    them) edited at one feature gives exactly the model's answer for that row."""
    model = keras.saving.load_model(DEMO / "breast_cancer_mlp.keras")
    scaling = json.loads((DEMO / "breast_cancer_scaling.json").read_text())
    with open(DEMO / "breast_cancer.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))[:20]
    names = list(scaling["features"])
    raw = np.array([[float(r[n]) for n in names] for r in rows])
    mean = np.array([scaling["features"][n]["mean"] for n in names])
    std = np.array([scaling["features"][n]["std"] for n in names])
    z = ((raw - mean) / std).astype(np.float32)
    dataset = Dataset.from_arrays(z, np.zeros(len(z), np.int64), class_names=scaling["class_names"])
    ctx = _ctx(model, dataset)
    worst_radius = names.index("worst_radius")
    new = float((raw[0, worst_radius] * 0.5 - mean[worst_radius]) / std[worst_radius])  # half the radius, scaled
    got = whatif.whatif_predict_task(ctx, 0, {"kind": "features", "values": {str(worst_radius): new}}, k=2)
    fed = z[0].copy()
    fed[worst_radius] = new
    direct = np.asarray(model(fed[None], training=False))[0]
    np.testing.assert_allclose(got.probabilities, np.sort(direct)[::-1], rtol=1e-6)
    assert int(got.classes[0]) == int(np.argmax(direct))
    case = whatif.whatif_case_task(ctx, 0)
    np.testing.assert_allclose(case.low, z.min(axis=0), rtol=1e-6)  # the slider's observed range
    np.testing.assert_allclose(case.high, z.max(axis=0), rtol=1e-6)


def test_sentence_edit_gives_the_prediction_of_the_new_sentence(text_demo) -> None:
    import tensorflow as tf

    model, dataset = text_demo
    ctx = _ctx(model, dataset)
    sentence = "the staff was rude and awful today"
    got = whatif.whatif_predict_task(ctx, 0, {"kind": "text", "text": sentence})
    direct = np.asarray(model(tf.constant([[sentence]]), training=False))[0]
    np.testing.assert_allclose(got.probabilities, np.sort(direct)[::-1], rtol=1e-6)
    assert int(got.classes[0]) == 0  # negative
    assert got.alignment["words"] == sentence.split()
    assert got.alignment["word_token"] == list(range(7))
    explanation = whatif.whatif_explain_task(ctx, 0, {"kind": "text", "text": sentence}, "saliency")
    assert explanation.maps.shape[:2] == (1, 14)
    assert explanation.provenance["token_words"]["words"] == sentence.split()
    assert explanation.provenance["edited_from"] == dataset.case_hashes[0]


def test_words_map_to_tokens_with_oov_padding_and_cut() -> None:
    config = {"standardize": "lower_and_strip_punctuation", "split": "whitespace", "ngrams": None}
    tokens = ["the", "staff", "[UNK]", "great", "", ""]
    a = align("The Staff, xyz ... GREAT!!", tokens, config)
    assert a.words == ("The", "Staff,", "xyz", "...", "GREAT!!")
    assert a.word_token == (0, 1, 2, -1, 3)  # "..." standardises to nothing: no token
    assert a.word_kinds == (WORD, WORD, OOV, "", WORD)
    assert a.token_kinds == (WORD, WORD, OOV, WORD, PADDING, PADDING)
    assert a.token_word == (0, 1, 2, 4, -1, -1)
    assert a.spans[1] == (4, 10) and "The Staff, xyz ... GREAT!!"[4:10] == "Staff,"
    cut = align("a b c d", ["a", "b"], config)
    assert cut.word_kinds == (WORD, WORD, CUT, CUT) and cut.word_token == (0, 1, -1, -1)
    assert align("ab", ["a", "b"], {"split": "character"}).words == ()  # followed token by token
    assert type(a).from_dict(json.loads(json.dumps(a.to_dict()))) == a


def test_brush_erase_changes_pixels_only_inside_the_brush() -> None:
    x = np.load(DEMO / "digits_cases.npz")["x"][:3]
    dataset = Dataset.from_arrays(x, np.zeros(3, np.int64), preprocessing=Preprocessing(scale="-1..1"))
    strokes = [{"op": "erase", "radius": 3.0, "points": [[10, 8], [14, 16]]}]
    model_input, shown = whatif.edited_image(dataset, 1, strokes)
    before = dataset.inputs([1])
    mask = whatif.brush_mask((28, 28), strokes[0]["points"], 3.0)
    assert mask.sum() > 30
    np.testing.assert_array_equal(model_input[0][~mask], before[0][~mask])  # outside: untouched
    np.testing.assert_allclose(model_input[0][mask], -1.0)  # inside: black, in the model's scaling
    assert shown.shape == (28, 28) and np.all(shown[mask] == 0)
    changed = np.any(model_input[0] != before[0], axis=-1)
    assert changed[mask].any() and not changed[~mask].any()
    for op in ({"op": "blur", "radius": 2.0}, {"op": "shift", "radius": 2.0, "shift": [1, 2]},
               {"op": "paint", "radius": 2.0, "value": 0.5}):
        stroke = {**op, "points": [[14, 14]]}
        edited, _ = whatif.edited_image(dataset, 1, [stroke])
        inside = whatif.brush_mask((28, 28), stroke["points"], 2.0)
        np.testing.assert_array_equal(edited[0][~inside], before[0][~inside])


def test_bad_edits_say_what_is_wrong(tiny_tabular) -> None:
    model, dataset = tiny_tabular
    ctx = _ctx(model, dataset)
    with pytest.raises(BadInputError, match="finite number"):
        whatif.whatif_predict_task(ctx, 0, {"kind": "features", "values": {"1": float("nan")}})
    with pytest.raises(BadInputError, match="Feature 9 does not exist"):
        whatif.whatif_predict_task(ctx, 0, {"kind": "features", "values": {"9": 1.0}})
    with pytest.raises(BadInputError, match="needs an image case"):
        whatif.whatif_predict_task(ctx, 0, {"kind": "brush", "strokes": []})


def test_counterfactual_persists_across_reopening_and_links_to_its_origin(tmp_path, text_demo) -> None:
    model, _ = text_demo
    dataset = load_texts(DEMO / "reviews.csv")
    review = tmp_path / "reviews.glassbox-review.json"
    ctx = _ctx(model, dataset)
    edit = {"kind": "text", "text": "the room is dirty honestly"}
    kept = keep_counterfactual_task(ctx, str(review), 1, edit, reviewer="tester")
    assert kept.case == len(dataset) and len(kept.summary) == len(dataset) + 1
    assert kept.summary.names[-1] == f"counterfactual 1 of {dataset.names[1]}"
    stored = read_store(store_path(review))
    assert stored[0].origin_sha256 == dataset.case_hashes[1] and stored[0].edit == edit
    assert "sentence changed to" in stored[0].description

    reopened = _ctx(model, load_texts(DEMO / "reviews.csv"))  # a new session: the file is all there is
    summary = load_counterfactuals_task(reopened, str(review))
    assert summary.case_hashes == kept.summary.case_hashes
    cf = reopened.workspace.dataset
    assert cf.raw(len(dataset)) == edit["text"]
    provenance = cf.case_provenance(len(dataset))
    assert provenance["counterfactual_of"]["case"] == 1
    assert provenance["counterfactual_of"]["case_sha256"] == dataset.case_hashes[1]
    refit = cf.with_preprocessing(cf.preprocessing)  # a recipe change keeps the counterfactuals
    assert len(refit) == len(dataset) + 1 and refit.case_provenance(len(dataset))["counterfactual_of"]["case"] == 1
    from engine.explain_service import case_view_task

    view = case_view_task(reopened, len(dataset))
    direct = whatif.whatif_predict_task(reopened, 1, edit)
    np.testing.assert_allclose(view.top.probabilities[:2], direct.probabilities[:2], rtol=1e-6)
    from engine.records import read_records
    from engine.records.log import log_path_for_review

    records = read_records(log_path_for_review(review))
    assert records[-1]["action"] == "counterfactual"
    assert records[-1]["details"]["counterfactual_of"]["case_sha256"] == dataset.case_hashes[1]


def test_counterfactual_of_an_image_case_is_listed_with_its_thumbnail(tmp_path) -> None:
    x = np.load(DEMO / "digits_cases.npz")["x"][:4]
    keras.utils.set_random_seed(0)
    inputs = keras.Input((28, 28, 1))
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(keras.layers.Flatten()(inputs)))
    ctx = _ctx(model, load_npz_like(x))
    edit = {"kind": "brush", "strokes": [{"op": "erase", "radius": 4.0, "points": [[14, 14]]}]}
    kept = keep_counterfactual_task(ctx, str(tmp_path / "r.json"), 2, edit)
    assert kept.summary.thumbnails.shape[0] == 5
    cf = ctx.workspace.dataset
    expected, _ = whatif.edited_image(cf, 2, edit["strokes"])
    np.testing.assert_allclose(cf.inputs([4]), expected, atol=1e-6)


def load_npz_like(x: np.ndarray) -> Dataset:
    return Dataset.from_arrays(x, np.zeros(len(x), np.int64))



def test_case_report_of_a_counterfactual_names_its_origin_and_edit(tmp_path) -> None:
    from engine.models import open_model_task
    from engine.reports.tasks import case_report_task

    ctx = JobContext(Workspace())
    open_model_task(ctx, str(DEMO / "review_sentiment.keras"))
    dataset = load_texts(DEMO / "reviews.csv")
    ctx.workspace.dataset = dataset
    review = tmp_path / "reviews.glassbox-review.json"
    edit = {"kind": "text", "text": "the app was slow"}
    kept = keep_counterfactual_task(ctx, str(review), 2, edit)
    from engine.records.log import log_path_for_review

    written = case_report_task(ctx, kept.case, str(tmp_path / "report"), str(log_path_for_review(review)),
                               str(review), formats=("html",))
    text = Path(written[0]).read_text(encoding="utf-8")
    assert "counterfactual of case 2" in text and "the app was slow" in text
    assert dataset.case_hashes[2][:16] in text
    from engine.explain_service import explain_case_task
    from engine.records.results import explain_record

    result = explain_case_task(ctx, kept.case, "gradient_x_input")
    assert result.provenance["counterfactual_of"]["case"] == 2
    assert result.provenance["token_words"]["words"] == ["the", "app", "was", "slow"]
    spec = {"model_sha256": "m", "model": "review_sentiment.keras", "case_name": dataset.names[2],
            "case_sha256": kept.summary.case_hashes[kept.case], "target": 0}
    record = explain_record(result, spec, "tester")
    assert record["details"]["counterfactual_of"]["case_sha256"] == dataset.case_hashes[2]
    assert record["details"]["counterfactual_of"]["edit"] == edit


def test_column_edit_of_the_breast_cancer_table_in_raw_units_equals_the_model_on_the_scaled_row() -> None:
    """The demo CSV opened as a table (engine.tabular, its scaling file beside it): a change of
    mean_radius in millimetres predicts exactly what the model says of the standardised row."""
    from engine.data import load_dataset
    from engine.whatif_store import keep_counterfactual_task as keep

    model = keras.saving.load_model(DEMO / "breast_cancer_mlp.keras")
    dataset = load_dataset(JobContext(Workspace()), str(DEMO / "breast_cancer.csv"))
    ctx = _ctx(model, dataset)
    case = whatif.whatif_case_task(ctx, 0)
    assert case.by_name and "mean_radius" in case.feature_names
    scaling = json.loads((DEMO / "breast_cancer_scaling.json").read_text())["features"]
    got = whatif.whatif_predict_task(ctx, 0, {"kind": "columns", "values": {"mean_radius": 9.5}})
    raw = dataset.raw_values(0)
    raw["mean_radius"] = 9.5
    z = np.array([[(raw[n] - s["mean"]) / s["std"] for n, s in scaling.items()]], np.float32)
    direct = np.asarray(model(z, training=False))[0]
    np.testing.assert_allclose(got.probabilities, np.sort(direct)[::-1], rtol=1e-5)
    with pytest.raises(BadInputError, match="edit of its columns"):
        keep(ctx, "/nonexistent/r.json", 0, {"kind": "features", "values": {"0": 9.5}})
    with pytest.raises(BadInputError, match="not a numeric feature"):
        keep(ctx, "/nonexistent/r.json", 0, {"kind": "columns", "values": {"diagnosis": 1.0}})


def test_kept_row_of_the_breast_cancer_table_survives_reopening_and_is_reviewed_and_reported(tmp_path) -> None:
    """Keep an edit of a demo CSV row; in a new session the counterfactual is listed after the
    rows with its values, predicts what the model says of the scaled edited row, names its
    origin and edit, keeps its review, and the case report says what it is a counterfactual of."""
    from engine.data import load_dataset
    from engine.explain_service import case_view_task, explain_case_task
    from engine.models import open_model_task
    from engine.records.log import log_path_for_review
    from engine.reports.tasks import case_report_task
    from engine.review import ReviewStore

    def session() -> JobContext:
        ctx = JobContext(Workspace())
        open_model_task(ctx, str(DEMO / "breast_cancer_mlp.keras"))
        ctx.workspace.dataset = load_dataset(ctx, str(DEMO / "breast_cancer.csv"))
        return ctx

    ctx = session()
    table = ctx.workspace.dataset
    n, origin = len(table), 19  # benign; the edit makes the model call it malignant
    review = tmp_path / "breast_cancer.glassbox-review.json"
    edit = {"kind": "columns", "values": {"mean_radius": 25.0, "worst_area": 2100.0}}
    kept = keep_counterfactual_task(ctx, str(review), origin, edit, reviewer="tester")
    assert kept.case == n and kept.summary.names[-1] == f"counterfactual 1 of {table.names[origin]}"
    assert kept.summary.labels[-1] == -1 and kept.summary.table.row(n)["mean_radius"] == "25"
    assert kept.summary.table.row(n)["mean_texture"] == kept.summary.table.row(origin)["mean_texture"]
    ReviewStore(review).set_verdict(kept.summary.names[n], kept.summary.case_hashes[n], "plausible")

    again = session()  # a new session: the files are all there is
    summary = load_counterfactuals_task(again, str(review))
    cf = again.workspace.dataset
    assert len(summary) == n + 1 and summary.case_hashes == kept.summary.case_hashes
    assert summary.names[n] == f"counterfactual 1 of {table.names[origin]}"
    link = cf.case_provenance(n)["counterfactual_of"]
    assert (link["case"], link["case_sha256"], link["edit"]) == (origin, table.case_hashes[origin], edit)
    assert link["description"] == f"mean_radius {table.raw_values(origin)['mean_radius']:.4g} -> 25; " \
                                  f"worst_area {table.raw_values(origin)['worst_area']:.4g} -> 2100"
    scaling = json.loads((DEMO / "breast_cancer_scaling.json").read_text())["features"]
    raw = {**table.raw_values(origin), **edit["values"]}
    z = np.array([[(raw[name] - s["mean"]) / s["std"] for name, s in scaling.items()]], np.float32)
    np.testing.assert_allclose(cf.inputs([n]), z, rtol=1e-6, atol=1e-6)
    direct = np.asarray(again.workspace.model(z, training=False))[0]
    view = case_view_task(again, n)
    np.testing.assert_allclose(view.top.probabilities, np.sort(direct)[::-1][: len(view.top.probabilities)], rtol=1e-5)
    unedited = np.asarray(again.workspace.model(cf.inputs([origin]), training=False))[0]
    assert int(np.argmax(direct)) != int(np.argmax(unedited))  # the kept edit flips the diagnosis
    assert ReviewStore(review).get(summary.names[n], summary.case_hashes[n]).verdict == "plausible"
    result = explain_case_task(again, n, "gradient_x_input")
    assert result.provenance["counterfactual_of"]["case_sha256"] == table.case_hashes[origin]
    assert np.ravel(result.maps[0]).shape == (30,)
    refit = cf.with_recipe(cf.recipe)  # a recipe change keeps the kept rows
    assert len(refit) == n + 1 and refit.origin_of(n)[0] == origin

    written = case_report_task(again, n, str(tmp_path / "report"), str(log_path_for_review(review)), str(review),
                               formats=("html",))
    text = Path(written[0]).read_text(encoding="utf-8")
    assert f"counterfactual of case {origin}" in text and "mean_radius" in text and "-&gt; 25" in text
    assert "plausible" in text


def test_kept_rows_chain_and_never_shape_a_fitted_recipe(tmp_path) -> None:
    """A counterfactual of a kept row starts from the kept row; refitting the scaling on the
    table fits it on the table's own rows only, and the kept rows stay listed."""
    from engine.data import load_dataset
    from engine.tabular import apply_recipe

    model = keras.saving.load_model(DEMO / "breast_cancer_mlp.keras")
    table = load_dataset(JobContext(Workspace()), str(DEMO / "breast_cancer.csv"))
    ctx, n, review = _ctx(model, table), len(table), str(tmp_path / "r.json")
    first = keep_counterfactual_task(ctx, review, 5, {"kind": "columns", "values": {"mean_radius": 40.0}})
    second = keep_counterfactual_task(ctx, review, first.case, {"kind": "columns", "values": {"worst_area": 3000.0}})
    cf = ctx.workspace.dataset
    assert (first.case, second.case) == (n, n + 1) and cf.origin_of(n + 1)[0] == n
    assert second.summary.names[n + 1] == f"counterfactual 2 of counterfactual 1 of {table.names[5]}"
    row = cf.raw_values(n + 1)
    assert (row["mean_radius"], row["worst_area"], row["mean_texture"]) == (40.0, 3000.0, table.raw_values(5)["mean_texture"])
    choices = {"kind": "tabular", "refit": {"label": "diagnosis", "scaling": "minmax", "scaling_source": "fitted"}}
    refit = apply_recipe(cf, choices)
    assert len(refit) == n + 2 and refit.names[n + 1] == second.summary.names[n + 1]
    assert refit.recipe == apply_recipe(table, choices).recipe  # fitted as if nothing were kept
    radius = next(c for c in refit.recipe.features if c.name == "mean_radius")
    assert radius.offset + radius.scale == table.table.column("mean_radius").values.max() < 40.0
