"""Attribution methods by name: ``available()`` for forms, ``create(name, model, **params)``.

Method modules import TensorFlow, so they are imported by name only when asked for; importing
this package (or ``engine.explainers.result``) stays light enough for the GUI.
"""

from __future__ import annotations

import importlib
from typing import Any

from engine.errors import BadInputError
from engine.explainers.result import Explanation, MethodInfo

__all__ = ["METHODS", "Explanation", "MethodInfo", "available", "create"]

METHODS: dict[str, str] = {
    "saliency": "engine.explainers.saliency:Saliency",
    "gradient_x_input": "engine.explainers.gradient_x_input:GradientXInput",
    "smoothgrad": "engine.explainers.smoothgrad:SmoothGrad",
    "vargrad": "engine.explainers.vargrad:VarGrad",
    "squaregrad": "engine.explainers.squaregrad:SquareGrad",
    "integrated_gradients": "engine.explainers.integrated_gradients:IntegratedGradients",
    "expected_gradients": "engine.explainers.expected_gradients:ExpectedGradients",
    "guided_backprop": "engine.explainers.guided_backprop:GuidedBackprop",
    "gradcam": "engine.explainers.gradcam:GradCAM",
    "gradcam_pp": "engine.explainers.gradcam_pp:GradCAMPlusPlus",
    "layercam": "engine.explainers.layercam:LayerCAM",
    "scorecam": "engine.explainers.scorecam:ScoreCAM",
    "occlusion": "engine.explainers.occlusion:Occlusion",
    "rise": "engine.explainers.rise:Rise",
    "lime": "engine.explainers.lime:Lime",
    "kernel_shap": "engine.explainers.kernel_shap:KernelShap",
}


def _load(name: str) -> Any:
    """The explainer class for `name`; None if its module file does not exist (yet)."""
    module_name, _, attr = METHODS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None
        raise
    return getattr(module, attr)


def available() -> list[MethodInfo]:
    """Every installed method with its parameters and defaults, in a stable order."""
    infos = []
    for name in METHODS:
        cls = _load(name)
        if cls is not None:
            infos.append(cls.info())
    return infos


def create(name: str, model: Any, output_index: int | str | None = None, region: Any = None,
           head_kinds: dict[Any, str] | None = None, **params: Any) -> Any:
    """An explainer of `model` with `params` checked against the method's defaults.

    `output_index` picks the head (index or name; None: the first classifier head), `region` a
    dense head's region, `head_kinds` overrides detected head kinds; see engine.explainers.adapt.
    """
    cls = _load(name) if name in METHODS else None
    if cls is None:
        known = ", ".join(info.name for info in available())
        raise BadInputError(f"Unknown attribution method {name!r}; available: {known}.")
    from engine.explainers.adapt import create as create_for_head

    return create_for_head(cls, model, output_index=output_index, region=region, head_kinds=head_kinds, **params)
