"""Attribution methods by name: ``available()`` for forms, ``create(name, model, **params)``.

Method modules import TensorFlow, so they are imported by name only when asked for; importing
this package (or ``engine.explainers.result``) stays light enough for the GUI.
"""

from __future__ import annotations

from typing import Any

from engine.explainers.result import Explanation, MethodInfo
from engine.registry import LazyRegistry

__all__ = ["METHODS", "Explanation", "MethodInfo", "available", "create", "info"]

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


_REGISTRY: LazyRegistry[MethodInfo] = LazyRegistry(METHODS, lambda cls: cls.info(), "attribution method")
available = _REGISTRY.available  # every method's MethodInfo (parameters, defaults, `fast`), in order
info = _REGISTRY.info  # one method's MethodInfo by name; unknown: BadInputError listing the known


def create(name: str, model: Any, output_index: int | str | None = None, region: Any = None,
           head_kinds: dict[Any, str] | None = None, **params: Any) -> Any:
    """An explainer of `model` with `params` checked against the method's defaults.

    `output_index` picks the head (index or name; None: the first classifier head), `region` a
    dense head's region, `head_kinds` overrides detected head kinds; see engine.explainers.adapt.
    """
    cls = _REGISTRY.load(name)
    from engine.explainers.adapt import create as create_for_head

    return create_for_head(cls, model, output_index=output_index, region=region, head_kinds=head_kinds, **params)
