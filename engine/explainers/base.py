"""The shared machinery behind every attribution method: parameters, targets, batching, records.

How to write a method (one file per method, registered by name in ``engine/explainers/__init__``):

    class Saliency(Explainer):
        name = "saliency"
        title = "Saliency"
        description = "Gradient of the target score with respect to each input value."
        defaults = {**Explainer.defaults}            # add yours: {"steps": 64, ...}
        choices = {**Explainer.choices}              # str parameters: allowed values
        bounds = {**Explainer.bounds}                # numbers: (low, high), inclusive
        stochastic = False                           # True if `seed` changes the result
        image_only = False                           # True if (N, F) tabular input is refused
        heatmap_reduce = "abs_max"                   # channel reduction: sum|mean|abs_max|abs_sum

        def compute(self, x, targets):
            grads, _, _ = self.gradients(x, targets)
            return grads                             # or (maps, {"completeness_gap": ...})

`compute(x, targets)` gets a validated float32 batch and int64 targets (one per case, resolved
to the predicted class unless `resolves_targets = True`, in which case unknown targets are -1
and `compute` returns ``(maps, {"targets": resolved})``). Read parameters from ``self.params``.
Return maps of x's shape; extras may hold "completeness_gap" and "segments".

Helpers (all batched in compiled tf.functions cached per model, with progress, cancel between
batches and a retry at half the batch size on out-of-memory):

- ``self.gradients(x, targets, span=(a, b)) -> (grads, scores, targets)``: d score / d input.
- ``self.scores(x, targets, span) -> (scores, targets)``; ``self.outputs(x, span)`` -> (N, K).
- ``self.gradient_batches(n_rows, rows, consume, span)`` / ``self.score_batches(...)``: the same
  for inputs built lazily: ``rows(start, stop) -> (x_rows, target_rows)`` must be a pure
  function of its range (it is called again after an out-of-memory retry);
  ``consume(start, stop, outputs)`` receives each batch's numpy outputs in order.
- ``self.run_batches(fn, n_rows, rows, consume=None, span=(0, 1))`` for your own compiled
  function ``fn`` from ``self.compiled(key, build, kind="forward"|"gradient")``:
  ``build(forward)`` returns a ``tf.function`` whose arguments are all row arrays (batch
  first); it is traced once with an open batch dimension, so the last short batch needs no
  padding and nothing retraces. ``forward(x, net=None)`` runs the model (or ``net``, e.g. a
  ``engine.graph.tap_model`` of it, whose last output is the model's) with the ``output``
  parameter applied (logit or probability), so target scores are ``gather_targets(out, t)``
  (after ``t = resolve_targets(out, t)`` if -1 targets may reach it).
  Build closures must not hold ``self`` or the model (use ``forward``; it holds weak refs).
- ``add_by_case(total, cases, values)``: sum rows of ``values`` into ``total[cases]``.
- Randomness: ``self.rng`` (a fresh Generator per call, seeded by ``seed``) or
  ``self.case_rng(case, stream)`` (a pure function of seed, case and stream; use it when rows
  are built lazily, so results do not depend on the batch size).
"""

from __future__ import annotations

import contextlib
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

import keras
import numpy as np
import tensorflow as tf

from engine import limits, provenance
from engine.explainers import caveats
from engine.errors import BadInputError, Cancelled, NotSupportedError, NumericalError, OutOfMemoryError, is_out_of_memory
from engine.explainers.result import Explanation, MethodInfo

Rows = Callable[[int, int], tuple[np.ndarray, ...]]
Consume = Callable[[int, int, tuple[np.ndarray, ...]], None]
Span = tuple[float, float]

OUTPUT_MODES = ["auto", "logit", "probability"]
WORKING_COPIES = 6  # input, perturbed copy, activations and gradients of one batch, roughly
SAMPLE_PARAMS = ("nb_samples", "steps", "n_samples", "samples")
_ACTIVATION_LAYERS = (keras.layers.Softmax,)


# ----------------------------------------------------------------------------- model head
def _final_layer(model: Any) -> Any:
    """The layer that produces the model's output, stepping into nested sub-models."""
    layer = model
    while isinstance(layer, keras.Model):
        try:
            outputs = layer.outputs
        except (AttributeError, ValueError):
            return None  # subclassed model: no graph to inspect
        if not outputs:
            return None
        history = getattr(outputs[0], "_keras_history", None)
        if history is None:
            return None
        layer = history.operation
        if hasattr(layer, "head_layer"):  # a view's output layer (views.py) names the head's layer
            return layer.head_layer
    return layer


def _activation_name(layer: Any) -> str | None:
    """'softmax' / 'sigmoid' if `layer` ends with that activation, else None."""
    if layer is None:
        return None
    if isinstance(layer, _ACTIVATION_LAYERS):
        return "softmax"
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", None)
    return name if name in ("softmax", "sigmoid") else None


class Forward:
    """Runs a model with its output made logit or probability, holding only weak references.

    Logits are obtained without copying anything: while the model is called (i.e. while a
    tf.function traces it) the last layer's activation is swapped for the identity, so the
    pre-activation comes out of the very same layer and weights, also through tap models.
    """

    def __init__(self, model: Any, mode: str) -> None:
        layer = _final_layer(model)
        activation = _activation_name(layer)
        strip = activation is not None and (mode == "logit" or (mode == "auto" and activation == "softmax"))
        self._model = weakref.ref(model)
        self._layer = weakref.ref(layer) if strip else None
        self.post: str | None = None
        if mode == "probability" and activation is None:
            units = int(model.outputs[0].shape[-1]) if _has_outputs(model) else 2
            self.post = "sigmoid" if units == 1 else "softmax"
        self.key = (strip, self.post)
        self.logits = strip or (activation is None and self.post is None)  # outputs are pre-activation

    @property
    def model(self) -> Any:
        """The model (None once it has been collected)."""
        return self._model()

    def __call__(self, x: Any, net: Any = None) -> Any:
        net = self._model() if net is None else net
        with self._stripped():
            out = net(x, training=False)
        if isinstance(out, (list, tuple)):
            return [*out[:-1], self._apply_post(out[-1])]
        return self._apply_post(out)

    def _apply_post(self, out: Any) -> Any:
        if self.post == "softmax":
            return tf.nn.softmax(out, axis=-1)
        if self.post == "sigmoid":
            return tf.sigmoid(out)
        return out

    @contextlib.contextmanager
    def _stripped(self) -> Iterator[None]:
        layer = self._layer() if self._layer is not None else None
        if layer is None:
            yield
            return
        if isinstance(layer, _ACTIVATION_LAYERS):
            layer.call = lambda inputs, *args, **kwargs: inputs
            try:
                yield
            finally:
                del layer.call
            return
        saved = layer.activation
        layer.activation = keras.activations.linear
        try:
            yield
        finally:
            layer.activation = saved


def _has_outputs(model: Any) -> bool:
    try:
        return bool(model.outputs)
    except (AttributeError, ValueError):
        return False


def gather_targets(outputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Each row's score for its own target class (rank-2 outputs)."""
    return tf.gather(outputs, tf.cast(targets, tf.int32), axis=1, batch_dims=1)


def resolve_targets(outputs: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    """Targets with -1 replaced by the row's predicted class."""
    predicted = tf.argmax(outputs, axis=-1, output_type=tf.int32)
    targets = tf.cast(targets, tf.int32)
    return tf.where(targets < 0, predicted, targets)


def _build_outputs(forward: Forward) -> Callable[..., Any]:
    @tf.function(reduce_retracing=True)
    def outputs(x: tf.Tensor) -> tf.Tensor:
        return forward(x)

    return outputs


def _build_scores(forward: Forward) -> Callable[..., Any]:
    @tf.function(reduce_retracing=True)
    def scores(x: tf.Tensor, targets: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        out = forward(x)
        targets = resolve_targets(out, targets)
        return gather_targets(out, targets), targets

    return scores


def _build_gradients(forward: Forward) -> Callable[..., Any]:
    @tf.function(reduce_retracing=True)
    def gradients(x: tf.Tensor, targets: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(x)
            out = forward(x)
            targets = resolve_targets(out, targets)
            score = gather_targets(out, targets)
        return tape.gradient(score, x), score, targets

    return gradients


# ------------------------------------------------------------------ per-model function cache
class _ModelFunctions:
    """Compiled functions of one model. Holds no strong reference to the model itself."""

    def __init__(self) -> None:
        self.forwards: dict[str, Forward] = {}
        self.functions: dict[Any, Any] = {}
        self.kinds: dict[int, str] = {}  # id(function) -> "forward" | "gradient"
        self.concrete: dict[Any, Any] = {}  # (function, row shapes) -> concrete function


_CACHE: weakref.WeakKeyDictionary[Any, _ModelFunctions] = weakref.WeakKeyDictionary()


def release(model: Any) -> None:
    """Drop the compiled functions of `model` now (they also go when the model is collected)."""
    _CACHE.pop(model, None)


def _functions(model: Any) -> _ModelFunctions:
    entry = _CACHE.get(model)
    if entry is None:
        entry = _CACHE[model] = _ModelFunctions()
    return entry


def _concrete(fn: Any, arrays: Sequence[np.ndarray], cache: dict[Any, Any]) -> Any:
    """`fn`'s graph for these arrays with the batch dimension left open, traced once.

    One trace serves every batch length, so the short last batch is neither padded (no wasted
    rows: a single case with 25 samples runs 25 rows, not 32) nor retraced; and calling the
    concrete function directly skips tf.function's per-call signature matching (~0.5 ms).
    Plain Python callables (e.g. test doubles) are returned as they are.
    """
    if not hasattr(fn, "get_concrete_function"):
        return fn
    key = (fn, tuple((a.shape[1:], a.dtype.str) for a in arrays))
    concrete = cache.get(key)
    if concrete is None:
        specs = [tf.TensorSpec((None, *a.shape[1:]), tf.as_dtype(a.dtype)) for a in arrays]
        concrete = cache[key] = fn.get_concrete_function(*specs)
    return concrete


def add_by_case(total: np.ndarray, cases: np.ndarray, values: np.ndarray) -> None:
    """total[c] += sum of values rows whose case is c; `cases` must be sorted (rows by case)."""
    starts = np.flatnonzero(np.r_[True, cases[1:] != cases[:-1]])
    total[cases[starts]] += np.add.reduceat(values, starts, axis=0)


# ------------------------------------------------------------------------------ the base class
class Explainer:
    """Base of every attribution method; see the module docstring for how to write one."""

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {"batch_size": 32, "seed": 0, "output": "auto"}
    choices: ClassVar[dict[str, list[Any]]] = {"output": OUTPUT_MODES}
    bounds: ClassVar[dict[str, tuple[float, float]]] = {"batch_size": (1, 65536), "seed": (0, 2**32 - 1)}
    array_params: ClassVar[frozenset[str]] = frozenset()  # also accept an array or a number
    stochastic: ClassVar[bool] = False
    fast: ClassVar[bool] = False  # a single forward/backward pass or so: auto-run on case change
    image_only: ClassVar[bool] = False
    # parameters that act only on inputs with a spatial or time axis: a table's or text's form hides them
    spatial_params: ClassVar[frozenset[str]] = frozenset()
    gradient_based: ClassVar[bool] = True  # bench: its floor is forward+backward, else forward
    resolves_targets: ClassVar[bool] = False
    heatmap_reduce: ClassVar[str] = "sum"

    def __init__(self, model: Any, **params: Any) -> None:
        _check_model(model)
        self.model = model
        self.params = self._validate(params)
        self.check_params()
        self._forward = self._forward_for(self.params["output"])
        self._batch_size = int(self.params["batch_size"])
        self._progress: Callable[[float], Any] | None = None
        self._cancel: Callable[[], bool] | None = None
        self._done = 0.0
        self.rng = np.random.default_rng(self.params["seed"])
        self.evaluations: Counter[str] = Counter()  # rows evaluated by the last explain()

    # ---------------------------------------------------------------- description for the GUI
    @classmethod
    def info(cls) -> MethodInfo:
        return MethodInfo(
            name=cls.name,
            title=cls.title,
            params=dict(cls.defaults),
            choices={k: list(v) for k, v in cls.choices.items()},
            stochastic=cls.stochastic,
            image_only=cls.image_only,
            description=cls.description,
            bounds=dict(cls.bounds),
            fast=cls.fast,
            spatial_params=tuple(sorted(cls.spatial_params)),
        )

    # ------------------------------------------------------------------------- hooks to write
    def compute(self, x: np.ndarray, targets: np.ndarray) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
        raise NotImplementedError

    def check_params(self) -> None:
        """Cross-parameter checks; raise BadInputError naming the parameter."""

    # ------------------------------------------------------------------------------ public API
    def explain(
        self,
        x: np.ndarray,
        targets: Sequence[int] | np.ndarray | int | None = None,
        progress: Callable[[float], Any] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> Explanation:
        """Attributions for every case of `x` towards its target class (None = predicted)."""
        start = time.perf_counter()
        x = self._check_input(x)
        self._check_memory(x)
        self._progress, self._cancel, self._done = progress, cancel, 0.0
        self._batch_size = int(self.params["batch_size"])
        self.rng = np.random.default_rng(self.params["seed"])
        self.evaluations = Counter()
        try:
            wanted = self._check_targets(targets, len(x))
            outputs = None  # the warnings read them only where they were needed anyway (no extra pass)
            if wanted is None:
                if self.resolves_targets:
                    wanted = np.full(len(x), -1, dtype=np.int64)
                else:
                    outputs = self.outputs(x, span=(0.0, 0.0))
                    wanted = np.argmax(outputs, axis=-1).astype(np.int64)
            result = self.compute(x, wanted)
            maps, extras = result if isinstance(result, tuple) else (result, {})
            wanted = np.asarray(extras.pop("targets", wanted), dtype=np.int64)
            maps = self._check_maps(maps, x)
            gap = extras.pop("completeness_gap", None)
            segments = extras.pop("segments", None)
            warned = self._warnings(outputs, maps, wanted, extras.pop("warnings", ()))
            self.report(1.0)
        finally:
            self._progress, self._cancel = None, None
        shown = self._params_for_record()
        if self._batch_size != shown["batch_size"]:  # halved after out-of-memory: record what ran
            shown = {**shown, "batch_size": self._batch_size, "batch_size_requested": shown["batch_size"]}
        return Explanation(
            maps=maps,
            heatmap=self._heatmap(maps),
            targets=wanted,
            method=self.name,
            params=shown,
            seed=int(self.params["seed"]),
            elapsed=time.perf_counter() - start,
            provenance=provenance.record(None, x, self.name, shown, int(self.params["seed"])),
            completeness_gap=None if gap is None else np.asarray(gap, dtype=np.float32),
            segments=None if segments is None else np.asarray(segments, dtype=np.int32),
            warnings=warned,
        )

    def memory_estimate(self, x: np.ndarray) -> tuple[int, str]:
        """Bytes the request holds at once, and how the figure was made (for the refusal).

        The model calls hold a few working copies of one batch; methods that keep per-sample
        arrays (coalitions, masks) add theirs by overriding this.
        """
        batch = min(int(self.params["batch_size"]), max(1, self._rows_hint(x)))
        per_input = int(np.prod(x.shape[1:], dtype=np.int64)) * 4
        return WORKING_COPIES * batch * per_input, f"batch {batch:,} x {per_input:,} bytes per input x {WORKING_COPIES}"

    def _rows_hint(self, x: np.ndarray) -> int:
        """How many rows the model will be called on (samples x cases, if the method samples)."""
        samples = max((int(self.params[k]) for k in SAMPLE_PARAMS if k in self.params), default=1)
        return len(x) * samples

    def _check_memory(self, x: np.ndarray) -> None:
        needed, how = self.memory_estimate(x)
        budget = limits.memory_budget()
        if needed > budget:
            raise OutOfMemoryError(
                f"{self.title or self.name}: this request needs about {limits.human(needed)} ({how}), past the "
                f"memory budget of {limits.human(budget)} ({limits.BUDGET_ENV}); lower the samples or batch size."
            )

    def _warnings(self, outputs: np.ndarray | None, maps: np.ndarray, targets: np.ndarray, own: Sequence[str]) -> tuple[str, ...]:
        """The method's own caveats, then the general ones (engine.explainers.caveats).

        Without the outputs (targets given, or resolved inside the method's own pass) only the
        map's own checks run; `caveats.add_output_warnings` completes them (explain_service does).
        """
        if outputs is None:
            return tuple([*own, *caveats.map_warnings(maps, None, f"The {self.title}")])
        probs = caveats.probabilities(outputs, are_logits=self._forward.logits)
        resolved = np.where(targets < 0, np.argmax(outputs, axis=-1), targets)
        rows, column = np.arange(len(outputs)), np.minimum(resolved, outputs.shape[1] - 1)
        # a logit near 0 says little: the map is weighed against the larger of score and probability
        scores = np.maximum(np.abs(outputs[rows, column]), probs[rows, np.minimum(resolved, probs.shape[1] - 1)])
        return tuple([*own, *caveats.output_warnings(probs), *caveats.map_warnings(maps, scores, f"The {self.title}")])

    # -------------------------------------------------------------------- evaluation helpers
    def outputs(self, x: np.ndarray, span: Span = (0.0, 1.0)) -> np.ndarray:
        """Model outputs (N, K), logit or probability as the `output` parameter says."""
        fn = self.compiled(("outputs",), _build_outputs)
        (out,) = self.run_batches(fn, len(x), lambda a, b: (x[a:b],), span=span)
        return out

    def scores(self, x: np.ndarray, targets: np.ndarray, span: Span = (0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
        """Each case's score for its target, and the targets (-1 resolved to predicted)."""
        return self.score_batches(len(x), _slicer(x, targets), span=span)

    def gradients(
        self, x: np.ndarray, targets: np.ndarray, span: Span = (0.0, 1.0)
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """d score / d x for each case, the scores, and the resolved targets."""
        return self.gradient_batches(len(x), _slicer(x, targets), span=span)

    def score_batches(self, n_rows: int, rows: Rows, consume: Consume | None = None, span: Span = (0.0, 1.0)) -> Any:
        fn = self.compiled(("scores",), _build_scores)
        return self.run_batches(fn, n_rows, rows, consume, span)

    def gradient_batches(self, n_rows: int, rows: Rows, consume: Consume | None = None, span: Span = (0.0, 1.0)) -> Any:
        fn = self.compiled(("gradients",), _build_gradients, kind="gradient")
        return self.run_batches(fn, n_rows, rows, consume, span)

    def compiled(self, key: Any, build: Callable[[Forward], Any], kind: str = "forward") -> Any:
        """A compiled function for this model and output mode, built once and cached per model.

        `kind` ("forward" or "gradient") says what one row costs; `self.evaluations` counts
        the rows of each kind an explanation evaluated (the bench's floor runs as many).
        """
        entry = _functions(self.model)
        full_key = (key, self._forward.key)
        fn = entry.functions.get(full_key)
        if fn is None:
            fn = entry.functions[full_key] = build(self._forward)
            entry.kinds[id(fn)] = kind
        return fn

    def run_batches(
        self,
        fn: Callable[..., Any],
        n_rows: int,
        rows: Rows,
        consume: Consume | None = None,
        span: Span = (0.0, 1.0),
    ) -> tuple[np.ndarray, ...] | None:
        """Evaluate `fn` over rows [0, n_rows) in batches; see the module docstring.

        Returns the concatenated outputs (a tuple, one array per output of `fn`) unless
        `consume` is given. Progress moves from span[0] to span[1] of the whole explanation.
        """
        collected: list[tuple[np.ndarray, ...]] = []
        entry = _functions(self.model)
        kind = entry.kinds.get(id(fn), "forward")
        begin = 0
        while begin < n_rows:
            self.check_cancel()
            stop = min(begin + self._batch_size, n_rows)
            arrays = [np.asarray(a) for a in rows(begin, stop)]
            try:
                out = _concrete(fn, arrays, entry.concrete)(*(tf.convert_to_tensor(a) for a in arrays))
            except Exception as exc:  # noqa: BLE001 - only out-of-memory is handled here
                if not is_out_of_memory(exc):
                    raise
                if self._batch_size == 1:
                    raise OutOfMemoryError(f"{self.title}: out of memory even with batch size 1.") from exc
                self._batch_size = max(1, self._batch_size // 2)
                continue
            outputs = tuple(np.asarray(o) for o in (out if isinstance(out, (tuple, list)) else (out,)))
            if consume is None:
                collected.append(outputs)
            else:
                consume(begin, stop, outputs)
            self.evaluations[kind] += stop - begin
            begin = stop
            self.report(span[0] + (span[1] - span[0]) * stop / n_rows)
        if consume is not None:
            return None
        if not collected:
            return ()
        return tuple(np.concatenate(parts, axis=0) for parts in zip(*collected))

    # ------------------------------------------------------------- progress, cancel, random
    def report(self, fraction: float) -> None:
        """Report overall progress; never goes backwards."""
        fraction = min(1.0, max(self._done, float(fraction)))
        self._done = fraction
        if self._progress is not None:
            self._progress(fraction)

    def check_cancel(self) -> None:
        if self._cancel is not None and self._cancel():
            raise Cancelled(f"{self.title or self.name} cancelled.")

    def case_rng(self, case: int, stream: int = 0) -> np.random.Generator:
        """A generator that depends only on (seed, stream, case): batch-size independent."""
        return np.random.default_rng([int(self.params["seed"]), int(stream), int(case)])

    def is_image(self, x: np.ndarray) -> bool:
        return x.ndim == 4

    # ------------------------------------------------------------------------------ internals
    def _forward_for(self, mode: str) -> Forward:
        entry = _functions(self.model)
        forward = entry.forwards.get(mode)
        if forward is None:
            forward = entry.forwards[mode] = Forward(self.model, mode)
        return forward

    @classmethod
    def _validate(cls, params: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(params) - set(cls.defaults))
        if unknown:
            known = ", ".join(sorted(cls.defaults))
            raise BadInputError(f"{cls.title or cls.name}: unknown parameter {unknown[0]!r} (known: {known}).")
        values = dict(cls.defaults)
        for key, value in params.items():
            values[key] = cls._check_value(key, value)
        return values

    @classmethod
    def _check_value(cls, key: str, value: Any) -> Any:
        default = cls.defaults[key]
        label = f"{cls.title or cls.name}: parameter {key!r}"
        if isinstance(value, np.ndarray) or (isinstance(value, list) and key in cls.array_params):
            if key not in cls.array_params:
                raise BadInputError(f"{label} does not accept an array.")
            array = np.asarray(value, dtype=np.float32)
            if not np.all(np.isfinite(array)):
                raise BadInputError(f"{label}: the array holds NaN or Inf.")
            return array
        if isinstance(value, np.generic):
            value = value.item()
        if key in cls.array_params and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)  # a constant: e.g. an all-0.5 baseline
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise BadInputError(f"{label} must be true or false, got {value!r}.")
        elif isinstance(default, int):
            integral = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
            if isinstance(value, bool) or not integral:
                raise BadInputError(f"{label} must be an integer, got {value!r}.")
            value = int(value)
        elif isinstance(default, float):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
                raise BadInputError(f"{label} must be a number, got {value!r}.")
            value = float(value)
        elif isinstance(default, tuple):
            if isinstance(value, (int, float)):
                value = (value,) * len(default)
            if not isinstance(value, (tuple, list)) or len(value) != len(default):
                raise BadInputError(f"{label} must be {len(default)} numbers, got {value!r}.")
            value = tuple(type(d)(v) for d, v in zip(default, value))
        elif isinstance(default, str) or default is None:
            if value is not None and not isinstance(value, str):
                raise BadInputError(f"{label} must be text, got {value!r}.")
        if key in cls.choices and value not in cls.choices[key] and not (default is None and value is None):
            allowed = ", ".join(map(str, cls.choices[key]))
            raise BadInputError(f"{label} must be one of {allowed}; got {value!r}.")
        if key in cls.bounds:
            low, high = cls.bounds[key]
            for item in value if isinstance(value, tuple) else (value,):
                if not low <= item <= high:
                    raise BadInputError(f"{label} must be between {low:g} and {high:g}; got {item!r}.")
        return value

    def _params_for_record(self) -> dict[str, Any]:
        """Every parameter value; arrays are named by shape and hash (the record stays small)."""
        shown = {}
        for key, value in self.params.items():
            if isinstance(value, np.ndarray):
                value = f"array{tuple(value.shape)} sha256={provenance.sha256_array(value)}"
            shown[key] = value
        return shown

    def _check_input(self, x: Any) -> np.ndarray:
        array = np.asarray(x)
        if array.dtype.kind not in "fiub":
            raise BadInputError(f"{self.title}: input must be numeric, got dtype {array.dtype}.")
        array = np.ascontiguousarray(array, dtype=np.float32)
        expected = _input_shape(self.model)
        if array.ndim < 2 or len(array) == 0:
            raise BadInputError(f"{self.title}: input must be a non-empty batch (N, ...), got shape {array.shape}.")
        if expected is not None and (
            len(expected) != array.ndim - 1 or any(e is not None and e != a for e, a in zip(expected, array.shape[1:]))
        ):
            shape = ", ".join("?" if e is None else str(e) for e in expected)
            raise BadInputError(f"{self.title}: input must have shape (N, {shape}), got {array.shape}.")
        if self.image_only and array.ndim != 4:
            raise NotSupportedError(f"{self.title} explains images (N, H, W, C) only; input has shape {array.shape}.")
        if not np.all(np.isfinite(array)):
            raise BadInputError(f"{self.title}: the input holds NaN or Inf.")
        return array

    def _check_targets(self, targets: Any, n: int) -> np.ndarray | None:
        if targets is None:
            return None
        array = np.asarray(targets)
        if array.dtype.kind not in "iu":
            raise BadInputError(f"{self.title}: targets must be integers, got {array.dtype}.")
        array = np.broadcast_to(array.astype(np.int64).reshape(-1) if array.ndim else array, (n,)).astype(np.int64)
        classes = _n_classes(self.model)
        if np.any(array < 0) or (classes is not None and np.any(array >= classes)):
            raise BadInputError(f"{self.title}: targets must be class indices in [0, {classes}); got {array.tolist()}.")
        return array

    def _check_maps(self, maps: Any, x: np.ndarray) -> np.ndarray:
        maps = np.asarray(maps, dtype=np.float32)
        if maps.shape != x.shape:
            maps = np.broadcast_to(maps, x.shape).copy()
        if not np.all(np.isfinite(maps)):
            raise NumericalError(f"{self.title}: the attributions hold NaN or Inf (check the model's output).")
        return maps

    def _heatmap(self, maps: np.ndarray) -> np.ndarray | None:
        if maps.ndim not in (3, 4):  # images (N, H, W, C) -> (N, H, W); sequences (N, T, C) -> (N, T)
            return None
        reduce = self.heatmap_reduce
        if reduce == "mean":
            return maps.mean(axis=-1)
        if reduce == "abs_max":
            return np.abs(maps).max(axis=-1)
        if reduce == "abs_sum":
            return np.abs(maps).sum(axis=-1)
        return maps.sum(axis=-1)


def _slicer(x: np.ndarray, targets: np.ndarray) -> Rows:
    return lambda a, b: (x[a:b], targets[a:b])


def _check_model(model: Any) -> None:
    if not isinstance(model, keras.Model):
        raise BadInputError(f"Expected a Keras model, got {type(model).__name__}.")
    inputs = _tensors(model, "inputs")
    if inputs is not None and len(inputs) != 1:
        raise NotSupportedError(f"Model {model.name!r} has {len(inputs)} inputs; multi-input models are not supported yet.")
    outputs = _tensors(model, "outputs")
    if outputs is not None and len(outputs) != 1:
        raise NotSupportedError(f"Model {model.name!r} has {len(outputs)} outputs; multi-output models are not supported yet.")
    if outputs and len(outputs[0].shape) != 2:
        raise NotSupportedError(
            f"Model {model.name!r} outputs shape {tuple(outputs[0].shape)}; only (N, classes) outputs are supported."
        )


def _tensors(model: Any, attribute: str) -> list[Any] | None:
    try:
        tensors = getattr(model, attribute)
    except (AttributeError, ValueError):
        return None
    return list(tensors) if tensors is not None else None


def _input_shape(model: Any) -> tuple[int | None, ...] | None:
    inputs = _tensors(model, "inputs")
    return tuple(inputs[0].shape[1:]) if inputs else None


def _n_classes(model: Any) -> int | None:
    outputs = _tensors(model, "outputs")
    return int(outputs[0].shape[-1]) if outputs and outputs[0].shape[-1] is not None else None
