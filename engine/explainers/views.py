"""Every model kind seen by the attribution methods as one input -> (N, classes) scores.

The methods (saliency ... Kernel SHAP) explain a model with one numeric input and one (N, K)
output. A `View` is a small Keras model around the user's model that gives them exactly that,
with the semantics of the chosen head:

- a head of a multi-output model: that output alone;
- one sigmoid unit: two classes [1 - p, p] (logit mode: [-z, z]), so class 0 and class 1 are
  both explainable and class 1's score is the model's output;
- a dense map (N, h, w, C): each channel summed over a region (the whole map by default), so
  the target is "class c over this region";
- one input of a multi-input model: the other inputs are held at the case's own values
  (in non-trainable variables, so the compiled functions are reused from case to case);
- text or token ids: the model from the Embedding layer's output on, so gradients exist; a
  token's attribution is the sum over the embedding dimension, and perturbations switch whole
  tokens (their embedding vectors) on and off.

Views share the user model's layers and weights (nothing is copied) and are cached on the model
(freed with it).
The final layer of a view names the layer whose activation the `Forward` logit switch strips
(`head_layer`), so "logit" and "probability" mean the same as for a plain classifier.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from engine import heads as heads_mod
from engine.errors import BadInputError, NotSupportedError
from engine.heads import DENSE, LOGITS, REGRESSION, SIGMOID, Head

_EPS = 1e-7
_VIEWS_ATTRIBUTE = "_glassbox_views"  # on the user's model: a view holds its model, so a weak-keyed
# cache would keep every model alive; an attribute makes a cycle the garbage collector frees


# ----------------------------------------------------------------------------- output layers
class _HeadLayer(keras.layers.Layer):
    """Base of the output transforms: remembers (weakly) which layer's activation makes the head."""

    def __init__(self, source: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._source = weakref.ref(source) if source is not None else None

    @property
    def head_layer(self) -> Any:
        """The layer `Forward` strips in logit mode (this layer when it applies the activation)."""
        source = self._source() if self._source is not None else None
        return source if source is not None else self

    def _source_activation(self) -> str | None:
        source = self._source() if self._source is not None else None
        return heads_mod.activation_of(source)


class SigmoidPair(_HeadLayer):
    """One unit as two classes on the last axis: [1 - p, p], or [-z, z] while logits are asked.

    With a sigmoid layer behind it (`source`), the pair is read from that layer at trace time:
    while `Forward` strips the sigmoid the input is z, else p. Without one (a linear unit, or a
    probability from an opaque SavedModel graph) this layer applies the sigmoid itself, so logit
    mode strips it here; an opaque probability is turned back into its logit first.
    """

    def __init__(self, source: Any = None, probability_in: bool = False, **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self.probability_in = probability_in
        if source is None:
            self.activation = keras.activations.sigmoid

    def call(self, t: Any) -> Any:
        t = tf.cast(t, tf.float32)
        if self._source is not None:
            if self._source_activation() == "sigmoid":
                return tf.concat([1.0 - t, t], axis=-1)
            return tf.concat([-t, t], axis=-1)
        if self.probability_in:
            p = tf.clip_by_value(t, _EPS, 1.0 - _EPS)
            t = tf.math.log(p) - tf.math.log1p(-p)
        return self.activation(tf.concat([-t, t], axis=-1))


class Reopened(_HeadLayer):
    """Probabilities from an opaque graph, given back their pre-activation so logit mode exists.

    Sigmoid labels: logit(p) exactly. Softmax: log(p), the logits up to a constant per case
    (softmax(log p) = p, so the probabilities are unchanged).
    """

    def __init__(self, kind: str, **kwargs: Any) -> None:
        super().__init__(None, **kwargs)
        self.kind = kind
        self.activation = keras.activations.softmax if kind == "softmax" else keras.activations.sigmoid

    def call(self, t: Any) -> Any:
        p = tf.clip_by_value(tf.cast(t, tf.float32), _EPS, 1.0 - _EPS)
        z = tf.math.log(p) if self.kind == "softmax" else tf.math.log(p) - tf.math.log1p(-p)
        return self.activation(z)


class RegionSum(_HeadLayer):
    """(N, *spatial, C) -> (N, C): each channel summed over the region (a 0/1 mask variable)."""

    def __init__(self, spatial: tuple[int, ...], source: Any = None, **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self.spatial = tuple(int(d) for d in spatial)
        self.mask = self.add_weight(shape=self.spatial, initializer="ones", trainable=False, name="region")

    def call(self, t: Any) -> Any:
        t = tf.cast(t, tf.float32)
        axes = list(range(1, len(self.spatial) + 1))
        return tf.reduce_sum(t * tf.cast(self.mask, tf.float32)[..., None], axis=axes)


class HeldInputs(keras.layers.Layer):
    """All inputs of a multi-input model from the one being explained; the others are held fixed."""

    def __init__(self, index: int, specs: list[tuple[tuple[int, ...], str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.index = index
        self.held = [
            None if k == index else self.add_weight(shape=(1, *shape), initializer="zeros", dtype=dtype,
                                                     trainable=False, name=f"held_{k}")
            for k, (shape, dtype) in enumerate(specs)
        ]

    def call(self, t: Any) -> Any:
        batch = tf.shape(t)[0]
        return [t if v is None else tf.repeat(tf.convert_to_tensor(v), batch, axis=0) for v in self.held]


# ------------------------------------------------------------------------------------ views
@dataclass
class View:
    """A one-input, (N, K)-output model standing for one head and one input of the user's model."""

    model: keras.Model
    head: Head
    input_index: int = 0
    n_inputs: int = 1
    embedding: Any = None  # the Embedding layer a text / token-id view starts after
    prefix: Any = None  # keras.Model: raw input -> token ids (None: the input is token ids)
    region: RegionSum | None = None
    held: HeldInputs | None = None
    notes: list[str] = field(default_factory=list)
    nested: str = ""  # the user's model's name inside the view: its layer paths start "<nested>/"

    @property
    def tokens_in(self) -> bool:
        return self.embedding is not None

    def token_ids(self, x: Any) -> np.ndarray:
        """Token ids (N, L) of raw text or id inputs."""
        if self.prefix is None:
            return np.asarray(x).astype(np.int64)
        strings = np.asarray(x, dtype=object)
        return np.asarray(self.prefix(tf.constant(strings.astype(str)), training=False)).astype(np.int64)

    def prepare(self, x: Any) -> np.ndarray:
        """What the view model takes: the input itself, or the embedding vectors of its tokens."""
        if not self.tokens_in:
            return np.asarray(x)
        return np.asarray(self.embedding(self.token_ids(x)), dtype=np.float32)

    def hold(self, inputs: list[np.ndarray], case: int) -> None:
        """Hold the other inputs of a multi-input model at case `case`'s values (a masked token
        model: the case's token ids, whose padding mask the layers after the embedding need)."""
        if self.held is None:
            return
        if self.tokens_in:
            inputs = [self.token_ids(inputs[0]), None]
        for k, variable in enumerate(self.held.held):
            if variable is not None:
                variable.assign(np.asarray(inputs[k][case: case + 1]).astype(variable.dtype))

    def set_region(self, region: Any) -> None:
        """The dense head's region: None (all), an (h, w) 0/1 mask, or a box (top, left, bottom, right)."""
        if self.region is None:
            if region is not None:
                raise BadInputError(f"A region applies to dense-map outputs only; {self.head.name!r} is a {self.head.kind} head.")
            return
        shape = self.region.spatial
        if region is None:
            mask = np.ones(shape, np.float32)
        else:
            array = np.asarray(region)
            if array.shape == shape:
                mask = (array != 0).astype(np.float32)
            elif array.shape == (2 * len(shape),):
                mask = np.zeros(shape, np.float32)
                start, stop = array[: len(shape)].astype(int), array[len(shape):].astype(int)
                mask[tuple(slice(a, b) for a, b in zip(start, stop))] = 1.0
            else:
                raise BadInputError(
                    f"The region must be a {shape} mask or a box of {2 * len(shape)} numbers; got shape {array.shape}."
                )
            if not mask.any():
                raise BadInputError("The region is empty: choose at least one location of the map.")
        self.region.mask.assign(mask)


def is_plain(model: Any) -> bool:
    """True for the models the methods explain as they are: one numeric input, one (N, K) classifier."""
    inputs, outputs = _list(model, "inputs"), _list(model, "outputs")
    if inputs is None or outputs is None:
        return True  # subclassed: the methods' own checks apply
    if len(inputs) != 1 or len(outputs) != 1 or len(outputs[0].shape) != 2:
        return False
    if str(inputs[0].dtype).startswith(("int", "uint", "string")) and _embedding(model) is not None:
        return False
    (head,) = heads_mod.model_heads(model)
    opaque = head.activation is not None and not _strippable(heads_mod.output_layer(model, 0))
    return head.kind != REGRESSION and head.n_classes == head.units and not opaque


def view(model: keras.Model, head: Head, input_index: int = 0) -> View:
    """The cached view of `model` for `head` and input `input_index`."""
    cache = model.__dict__.get(_VIEWS_ATTRIBUTE)
    if cache is None:
        cache = {}
        object.__setattr__(model, _VIEWS_ATTRIBUTE, cache)  # not tracked by Keras (no sublayers)
    key = (head.index, head.kind, input_index)
    if key not in cache:
        cache[key] = _build(model, head, input_index)
    return cache[key]


def _build(model: keras.Model, head: Head, input_index: int) -> View:
    inputs = list(model.inputs)
    if not 0 <= input_index < len(inputs):
        raise BadInputError(f"The model has {len(inputs)} inputs; input {input_index} does not exist.")
    embedding = _embedding(model)
    dtype = str(inputs[input_index].dtype)
    symbolic = dtype.startswith(("int", "uint", "string", "bool"))
    if symbolic and (embedding is None or len(inputs) > 1):
        raise NotSupportedError(
            f"Input {inputs[input_index].name!r} is {dtype} and no single Embedding layer follows it: "
            "gradients and perturbations need numbers or token embeddings."
        )
    held = None
    prefix = None
    if symbolic:
        prefix = None if dtype.startswith(("int", "uint")) else keras.Model(model.inputs, embedding.input)
        start = keras.Input(tuple(embedding.output.shape)[1:], name="token_embeddings")
        if getattr(embedding, "mask_zero", False):  # the padding mask comes from the ids: hold them
            tail = keras.Model([embedding.input, embedding.output], model.outputs, name=f"{model.name}_tail")
            ids_shape = tuple(embedding.input.shape)[1:]
            held = HeldInputs(1, [(ids_shape, "int32"), (tuple(start.shape)[1:], "float32")], name="held_ids")
            outs = tail(held(start))
        else:
            tail = keras.Model(embedding.output, model.outputs, name=f"{model.name}_from_{embedding.name}")
            outs = tail(start)
    elif len(inputs) > 1:
        start = keras.Input(tuple(inputs[input_index].shape)[1:], dtype=dtype, name=inputs[input_index].name)
        specs = [(tuple(t.shape)[1:], str(t.dtype)) for t in inputs]
        if any(d is None for shape, _ in specs for d in shape):
            raise NotSupportedError("Explaining a multi-input model needs every input's shape to be known.")
        held = HeldInputs(input_index, specs, name="held_inputs")
        outs = model(held(start))
    else:
        start = keras.Input(tuple(inputs[0].shape)[1:], dtype=dtype, name=inputs[0].name)
        outs = model(start)
    outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
    out = outs[head.index]
    source = heads_mod.output_layer(model, head.index)
    strippable = _strippable(source)
    opaque = None if strippable else heads_mod.activation_of(source)  # inside a SavedModel graph
    opaque = opaque if opaque in ("softmax", "sigmoid") else None
    region = None
    if head.units == 1 and head.kind in (SIGMOID, LOGITS, DENSE):
        out = SigmoidPair(source if strippable else None, probability_in=opaque == "sigmoid", name="two_classes")(out)
    elif opaque is not None and head.kind != REGRESSION:
        out = Reopened(opaque, name="reopened")(out)
    if head.kind == DENSE:
        spatial = tuple(out.shape)[1:-1]
        if any(d is None for d in spatial):
            raise NotSupportedError(f"The dense output {head.name!r} has no fixed size: a region cannot be chosen.")
        before = _producer(out)
        region_source = before.head_layer if isinstance(before, _HeadLayer) else (source if strippable else None)
        region = RegionSum(spatial, region_source, name="region_sum")
        out = region(out)
    elif len(out.shape) != 2:
        raise NotSupportedError(f"Output {head.name!r} has shape {tuple(out.shape)}; only (N, K) or dense-map outputs are explained.")
    if not isinstance(_producer(out), _HeadLayer):  # name the head's last layer through the nesting
        out = _Through(source if strippable else None, name="head")(out)
    built = keras.Model(start, out, name=f"{model.name}_{head.name}")
    notes = []
    if opaque == "sigmoid":
        notes.append("The sigmoid is inside the SavedModel graph: logits are recovered as log(p / (1 - p)).")
    if opaque == "softmax":
        notes.append("The softmax is inside the SavedModel graph: 'logit' scores are log-probabilities.")
    nested = tail.name if symbolic else model.name
    return View(built, head, input_index, len(inputs), embedding if symbolic else None, prefix, region, held, notes,
                nested)


class _Through(_HeadLayer):
    """Identity that names the head's last layer for `Forward` (the model is nested in the view)."""

    def call(self, t: Any) -> Any:
        return t


def _strippable(layer: Any) -> bool:
    """True if `Forward` can switch this layer's softmax/sigmoid off (as base._activation_name sees it)."""
    if layer is None or getattr(layer, "graph_activation", None):
        return False
    if isinstance(layer, keras.layers.Softmax):
        return True
    return getattr(getattr(layer, "activation", None), "__name__", None) in ("softmax", "sigmoid")


def _producer(tensor: Any) -> Any:
    history = getattr(tensor, "_keras_history", None)
    return None if history is None else history.operation


def _embedding(model: Any) -> Any:
    """The one Embedding layer of a token model (top level or one level down), or None."""
    found = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.Embedding):
            found.append(layer)
    return found[0] if len(found) == 1 else None


def _list(model: Any, attribute: str) -> list[Any] | None:
    try:
        return list(getattr(model, attribute))
    except (AttributeError, ValueError, TypeError):
        return None
