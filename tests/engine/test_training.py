"""engine.training on a recorded run of a tiny MLP on scikit-learn's digits, 10% labels flipped.

Known answers: the mislabel ranking finds the flipped cases, a duplicated training case is its
own top proponent, TracIn equals explicit last-layer gradients, forgetting counts equal a hand
count, and the recorder's arrays equal the model's predictions at the same epoch.
"""

from __future__ import annotations

import csv
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

from engine.errors import BadInputError
from engine.training import TrainingRecorder, analyze, influence, read_run, read_scalars
from engine.training.analysis import AMBIGUOUS, EASY, HARD
from engine.training.labels import FILE_NAME, LabelReviewStore, corrected_labels_csv
from engine.training.run import FORMAT, apply_weights
from tests.training_runs import write_run

N_TRAIN, EPOCHS, EVERY, FLIP = 600, 12, 4, 0.10
PROBE_EPOCH = 5


def tiny_model() -> keras.Model:
    inputs = keras.Input((64,))
    h = keras.layers.Dense(32, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(10, activation="softmax", name="out")(h)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


class Probe(keras.callbacks.Callback):
    """After the recorder, at one epoch: the model's own predictions and what a reader sees."""

    def __init__(self, x: np.ndarray, run_dir: Path) -> None:
        super().__init__()
        self.x, self.run_dir = x, run_dir
        self.probabilities: np.ndarray | None = None
        self.seen_epochs = -1
        self.seen_complete = True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if epoch + 1 == PROBE_EPOCH:
            self.probabilities = self.model.predict(self.x, batch_size=128, verbose=0)
            partial = analyze(self.run_dir)  # the run is readable while training goes on
            self.seen_epochs, self.seen_complete = len(partial.epochs), partial.complete


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    digits = load_digits()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(digits.target))[:N_TRAIN]
    x = (digits.data[order] / 16.0).astype(np.float32)
    clean = digits.target[order].astype(np.int64)
    flipped = rng.choice(N_TRAIN, int(FLIP * N_TRAIN), replace=False)
    y = clean.copy()
    y[flipped] = (y[flipped] + rng.integers(1, 10, len(flipped))) % 10  # always another class
    run_dir = tmp_path_factory.mktemp("runs") / "digits"
    keras.utils.set_random_seed(0)
    model = tiny_model()
    probe = Probe(x, run_dir)
    history = model.fit(
        x, y, batch_size=32, epochs=EPOCHS, verbose=0,
        callbacks=[TrainingRecorder(x, y, run_dir, checkpoint_every=EVERY), probe],
    )
    return {"x": x, "y": y, "clean": clean, "flipped": flipped, "run_dir": run_dir, "model": model,
            "probe": probe, "history": history.history}


def test_the_run_folder_is_small_and_complete(recorded: dict) -> None:
    run = read_run(recorded["run_dir"])
    assert run.manifest["format"] == FORMAT and run.manifest["complete"] is True
    assert run.records.shape == (EPOCHS, N_TRAIN) and run.records.dtype.itemsize == 16
    assert (recorded["run_dir"] / "epochs" / "0001.npy").stat().st_size < 16 * N_TRAIN + 200
    assert [c.epoch for c in run.checkpoints] == [4, 8, 12]
    np.testing.assert_array_equal(run.labels, recorded["y"])
    np.testing.assert_allclose(run.scalars["loss"], recorded["history"]["loss"], rtol=1e-6)
    np.testing.assert_allclose(run.scalars["learning_rate"], 1e-2, rtol=1e-6)


def test_recorder_arrays_equal_direct_predictions(recorded: dict) -> None:
    probabilities = recorded["probe"].probabilities
    record = read_run(recorded["run_dir"]).records[PROBE_EPOCH - 1]
    y = recorded["y"]
    rows = np.arange(len(y))
    np.testing.assert_allclose(record["p_label"], probabilities[rows, y], rtol=1e-5, atol=1e-7)
    others = probabilities.copy()
    others[rows, y] = -1
    np.testing.assert_allclose(record["p_other"], others.max(axis=1), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(record["predicted"], probabilities.argmax(axis=1))
    np.testing.assert_allclose(record["loss"], -np.log(probabilities[rows, y]), rtol=1e-4, atol=1e-5)


def test_the_run_is_readable_while_training(recorded: dict) -> None:
    assert recorded["probe"].seen_epochs == PROBE_EPOCH
    assert recorded["probe"].seen_complete is False


def test_mislabel_ranking_finds_the_flipped_labels(recorded: dict) -> None:
    a = analyze(recorded["run_dir"])
    k = len(recorded["flipped"])
    precision = len(np.intersect1d(a.mislabel_ranking[:k], recorded["flipped"])) / k
    chance = k / N_TRAIN
    print(f"precision at {k} flipped of {N_TRAIN}: {precision:.3f} (chance {chance:.2f})")
    assert precision >= 0.6, precision  # chance is 0.10
    assert sorted(a.mislabel_ranking.tolist()) == list(range(N_TRAIN))
    # flipped cases sit in the hard-to-learn corner far more often than the others
    hard = a.region == HARD
    others = np.setdiff1d(np.arange(N_TRAIN), recorded["flipped"])
    assert hard[recorded["flipped"]].mean() > 3 * hard[others].mean()


def test_forgetting_counts_equal_a_hand_count(recorded: dict) -> None:
    run = read_run(recorded["run_dir"])
    a = analyze(run)
    for case in range(0, N_TRAIN, 7):
        history = [int(run.records["predicted"][e, case]) == int(run.labels[case]) for e in range(EPOCHS)]
        forgotten = sum(1 for before, after in zip(history, history[1:]) if before and not after)
        assert a.forgetting_events[case] == forgotten
        assert a.never_learned[case] == (not any(history))


def test_analysis_on_a_hand_made_run(tmp_path: Path) -> None:
    labels = np.array([0, 1, 2, 3])
    right, wrong = labels, (labels + 1) % 4
    # per case: 0 learned then forgotten twice; 1 never learned; 2 always right; 3 forgotten once
    pattern = np.array([[1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 1, 1], [0, 1, 1, 0]], bool).T  # (E, N)
    predicted = np.where(pattern, right, wrong)
    p_label = np.where(pattern, 0.8, 0.1).astype(np.float32)
    p_other = np.where(pattern, 0.1, 0.7).astype(np.float32)
    a = analyze(write_run(tmp_path, predicted, p_label, p_other, labels))
    np.testing.assert_array_equal(a.forgetting_events, [2, 0, 0, 1])
    np.testing.assert_array_equal(a.never_learned, [False, True, False, False])
    np.testing.assert_allclose(a.confidence, p_label.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(a.aum, [(0.7 * 2 - 0.6 * 2) / 4, -0.6, 0.7, (0.7 * 2 - 0.6 * 2) / 4], rtol=1e-5, atol=1e-7)
    assert a.region.tolist() == [AMBIGUOUS, HARD, EASY, AMBIGUOUS]
    assert a.mislabel_ranking[0] == 1 and a.mislabel_ranking[-1] == 2


def test_a_duplicated_training_case_is_its_own_top_proponent(recorded: dict) -> None:
    a = analyze(recorded["run_dir"])
    cases = a.mislabel_ranking[:10]  # high-loss cases: their gradients are large and distinct
    inf = influence(recorded["run_dir"], recorded["model"], recorded["x"][cases], recorded["y"][cases], top_k=5)
    assert inf.proponents.shape == inf.scores.shape == inf.opponents.shape == (10, 5)
    np.testing.assert_array_equal(inf.proponents[:, 0], cases)
    assert np.all(np.diff(inf.scores, axis=1) <= 0) and np.all(inf.scores[:, 0] > 0)
    assert np.all(np.diff(inf.opponent_scores, axis=1) >= 0) and np.all(inf.opponent_scores[:, 0] < 0)
    np.testing.assert_allclose(inf.scores[:, 0], inf.self_scores, rtol=2e-2)


def test_tracin_equals_explicit_last_layer_gradients(recorded: dict) -> None:
    """sum_t lr_t * grad . grad with tf.GradientTape, against the factorised form."""
    x, y, run_dir = recorded["x"], recorded["y"], recorded["run_dir"]
    test = np.array([3])
    inf = influence(run_dir, recorded["model"], x[test], y[test], top_k=3)
    clone = keras.models.clone_model(recorded["model"])
    loss = keras.losses.SparseCategoricalCrossentropy()

    def gradient(i: int) -> np.ndarray:
        with tf.GradientTape() as tape:
            value = loss(y[i : i + 1], clone(x[i : i + 1], training=False))
        layer = clone.get_layer("out")
        return np.concatenate([g.numpy().ravel() for g in tape.gradient(value, [layer.kernel, layer.bias])])

    for j, expected_score in zip(inf.proponents[0], inf.scores[0]):
        total = 0.0
        for checkpoint in read_run(run_dir).checkpoints:
            apply_weights(clone, checkpoint)
            total += checkpoint.learning_rate * float(gradient(int(j)) @ gradient(int(test[0])))
        assert expected_score == pytest.approx(total, rel=2e-2)


def test_influence_with_a_random_projection_keeps_the_shape_and_is_seeded(recorded: dict) -> None:
    x, y = recorded["x"][:4], recorded["y"][:4]
    first = influence(recorded["run_dir"], recorded["model"], x, y, top_k=4, projection_dim=8, seed=1)
    again = influence(recorded["run_dir"], recorded["model"], x, y, top_k=4, projection_dim=8, seed=1)
    assert first.proponents.shape == (4, 4)
    np.testing.assert_array_equal(first.proponents, again.proponents)


def test_a_model_that_does_not_fit_the_checkpoints_is_a_clear_error(recorded: dict) -> None:
    other = keras.Sequential([keras.Input((64,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    with pytest.raises(BadInputError, match="does not fit"):
        influence(recorded["run_dir"], other, recorded["x"][:1], recorded["y"][:1])


def test_a_folder_that_is_not_a_run_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="not a training run"):
        analyze(tmp_path)


def test_tensorboard_scalars_are_read(tmp_path: Path) -> None:
    """Event files as Keras' TensorBoard callback writes them (a train/ folder, TF2 tensor scalars).

    Written with tf.summary.write, the op under tf.summary.scalar, which needs no tensorboard package.
    """
    losses = [0.9, 0.5, 0.25]
    writer = tf.summary.create_file_writer(str(tmp_path / "logs" / "train"))
    with writer.as_default():
        for step, value in enumerate(losses):
            tf.summary.write("epoch_loss", tf.constant(value, tf.float32), step=step)
            tf.summary.write("not_a_scalar", tf.constant([1.0, 2.0]), step=step)
    writer.close()
    scalars = read_scalars(tmp_path / "logs")
    assert list(scalars) == ["train/epoch_loss"]
    steps, values = scalars["train/epoch_loss"]
    np.testing.assert_array_equal(steps, [0, 1, 2])
    np.testing.assert_allclose(values, losses, rtol=1e-6)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BadInputError, match="no TensorBoard event files"):
        read_scalars(tmp_path / "empty")


def test_label_verdicts_persist_and_export_as_corrected_labels(tmp_path: Path) -> None:
    store = LabelReviewStore(tmp_path / FILE_NAME, "abc")
    store.set_case(2, "mislabeled")
    store.set_case(0, "correct label")
    store.set_case(2, "mislabeled")  # no change, no new history entry
    with pytest.raises(BadInputError):
        store.set_case(1, "plausible")
    again = LabelReviewStore(tmp_path / FILE_NAME, "abc")
    assert again.case_verdicts(3) == ["correct label", None, "mislabeled"] and again.warning == ""  # nothing quarantined
    assert [e["value"] for e in again.history("case 2", "abc:2")] == ["mislabeled"]
    assert LabelReviewStore(tmp_path / FILE_NAME, "another dataset").case_verdicts(3) == [None, None, None]
    rows = corrected_labels_csv(tmp_path / "fixed.csv", again.case_verdicts(3), np.array([4, 5, 6]),
                                np.array([4, 0, 9]), np.array([10, 11, 12]), tuple("abcdefghij"))
    assert rows == 2
    with open(tmp_path / "fixed.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [(r["case"], r["dataset_case"], r["label"], r["corrected_label"], r["corrected_class"]) for r in table] == [
        ("0", "10", "4", "4", "e"), ("2", "12", "6", "9", "j")]


def test_the_committed_demo_runs_are_small_and_find_their_flipped_labels() -> None:
    runs = Path(__file__).resolve().parents[2] / "resources" / "demo" / "runs"
    assert sum(p.stat().st_size for p in runs.rglob("*") if p.is_file()) < 6_000_000
    clean, noisy = analyze(runs / "digits"), analyze(runs / "digits-flipped-5pct")
    assert clean.complete and noisy.complete and len(clean) == len(noisy) == 1437
    flipped = np.load(runs / "digits-flipped-5pct" / "flipped.npy")
    assert len(flipped) == 72 and np.sum(clean.labels != noisy.labels) == 72
    np.testing.assert_array_equal(np.flatnonzero(clean.labels != noisy.labels), flipped)
    k = len(flipped)
    assert len(np.intersect1d(noisy.mislabel_ranking[:k], flipped)) / k >= 0.6  # chance: 0.05
    with np.load(runs.parent / "digits_cases.npz") as cases:
        np.testing.assert_array_equal(cases["y"][clean.case_index], clean.labels)
        assert set(cases["split"][clean.case_index]) == {"train"}
