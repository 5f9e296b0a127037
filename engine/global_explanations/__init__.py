"""Global explanations: how a model uses its features over a whole dataset (Qt-free, batched,
with progress and cancel like the explainers).

    from engine.global_explanations import permutation_importance, normlime, attribution_summary
    r = permutation_importance(model, x, y, n_repeats=5, seed=0, scoring="accuracy", batch_size=256)
    r.importances_mean, r.importances_std, r.importances   # (F,), (F,), (F, n_repeats)

Importing this package is light (numpy only); TensorFlow is imported when a Keras model runs.
The engine tasks the GUI submits (cached, with provenance) are in `tasks`.
"""

from __future__ import annotations

from engine.global_explanations.normlime import normlime
from engine.global_explanations.permutation import permutation_importance
from engine.global_explanations.results import AttributionSummary, GlobalResult, NormLime, PermutationImportance
from engine.global_explanations.summary import attribution_summary

__all__ = [
    "AttributionSummary",
    "GlobalResult",
    "NormLime",
    "PermutationImportance",
    "attribution_summary",
    "normlime",
    "permutation_importance",
]
