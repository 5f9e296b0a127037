"""The views the main window shows, in order. Each view is ``View(ctx: AppContext, parent=None)``.

area: "center" (the attribution canvas), or a dock area "left", "right", "bottom"; docks in the
same area are tabbed, the first one on top.
"""

from __future__ import annotations

from typing import NamedTuple


class ViewSpec(NamedTuple):
    name: str  # object name, stable: dock state is saved under it
    title: str
    factory: str  # "gui.views.module:Class"
    area: str
    shortcut: str  # raises the view (View menu)


VIEWS: list[ViewSpec] = [
    ViewSpec("modelBrowser", "Model", "gui.views.model_browser:ModelBrowser", "left", "Ctrl+1"),
    ViewSpec("cases", "Cases", "gui.views.cases:CaseView", "left", "Ctrl+2"),
    ViewSpec("attribution", "Attribution", "gui.views.canvas:AttributionView", "center", "Ctrl+0"),
    ViewSpec("embedding", "Embedding", "gui.views.embedding:EmbeddingView", "bottom", "Ctrl+5"),
    ViewSpec("training", "Training", "gui.views.training:TrainingView", "bottom", "Ctrl+7"),
    ViewSpec("activations", "Activations", "gui.views.activations:ActivationView", "right", "Ctrl+3"),
    ViewSpec("weights", "Weights", "gui.views.weights:WeightView", "right", "Ctrl+4"),
    ViewSpec("benchmark", "Benchmark", "gui.views.benchmark:BenchmarkView", "bottom", "Ctrl+6"),
    ViewSpec("global", "Global", "gui.views.global_view:GlobalView", "bottom", "Ctrl+8"),
    ViewSpec("whatif", "What-if", "gui.views.whatif:WhatIfView", "bottom", "Ctrl+9"),
]
