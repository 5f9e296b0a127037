"""Typed engine tasks: import a Request from here, submit it; see `registry` for how it runs."""

from engine.tasks.registry import REGISTRY, Priority, TaskSpec, job_key, run_request, spec_of, task
from engine.tasks.requests import (
    ComputeEmbedding,
    ExplainCase,
    LayerActivationsRequest,
    LayerWeightsRequest,
    ListMethods,
    ListProjections,
    LoadCustomObjects,
    OpenDataset,
    OpenModel,
    PredictDataset,
    SetPreprocessing,
    ShowCase,
    WeightOverviewRequest,
)

__all__ = [
    "REGISTRY",
    "ComputeEmbedding",
    "ExplainCase",
    "LayerActivationsRequest",
    "LayerWeightsRequest",
    "ListMethods",
    "ListProjections",
    "LoadCustomObjects",
    "OpenDataset",
    "OpenModel",
    "PredictDataset",
    "Priority",
    "SetPreprocessing",
    "ShowCase",
    "TaskSpec",
    "WeightOverviewRequest",
    "job_key",
    "run_request",
    "spec_of",
    "task",
]
