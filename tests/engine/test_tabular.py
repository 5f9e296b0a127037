"""Tabular cases (issue 15): tables read raw, the recipe that turns them into model inputs, the
breast-cancer demo's scaling, and the base value and output the waterfall is drawn between."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from engine.data import load_dataset, open_dataset_task, set_preprocessing_task
from engine.errors import BadInputError
from engine.jobs import JobContext
from engine.tabular import TabularDataset, apply_recipe
from engine.tabular_recipe import MISSING_CATEGORY, TabularRecipe
from engine.workspace import Workspace

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
ROWS = [  # id, age (one missing), colour (one missing), score, label
    ("a1", 30, "red", 1.0, "yes"),
    ("a2", None, "blue", 2.0, "no"),
    ("a3", 50, "red", 3.0, "yes"),
    ("a4", 70, None, 4.0, "no"),
]


def frame():
    pd = pytest.importorskip("pandas")
    return pd.DataFrame(ROWS, columns=["id", "age", "colour", "score", "label"])


def load(path: Path) -> TabularDataset:
    dataset = load_dataset(JobContext(Workspace()), str(path))
    assert isinstance(dataset, TabularDataset)
    return dataset


def check_mixed(dataset: TabularDataset) -> None:
    recipe = dataset.recipe
    assert recipe.label == "label" and recipe.excluded == ("id",)
    assert [c.name for c in recipe.features] == ["age", "colour", "score"]
    assert recipe.input_names == ("age", "colour=blue", "colour=red", "score")
    assert dataset.inputs(range(4)).shape == (4, 4) and dataset.x.dtype == np.float32
    assert dataset.class_names == ["no", "yes"] and dataset.labels.tolist() == [1, 0, 1, 0]
    age, colour, score = recipe.features
    assert (age.missing, colour.missing, score.missing) == (1, 1, 0)
    assert age.fill == pytest.approx(50.0) and colour.fill == "red"  # mean of 30, 50, 70; most frequent
    present = np.array([30, 50, 70.0])  # the scaling is fitted on the values present, as StandardScaler's
    ages = np.array([30, 50, 50, 70.0])  # the missing age imputed, then scaled
    np.testing.assert_allclose(dataset.x[:, 0], (ages - present.mean()) / present.std(), rtol=1e-6)
    np.testing.assert_array_equal(dataset.x[:, 1:3], [[0, 1], [1, 0], [0, 1], [0, 1]])  # the missing colour: red
    assert dataset.names == ["a1", "a2", "a3", "a4"]  # the id column names the cases
    assert dataset.input_labels(1) == ("missing → 50", "blue", "blue", "2")
    assert dataset.input_labels(3)[1:3] == ("missing → red",) * 2
    for i in range(4):  # a row given by its raw values goes through the same recipe
        np.testing.assert_array_equal(dataset.encode(dataset.raw_values(i)), dataset.x[i:i + 1])
    edited = dataset.encode({**dataset.raw_values(0), "colour": "blue", "age": 70})
    np.testing.assert_array_equal(edited[0, :3], [dataset.x[3, 0], 1, 0])


def test_csv_with_numeric_categorical_and_missing_columns(tmp_path: Path) -> None:
    frame().to_csv(tmp_path / "mixed.csv", index=False)
    check_mixed(load(tmp_path / "mixed.csv"))


def test_parquet_reads_like_the_csv(tmp_path: Path) -> None:
    pytest.importorskip("pyarrow")
    frame().to_parquet(tmp_path / "mixed.parquet")
    check_mixed(load(tmp_path / "mixed.parquet"))


def test_encoding_imputation_and_scaling_choices(tmp_path: Path) -> None:
    frame().to_csv(tmp_path / "mixed.csv", index=False)
    dataset = load(tmp_path / "mixed.csv")
    choices = {"label": "label", "scaling": "minmax", "encodings": {"colour": "ordinal"},
               "imputes": {"age": "median", "colour": "category"}}
    refitted = apply_recipe(dataset, {"kind": "tabular", "refit": choices})
    assert refitted.recipe.input_names == ("age", "colour", "score")
    colour = refitted.recipe.features[1]
    assert colour.categories == ("blue", "red", MISSING_CATEGORY) and colour.encoding == "ordinal"
    x = refitted.x
    assert x.min(axis=0) == pytest.approx([0, 0, 0]) and x.max(axis=0) == pytest.approx([1, 1, 1])
    np.testing.assert_allclose(x[:, 1], [0.5, 0, 0.5, 1])  # red, blue, red, (missing): codes 1, 0, 1, 2 over 2
    assert refitted.hash != dataset.hash and refitted.case_hashes == dataset.case_hashes
    no_label = apply_recipe(dataset, {"kind": "tabular", "refit": {"label": None, "scaling": "none"}})
    assert no_label.recipe.label is None and no_label.recipe.input_names[-2:] == ("label=no", "label=yes")
    assert (no_label.labels == -1).all() and no_label.recipe.scaling == "none"


def test_recipe_round_trips_and_is_the_stored_one(tmp_path: Path) -> None:
    frame().to_csv(tmp_path / "mixed.csv", index=False)
    dataset = load(tmp_path / "mixed.csv")
    stored = json.loads(json.dumps(dataset.recipe.to_dict()))  # as the settings file keeps it
    assert TabularRecipe.from_dict(stored) == dataset.recipe
    # a stored recipe is applied as it is: another table for the same model keeps its scaling
    other = frame().iloc[:2]
    other.to_csv(tmp_path / "two.csv", index=False)
    second = apply_recipe(load(tmp_path / "two.csv"), stored)
    assert second.recipe.features == dataset.recipe.features
    np.testing.assert_array_equal(second.x, dataset.x[:2])
    with pytest.raises(BadInputError, match="lacks: colour"):
        frame().drop(columns=["colour"]).to_csv(tmp_path / "less.csv", index=False)
        apply_recipe(load(tmp_path / "less.csv"), stored)


def test_text_csvs_stay_text(tmp_path: Path) -> None:
    (tmp_path / "words.csv").write_text("id,note,label\n1,the cat sat down,a\n2,a dog ran far,b\n")
    assert load_dataset(JobContext(Workspace()), str(tmp_path / "words.csv")).kind == "text"
    assert load_dataset(JobContext(Workspace()), str(DEMO / "reviews.csv")).kind == "text"


def test_npz_rows_keep_their_feature_names(tmp_path: Path) -> None:
    from engine.tabular_explain import feature_labels

    x = np.array([[1.5, 2.0, 3.25], [4.0, 5.0, 6.0]], np.float32)
    np.savez(tmp_path / "rows.npz", x=x, feature_names=np.array(["height", "weight", "age"]))
    dataset = load_dataset(JobContext(Workspace()), str(tmp_path / "rows.npz"))
    assert dataset.kind == "tabular"
    assert feature_labels(dataset, 0) == (("height", "weight", "age"), ("1.5", "2", "3.25"))
    np.savez(tmp_path / "bare.npz", x=x)  # no names: numbered
    bare = load_dataset(JobContext(Workspace()), str(tmp_path / "bare.npz"))
    assert feature_labels(bare, 1)[0] == ("feature 0", "feature 1", "feature 2")


def demo_rows() -> tuple[list[str], np.ndarray, dict]:
    scaling = json.loads((DEMO / "breast_cancer_scaling.json").read_text())
    with open(DEMO / "breast_cancer.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = list(scaling["features"])
    return [r["diagnosis"] for r in rows], np.array([[float(r[n]) for n in names] for r in rows]), scaling


def test_demo_inputs_are_standardised_by_the_scaling_file() -> None:
    diagnosis, raw, scaling = demo_rows()
    dataset = load(DEMO / "breast_cancer.csv")
    recipe = dataset.recipe
    assert recipe.scaling_source == "file" and recipe.scaling_file == "breast_cancer_scaling.json"
    assert recipe.label == "diagnosis" and recipe.excluded == ("split",) and len(recipe.input_names) == 30
    mean = np.array([scaling["features"][n]["mean"] for n in recipe.input_names])
    std = np.array([scaling["features"][n]["std"] for n in recipe.input_names])
    np.testing.assert_allclose(dataset.inputs(range(len(dataset))), (raw - mean) / std, rtol=1e-5, atol=1e-5)
    assert dataset.class_names == ["malignant", "benign"]  # the file's order, not sorted
    assert dataset.labels.tolist() == [scaling["class_names"].index(d) for d in diagnosis]
    fitted = apply_recipe(dataset, {"kind": "tabular", "refit": {"label": "diagnosis", "scaling_source": "fitted"}})
    assert fitted.recipe.fit_rows == "rows with split == train"  # fitted like the file: on the training rows
    np.testing.assert_allclose([c.offset for c in fitted.recipe.features], mean, rtol=1e-5)
    assert dataset.case_provenance(0)["preprocessing"]["scaling_sha256"] == recipe.scaling_sha256 != ""


@pytest.mark.slow
def test_kernel_shap_waterfall_sums_to_output_minus_base() -> None:
    keras = pytest.importorskip("keras")
    from engine.models import open_model_task
    from engine.tabular_explain import explain_tabular_task

    ctx = JobContext(Workspace())
    open_model_task(ctx, str(DEMO / "breast_cancer_mlp.keras"))
    summary = open_dataset_task(ctx, str(DEMO / "breast_cancer.csv"))
    assert summary.table.features[0] == "mean_radius" and summary.input_shape == (30,)
    assert set_preprocessing_task(ctx, None).hash == summary.hash  # the same recipe, the same cases
    case = 7
    result = explain_tabular_task(ctx, case, "kernel_shap", {"nb_samples": 512, "output": "probability"}, target=0)
    model = keras.saving.load_model(DEMO / "breast_cancer_mlp.keras")
    x = ctx.workspace.dataset.inputs([case])
    direct = model.predict(np.concatenate([x, np.zeros_like(x)]), verbose=0)[:, 0]
    assert result.output_value == pytest.approx(float(direct[0]), abs=1e-5)
    assert result.base_value == pytest.approx(float(direct[1]), abs=1e-5)  # the model at the all-mean row
    assert float(result.maps.sum()) == pytest.approx(result.output_value - result.base_value, abs=1e-4)
    assert result.feature_names == summary.table.input_names
    assert result.base_text == "the score with every input at 0 (each feature at its scaling mean)"
    assert result.feature_values[0] == summary.table.row(case)["mean_radius"]
    saliency = explain_tabular_task(ctx, case, "saliency", target=0)
    assert saliency.base_value is None and saliency.maps.shape == (1, 30)


@pytest.mark.slow
def test_explain_and_reproduce_a_table_from_the_command_line(tmp_path: Path) -> None:
    pytest.importorskip("keras")
    from engine.cli import main

    lines = (DEMO / "breast_cancer.csv").read_text().splitlines()
    (tmp_path / "few.csv").write_text("\n".join(lines[:4]) + "\n")  # three cases; the scaling file beside them
    (tmp_path / "few_scaling.json").write_bytes((DEMO / "breast_cancer_scaling.json").read_bytes())
    out = tmp_path / "out"
    args = ["explain", str(DEMO / "breast_cancer_mlp.keras"), str(tmp_path / "few.csv"), "--method", "kernel_shap",
            "--param", "nb_samples=64", "--out", str(out)]
    assert main(args) == 0
    record = json.loads((out / "00001_case_1_kernel_shap.json").read_text())
    recipe = json.dumps(record)
    assert '"scaling_file": "few_scaling.json"' in recipe and '"kind": "tabular"' in recipe  # the recipe is evidence
    assert main(["reproduce", str(out / "00001_case_1_kernel_shap.json")]) == 0
    assert main(["verify", str(out)]) == 0


def test_a_category_the_recipe_never_saw_is_counted_and_said() -> None:
    """A recipe fitted on colours red/blue meets green: green encodes as no category (one-hot all
    0, ordinal -1), and the count reaches the summary the recipe panel shows."""
    from engine.tabular import table_summary
    from engine.tabular_recipe import Column, Table, fit_recipe
    from gui.panels.tabular_recipe import _summary_text

    def table(colours: list[str | None]) -> Table:
        return Table((Column("size", np.arange(len(colours), dtype=np.float64)),
                      Column("colour", np.array(colours, dtype=object)),
                      Column("label", np.array(["a", "b"] * (len(colours) // 2), dtype=object))))

    seen = table(["red", "blue", "red", "blue"])
    recipe = fit_recipe(seen, label="label")
    other = table(["red", "green", "green", None])  # None takes the fill (a seen category)
    assert recipe.unseen(seen) == {}
    assert recipe.unseen(other) == {"colour": 2}
    onehot = recipe.transform(other)[:, 1:]
    np.testing.assert_array_equal(onehot.sum(axis=1), [1, 0, 0, 1])
    ordinal = fit_recipe(seen, label="label", encodings={"colour": "ordinal"})
    assert ordinal.unseen(other) == {"colour": 2}
    summary = table_summary(TabularDataset(other, recipe, name="other", source="other.csv"))
    assert summary.unseen == {"colour": 2}
    text = _summary_text(summary, recipe.to_dict())
    assert "never saw (colour 2 rows)" in text
    assert "never saw" not in _summary_text(table_summary(TabularDataset(seen, recipe, name="s", source="s.csv")),
                                            recipe.to_dict())


def test_the_report_of_a_table_row_draws_its_top_features_not_a_strip(tmp_path: Path) -> None:
    """A table row's map in the HTML and PDF report is the canvas's chart: the top features by
    |attribution|, labelled "name = raw value", largest first, each with its signed value."""
    pytest.importorskip("keras")
    pdf_reader = pytest.importorskip("pypdf").PdfReader
    from engine.cli import main
    from engine.feature_bars import top_features

    lines = (DEMO / "breast_cancer.csv").read_text().splitlines()
    (tmp_path / "few.csv").write_text("\n".join(lines[:2]) + "\n")  # one row
    (tmp_path / "few_scaling.json").write_bytes((DEMO / "breast_cancer_scaling.json").read_bytes())
    out = tmp_path / "out"
    assert main(["explain", str(DEMO / "breast_cancer_mlp.keras"), str(tmp_path / "few.csv"), "--method",
                 "gradient_x_input", "--out", str(out), "--report", "html,pdf"]) == 0
    page = next(out.rglob("*.html")).read_text(encoding="utf-8")
    maps = np.load(next(out.rglob("*gradient_x_input*.npy")))
    dataset = load(tmp_path / "few.csv")
    from engine.tabular_explain import feature_labels

    expected = top_features(maps.reshape(-1), *feature_labels(dataset, 0), 10)
    assert 'class="feature-bars"' in page and 'class="overlay"' not in page
    rows = page.split('class="feature-bars"')[1].split("</table>")[0].split("<tr>")[1:]
    assert len(rows) == 10
    for row, (label, value) in zip(rows, expected, strict=True):
        assert label.replace(">", "&gt;") in row and f"{value:+.3g}" in row
    text = " ".join(p.extract_text() for p in pdf_reader(next(out.rglob("*.pdf"))).pages)
    assert expected[0][0] in text


def test_the_report_of_a_sentence_lists_its_top_tokens(tmp_path: Path) -> None:
    """A text case's map in the report is its words by |attribution| (padding left out), with
    the map's own signed values: the words the review demo learnt as negative raise "negative"."""
    pytest.importorskip("keras")
    from engine.cli import main

    sentence = "the food is dirty and rude but the staff has been wonderful sometimes"
    (tmp_path / "one.csv").write_text(f"text,label\n{sentence},negative\n")
    out = tmp_path / "out"
    assert main(["explain", str(DEMO / "review_sentiment.keras"), str(tmp_path / "one.csv"), "--method",
                 "gradient_x_input", "--out", str(out), "--report", "html"]) == 0
    maps = np.ravel(np.load(next(out.rglob("*gradient_x_input*.npy"))))
    tokens = json.loads(next(out.glob("*gradient_x_input.json")).read_text())["provenance"]["tokens"]
    page = next(out.rglob("*.html")).read_text(encoding="utf-8")
    rows = page.split('class="feature-bars"')[1].split("</table>")[0].split("<tr>")[1:]
    words = [row.split('<td class="feature">')[1].split("</td>")[0] for row in rows]
    read = [i for i, t in enumerate(tokens) if t]
    expected = sorted(read, key=lambda i: -abs(maps[i]))[:10]
    assert words == [tokens[i] for i in expected] and "" not in words
    assert set(words) <= set(sentence.split())
    assert {"rude", "dirty", "wonderful"} <= set(words[:3])
