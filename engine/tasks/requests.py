"""Every Request the GUI (or a bench) may submit, one frozen dataclass per engine task.

Importing this module is light (no TensorFlow, no numpy work): the task functions are named by
dotted path and imported on the engine thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.tasks.registry import Priority, task

INTERACTIVE, NORMAL, BACKGROUND = Priority.INTERACTIVE, Priority.NORMAL, Priority.BACKGROUND


@task("engine.models:open_model_task", "engine.description:ModelDescription", NORMAL, "open model")
@dataclass(frozen=True)
class OpenModel:
    path: str
    trust: bool | str = False  # True (CLI) or the SHA-256 of the exact content the user trusted


@task("engine.custom_objects:load_custom_objects_task", "builtins:tuple", NORMAL, "custom objects")
@dataclass(frozen=True)
class LoadCustomObjects:
    path: str
    sha256: str  # the content the user confirmed: only these bytes run


@task("engine.data:open_dataset_task", "engine.data:DatasetSummary", NORMAL, "open dataset")
@dataclass(frozen=True)
class OpenDataset:
    path: str
    paths: Sequence[str] | None = None
    preprocessing: dict[str, Any] | None = None


@task("engine.data:set_preprocessing_task", "engine.data:DatasetSummary", NORMAL, "preprocessing")
@dataclass(frozen=True)
class SetPreprocessing:
    preprocessing: dict[str, Any] | None = None


@task("engine.predictions:predict_task", "engine.predictions:Predictions", BACKGROUND, "predict dataset")
@dataclass(frozen=True)
class PredictDataset:
    batch_size: int = 64


@task("engine.explain_service:available_methods_task", "builtins:list", NORMAL, "methods")
@dataclass(frozen=True)
class ListMethods:
    pass


@task("engine.explain_service:case_view_task", "engine.explain_service:CaseView", INTERACTIVE, "case view")
@dataclass(frozen=True)
class ShowCase:
    case: int
    k: int = 5


@task("engine.explain_service:explain_case_task", "engine.explainers.result:Explanation", INTERACTIVE, "explain")
@dataclass(frozen=True)
class ExplainCase:
    case: int
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    target: int | None = None
    output_index: int | str | None = None  # the head (index or name); None: the first classifier head
    region: Any = None  # a dense head's region (engine.explainers.adapt)


@task("engine.activations:activations_task", "engine.activations:LayerActivations", INTERACTIVE, "activations")
@dataclass(frozen=True)
class LayerActivationsRequest:
    path: str
    cases: tuple[int, ...] = ()


@task("engine.weights:layer_weights_task", "engine.weights:LayerWeights", INTERACTIVE, "layer weights")
@dataclass(frozen=True)
class LayerWeightsRequest:
    path: str


@task("engine.weights:weight_overview_task", "engine.weights:WeightOverview", BACKGROUND, "weight overview")
@dataclass(frozen=True)
class WeightOverviewRequest:
    pass


@task("engine.embedding:projections_task", "builtins:list", NORMAL, "projections")
@dataclass(frozen=True)
class ListProjections:
    pass


@task("engine.embedding:embedding_task", "engine.embedding:Embedding", BACKGROUND, "embedding")
@dataclass(frozen=True)
class ComputeEmbedding:
    layer: str = ""
    pooling: str = "avg"
    method: str = "tsne"
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    regions: bool = True
    thumbnails: bool = False
    batch_size: int = 128


# ----- issue 12: the user's kind for one output head ------------------------------------------
@task("engine.heads:set_head_kind_task", "engine.description:ModelDescription", INTERACTIVE, "head kind")
@dataclass(frozen=True)
class SetHeadKind:
    head: int
    kind: str


# ----- issue 11: scorecard and benchmark ---------------------------------------------------------
@task("engine.scorecard_service:metrics_info_task", "builtins:list", NORMAL, "metrics")
@dataclass(frozen=True)
class ListMetrics:
    pass


@task("engine.scorecard_service:score_case_task", "engine.scorecard_service:Scorecard", NORMAL, "scorecard")
@dataclass(frozen=True)
class ScoreCase:
    case: int
    method: str
    names: tuple[str, ...]  # which metrics (engine.scorecard_service.FAST_METRICS: the quick ones)
    params: dict[str, Any] | None = None
    target: int | None = None
    metric_params: dict[str, Any] | None = None  # e.g. {"baseline": "blur", "blur_sigma": 5.0}, to the metrics that take them


@task("engine.scorecard_service:benchmark_task", "engine.scorecard_service:Benchmark", BACKGROUND, "benchmark")
@dataclass(frozen=True)
class RunBenchmark:
    cases: list[int]
    methods: list[str]
    names: list[str]
    params: dict[str, dict[str, Any]] | None = None
    metric_params: dict[str, Any] | None = None  # as ScoreCase's


# ----- issue 13: report export -------------------------------------------------------------------
@task("engine.reports.tasks:case_report_task", "builtins:list", NORMAL, "case report")
@dataclass(frozen=True)
class CaseReport:
    case: int
    path: str
    log_path: str
    review_path: str = ""
    reviewer: str = ""


@task("engine.reports.tasks:review_report_task", "builtins:list", NORMAL, "review report")
@dataclass(frozen=True)
class ReviewReport:
    path: str
    log_path: str
    review_path: str
    reviewer: str = ""


# ----- issue 16: training runs -------------------------------------------------------------------
@task("engine.training.tasks:open_run_task", "engine.training.tasks:OpenedRun", NORMAL, "training run")
@dataclass(frozen=True)
class OpenTrainingRun:
    path: str


@task("engine.training.tasks:influence_task", "engine.training.tasks:CaseInfluence", NORMAL, "influence")
@dataclass(frozen=True)
class CaseInfluenceRequest:
    path: str
    case: int
    top_k: int = 10


# ----- issue 15: tabular cases ------------------------------------------------------------------
@task("engine.tabular_explain:explain_tabular_task", "engine.tabular_explain:TabularExplanation", INTERACTIVE,
      "explain tabular")
@dataclass(frozen=True)
class ExplainTabular:
    """A row of features explained for the bar chart and waterfall (engine.tabular_explain)."""

    case: int
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    target: int | None = None
    output_index: int | str | None = None


# ----- issue 15: global explanations over the open dataset ---------------------------------------
@task("engine.global_explanations.tasks:permutation_importance_task",
      "engine.global_explanations.results:PermutationImportance", BACKGROUND, "permutation importance")
@dataclass(frozen=True)
class PermutationImportanceRequest:
    n_repeats: int = 5
    seed: int = 0
    scoring: str = "accuracy"  # accuracy | log_loss
    max_cases: int = 1000
    batch_size: int = 256
    features: str = "grid"  # images: grid | slic
    cell_size: int = 4
    n_segments: int = 16
    head: int | None = None  # the output explained; None: the first classifier head


@task("engine.global_explanations.tasks:normlime_task", "engine.global_explanations.results:NormLime",
      BACKGROUND, "normlime")
@dataclass(frozen=True)
class NormLimeRequest:
    nb_samples: int = 300
    seed: int = 0
    max_cases: int = 200
    batch_size: int = 256
    features: str = "grid"
    cell_size: int = 4
    n_segments: int = 16
    fill_value: float = 0.0
    head: int | None = None  # the output explained; None: the first classifier head


@task("engine.global_explanations.tasks:attribution_summary_task",
      "engine.global_explanations.results:AttributionSummary", BACKGROUND, "attribution summary")
@dataclass(frozen=True)
class AttributionSummaryRequest:
    method: str = "gradient_x_input"
    params: dict[str, Any] = field(default_factory=dict)
    max_cases: int = 500
    seed: int = 0
    head: int | None = None  # the output explained; None: the first classifier head


# ----- issue 15: what-if editing and counterfactuals ---------------------------------------------
@task("engine.whatif:whatif_case_task", "engine.whatif:WhatIfCase", INTERACTIVE, "what-if case")
@dataclass(frozen=True)
class WhatIfCaseRequest:
    case: int


@task("engine.whatif:whatif_predict_task", "engine.whatif:WhatIfPrediction", INTERACTIVE, "what-if predict")
@dataclass(frozen=True)
class WhatIfPredict:
    case: int
    edit: dict[str, Any]  # engine.whatif: {"kind": "text" | "features" | "brush", ...}
    k: int = 5


@task("engine.whatif:whatif_explain_task", "engine.explainers.result:Explanation", INTERACTIVE, "what-if map")
@dataclass(frozen=True)
class WhatIfExplain:
    case: int
    edit: dict[str, Any]
    method: str = "saliency"
    params: dict[str, Any] = field(default_factory=dict)
    target: int | None = None
    output_index: int | str | None = None


@task("engine.whatif_store:load_counterfactuals_task", "engine.data:DatasetSummary", NORMAL, "counterfactuals")
@dataclass(frozen=True)
class LoadCounterfactuals:
    path: str  # the review file; counterfactuals are stored beside it


@task("engine.whatif_store:keep_counterfactual_task", "engine.whatif_store:Kept", NORMAL, "keep counterfactual")
@dataclass(frozen=True)
class KeepCounterfactual:
    path: str  # the review file
    case: int
    edit: dict[str, Any]
    reviewer: str = ""
