"""Explain any model kind: pick the head and the input, run the method on a `View`, map back.

`explainers.create(name, model, output_index=..., region=..., **params)` returns a
`HeadExplainer` whenever the model is not a plain one-input classifier. Its `explain(x, targets)`
takes what the model takes (an array; a list or dict of arrays for several inputs; strings for
a TextVectorization model) and returns an `Explanation`, or one per input in the same structure
(list or dict) for multi-input models. Targets are per head kind: a class, a label, a
regression unit, or a dense map's class summed over `region`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from engine import heads as heads_mod
from engine.errors import BadInputError, NotSupportedError
from engine.explainers.result import Explanation
from engine.explainers.views import View, view
from engine.heads import REGRESSION, Head

TOKEN_DEFAULTS = {"patch_size": 1, "stride": 1}


class HeadExplainer:
    """A method explaining one head of any model, input by input; see the module docstring."""

    def __init__(self, cls: type, model: Any, head: Head, region: Any = None, **params: Any) -> None:
        self.model = model
        self.head = head
        self.cls = cls
        self.name, self.title = cls.name, cls.title
        if head.kind == REGRESSION and params.get("output") == "probability":
            raise BadInputError(f"{head.name!r} is a regression head: it has no probabilities (use output 'auto').")
        names = [t.name for t in model.inputs]
        self.input_names = names
        self.views = [view(model, head, k) for k in range(len(names))]
        first = self.views[0]
        if first.tokens_in:  # tokens are the units: hide one token at a time
            params = {**{k: v for k, v in TOKEN_DEFAULTS.items() if k in cls.defaults}, **params}
        if first.tokens_in and cls.image_only:
            raise NotSupportedError(f"{cls.title} explains images; this model reads tokens.")
        self._region = region
        first.set_region(region)
        if params.get("layer"):  # a layer of the user's model: inside the view it is nested
            params = {**params, "layer": f"{first.nested}/{params['layer']}"}
        self.explainers = [cls(v.model, **params) for v in self.views]
        self.params = self.explainers[0].params

    @property
    def notes(self) -> list[str]:
        return self.views[0].notes

    def explain(
        self,
        x: Any,
        targets: Sequence[int] | np.ndarray | int | None = None,
        progress: Callable[[float], Any] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> Explanation | list[Explanation] | dict[str, Explanation]:
        """Attributions towards `targets` (None: the predicted class; unit 0 of a regression head)."""
        arrays, structure = self._inputs(x)
        n = len(arrays[0])
        if targets is None and self.head.kind == REGRESSION:
            targets = np.zeros(n, np.int64)
        results = []
        for k, (v, explainer) in enumerate(zip(self.views, self.explainers)):
            v.set_region(self._region)
            share = _share(progress, k, len(self.views))
            if v.held is None:
                results.append(self._one(v, explainer, v.prepare(arrays[k]), targets, share, cancel))
                continue
            per_case = []
            for i in range(n):
                v.hold(arrays, i)  # the other inputs (or a masked text model's token ids) of case i
                case_targets = None if targets is None else np.broadcast_to(np.asarray(targets), (n,))[i: i + 1]
                per_case.append(self._one(v, explainer, v.prepare(arrays[k][i: i + 1]), case_targets,
                                          _share(share, i, n), cancel))
            results.append(_stack(per_case))
        if structure == "dict":
            return dict(zip(self.input_names, results))
        return results if structure == "list" else results[0]

    def scores(self, x: Any, targets: Sequence[int] | np.ndarray) -> np.ndarray:
        """The explained score of each case's target (what the maps attribute), for checks."""
        arrays, _ = self._inputs(x)
        v, explainer = self.views[0], self.explainers[0]
        v.set_region(self._region)
        targets = np.broadcast_to(np.asarray(targets, np.int64), (len(arrays[0]),))
        out = []
        for i in range(len(arrays[0])):
            v.hold(arrays, i)
            out.append(explainer.scores(v.prepare(arrays[0][i: i + 1]), targets[i: i + 1].copy())[0])
        return np.concatenate(out)

    def tokens(self, x: Any) -> list[list[str]]:
        """Each case's tokens as the model sees them (text and token-id models)."""
        v = self.views[0]
        if not v.tokens_in:
            raise NotSupportedError("This model does not read tokens.")
        arrays, _ = self._inputs(x)
        ids = v.token_ids(arrays[0])
        vocabulary = _vocabulary(self.model)
        return [[vocabulary[i] if 0 <= i < len(vocabulary) else str(i) for i in row] for row in ids.tolist()]

    def _one(self, v: View, explainer: Any, x: np.ndarray, targets: Any, progress: Any, cancel: Any) -> Explanation:
        result = explainer.explain(x, targets, progress=progress, cancel=cancel)
        if not v.tokens_in:
            return result
        per_token = result.maps.reshape(result.maps.shape[:2] + (-1,)).sum(axis=-1)  # over the embedding
        return dataclasses.replace(result, maps=per_token.astype(np.float32), heatmap=None, segments=None)

    def _inputs(self, x: Any) -> tuple[list[np.ndarray], str]:
        names = self.input_names
        if isinstance(x, Mapping):
            missing = [name for name in names if name not in x]
            if missing:
                raise BadInputError(f"Missing input {missing[0]!r}; the model's inputs are {', '.join(names)}.")
            arrays, structure = [x[name] for name in names], "dict"
        elif isinstance(x, (list, tuple)) and len(names) > 1:
            if len(x) != len(names):
                raise BadInputError(f"The model has {len(names)} inputs ({', '.join(names)}); got {len(x)} arrays.")
            arrays, structure = list(x), "list"
        elif len(names) > 1:
            raise BadInputError(f"The model has {len(names)} inputs ({', '.join(names)}): pass a list or a dict of arrays.")
        else:
            arrays, structure = [x], "single"
        arrays = [np.asarray(a) for a in arrays]
        if len({len(a) for a in arrays}) != 1 or len(arrays[0]) == 0:
            raise BadInputError("Every input must hold the same, non-zero number of cases.")
        return arrays, structure


def _share(progress: Callable[[float], Any] | None, k: int, n: int) -> Callable[[float], Any] | None:
    if progress is None:
        return None
    return lambda f: progress((k + f) / n)


def _stack(parts: list[Explanation]) -> Explanation:
    """Per-case explanations of one input as one batch."""
    if len(parts) == 1:
        return parts[0]
    def cat(name: str) -> Any:
        values = [getattr(p, name) for p in parts]
        return None if any(v is None for v in values) else np.concatenate(values)
    return dataclasses.replace(
        parts[0], maps=cat("maps"), heatmap=cat("heatmap"), targets=cat("targets"),
        completeness_gap=cat("completeness_gap"), segments=cat("segments"),
        elapsed=float(sum(p.elapsed for p in parts)),
    )


def _vocabulary(model: Any) -> list[str]:
    for layer in getattr(model, "layers", []):
        if hasattr(layer, "get_vocabulary"):
            return [str(t) for t in layer.get_vocabulary()]
    return []


def create(cls: type, model: Any, output_index: int | str | None = None, region: Any = None,
           head_kinds: Mapping[str | int, str] | None = None, **params: Any) -> Any:
    """A plain explainer when the model is a plain classifier and no head is asked, else a HeadExplainer."""
    from engine.explainers.views import is_plain

    if output_index is None and region is None and not head_kinds and is_plain(model):
        return cls(model, **params)
    found = heads_mod.with_kinds(heads_mod.model_heads(model), head_kinds or {})
    if not found:
        raise NotSupportedError(f"Model {model.name!r} has no symbolic outputs: pick a head only on functional models.")
    return HeadExplainer(cls, model, heads_mod.select(found, output_index), region=region, **params)
