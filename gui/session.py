"""The controller that owns opening cases, their preprocessing and their predictions.

`AppState` holds the open model, dataset and predictions; this fills the last two. Views ask it
to open a folder or to apply an edited recipe and follow `AppState`: the case list, the canvas
and the embedding therefore all read the one `Predictions` it publishes.

The recipe for a model is the one stored for it (by its identity) when it gave predictions
before; a model seen for the first time gets a recipe guessed from its input layer
(`engine.preprocessing.guess_recipe`), and the user is told so; it is never silently inherited
from the previous model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.class_names import ClassNames, read_labels_file, resolve
from engine.errors import GlassboxError
from engine.jobs import JobError
from engine.preprocessing import guess_recipe
from engine.tasks import OpenDataset, PredictDataset, SetPreprocessing
from gui.jobs import ViewJobs

SETTINGS_RECIPES = "preprocessing"  # {model sha256: recipe dict}
SETTINGS_LABELS = "labels_files"  # {model sha256: labels file}, kept with the model's settings


class Session(QObject):
    """See the module docstring. Its job bar is shown by the case view."""

    recipe_problem = Signal(str)  # "" when the recipe fits again
    skipped = Signal(tuple)  # file names that could not be read
    recipe_guessed = Signal(str)  # why this recipe, for a model seen for the first time

    def __init__(self, ctx: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.jobs = ViewJobs(
            None, ctx.engine, "cases", "Could not open the cases",
            inline=self.recipe_problem.emit, inline_slots=frozenset({"refit", "predict"}),
        )
        ctx.state.dataset_requested.connect(self.open)
        ctx.state.model_changed.connect(self._on_model_changed)

    @property
    def state(self) -> Any:
        return self.ctx.state

    # ----- class names -------------------------------------------------------------------
    def labels_file(self) -> str:
        model = self.state.model
        return self.ctx.settings.get(SETTINGS_LABELS, {}).get(getattr(model, "sha256", ""), "") if model else ""

    def set_labels_file(self, path: str) -> None:
        """Name the model's classes from `path` (kept for this model); "" goes back to the dataset's."""
        model = self.state.model
        if model is None:
            return
        if path:
            try:
                read_labels_file(path)
            except GlassboxError as exc:
                self.jobs.report(JobError(exc.kind, str(exc)), "Labels file")
                return
        files = dict(self.ctx.settings.get(SETTINGS_LABELS, {}))
        files[model.sha256] = path
        self.ctx.settings.set(SETTINGS_LABELS, files)
        self.update_class_names()
        self.state.predictions_changed.emit(self.state.predictions)  # views redraw their names

    def update_class_names(self, dataset: Any = ..., predictions: Any = ...) -> ClassNames:
        """The one output-index -> name mapping (engine.class_names) for the model and cases
        (the open ones, or those about to be published)."""
        dataset = self.state.dataset if dataset is ... else dataset
        predictions = self.state.predictions if predictions is ... else predictions
        model = self.state.model
        k = None
        if predictions is not None:
            k = predictions.probabilities.shape[1]
        elif getattr(model, "outputs", None) and model.outputs[0].shape:
            k = model.outputs[0].shape[-1]
            k = 2 if k == 1 else k  # one sigmoid unit: two classes (engine.predictions)
        labels: tuple[str, ...] = ()
        if self.labels_file():
            try:
                labels = read_labels_file(self.labels_file())
            except GlassboxError:
                labels = ()
        classes = tuple(dataset.class_names) if dataset is not None else ()
        self.state.class_names = resolve(k, classes, labels)
        return self.state.class_names

    # ----- opening ---------------------------------------------------------------------
    def open(self, path: str, paths: list[str] | None = None) -> None:
        """Open cases (folder, .npz, image files) on the engine thread, fitted to the model."""
        self.jobs.forget()
        self.jobs.start(
            OpenDataset(path=path, paths=tuple(paths) if paths else None, preprocessing=self.recipe_for_model()),
            self._on_opened,
            slot="open",
            message=f"Opening {Path(path).name}…",
        )

    def _on_opened(self, summary: Any) -> None:
        self.recipe_problem.emit("")
        self._publish_dataset(summary)
        if summary.skipped:
            self.skipped.emit(tuple(summary.skipped))
        self.predict()

    # ----- recipe ----------------------------------------------------------------------
    def recipe_for_model(self) -> dict | None:
        """The recipe stored for this model, else one guessed from its input layer."""
        model = self.state.model
        if model is None:
            return self.state.dataset.preprocessing if self.state.dataset is not None else None
        stored = self.ctx.settings.get(SETTINGS_RECIPES, {}).get(getattr(model, "sha256", ""))
        if stored:
            return stored
        recipe, why = guess_recipe(model)
        self.recipe_guessed.emit(why)
        if why:  # a model of rows (tabular, token ids) has no image recipe to guess
            self.state.notice.emit(why)
        return recipe.to_dict()

    def set_recipe(self, recipe: dict | None) -> None:
        """Re-fit the open cases under `recipe` (a user edit, or the model changed)."""
        if self.state.dataset is None:
            return
        self.jobs.cancel("predict")
        self.jobs.start(SetPreprocessing(preprocessing=recipe), self._on_refitted, slot="refit",
                        on_error=self._on_refit_error, message="Applying preprocessing…")

    def _on_refitted(self, summary: Any) -> None:
        self.recipe_problem.emit("")
        if summary.hash != getattr(self.state.dataset, "hash", None):
            self._publish_dataset(summary)
        self.predict()

    def show_dataset(self, summary: Any) -> None:
        """The open cases changed in the engine (a counterfactual was kept): publish, predict."""
        self._publish_dataset(summary)
        self.predict()

    def _publish_dataset(self, summary: Any) -> None:
        self.update_class_names(dataset=summary, predictions=None)  # names first: views read them
        self.state.set_dataset(summary)

    def _on_refit_error(self, error: JobError) -> None:
        if error.kind != "cancelled":
            self.state.set_predictions(None)

    def _on_model_changed(self, description: Any) -> None:
        self.update_class_names()
        if self.state.dataset is None:
            return
        if description is None:
            self.jobs.cancel("predict")
        else:
            self.set_recipe(self.recipe_for_model())

    # ----- predictions ------------------------------------------------------------------
    def predict(self) -> None:
        """Predict every case in the background (needs an open model and cases)."""
        if self.state.dataset is None or self.state.model is None:
            return
        self.jobs.start(PredictDataset(), self._on_predicted, slot="predict", message="Predicting…")

    def _on_predicted(self, predictions: Any) -> None:
        dataset, model = self.state.dataset, self.state.model
        if dataset is None or predictions.dataset_hash != dataset.hash:
            return  # made for an older dataset or recipe; a newer job is on its way
        self.update_class_names(predictions=predictions)
        self.state.set_predictions(predictions)
        if model is not None and model.sha256 and predictions.model_sha256 == model.sha256:
            self._remember_recipe(model.sha256, dataset.preprocessing)

    def _remember_recipe(self, sha256: str, recipe: dict) -> None:
        """Store the recipe that just gave predictions for this model in the settings."""
        recipes = dict(self.ctx.settings.get(SETTINGS_RECIPES, {}))
        if recipes.get(sha256) != recipe:
            recipes[sha256] = recipe
            self.ctx.settings.set(SETTINGS_RECIPES, recipes)
