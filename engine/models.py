"""Open a model file safely (.keras, legacy .h5, SavedModel folder), hash it and describe it.

Model files are untrusted input. Keras `safe_mode` stays on unless the user trusts the file,
and a Lambda layer (which carries Python bytecode) is refused up front, whatever Keras would
do with the format. Everything that can go wrong with the bytes on disk becomes one
`ModelLoadError` line naming the file and the problem, so the GUI keeps its previous model
and the CLI prints one line. The file's sha256 is taken before loading and checked again
after, so the hash in the description is the hash of what was actually loaded.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras
import numpy as np

from engine import custom_objects, h5probe, limits, savedmodel_scan
from engine.description import LayerInfo, ModelDescription, TensorSpec, WeightInfo
from engine.errors import (
    BadInputError,
    GlassboxError,
    ModelLoadError,
    NotSupportedError,
    UnsafeModelError,
    is_out_of_memory,
)
from engine.graph import SEP, _sublayers
from engine.heads import model_heads
from engine.jobs import JobContext, ProgressCallback
from engine.provenance import plain, sha256_path

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
KERAS_SUFFIXES = {".keras": "keras", ".h5": "h5", ".hdf5": "h5"}
SAVEDMODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
SAVEDMODEL_ENDPOINTS = ("serving_default", "serve")
OUTPUT_ACTIVATIONS = {"softmax", "sigmoid"}
TRUST_HINT = "open it only if you trust it (--trust)"
_MAX_DETAIL = 160
H5_PROBE_SECONDS = 20.0  # start-up of the child plus a small file, even on a busy machine
H5_PROBE_BYTES_PER_SECOND = 50e6


def _fail(path: str | os.PathLike[str], problem: str, error: type[ModelLoadError] = ModelLoadError) -> ModelLoadError:
    """A one-line error naming the file: every message a user sees from here goes through it."""
    return error(f"Cannot open {os.fspath(path)}: {problem}")


def _detail(exc: BaseException) -> str:
    """The first line of an exception, shortened: enough to tell problems apart, never a dump."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if len(text) > _MAX_DETAIL:
        text = text[: _MAX_DETAIL - 1] + "…"
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, GlassboxError) else text


# ---------------------------------------------------------------------------------------------
# Checks on the path and the raw file, before Keras sees it


def detect_format(path: str | os.PathLike[str]) -> str:
    """"keras" | "h5" | "savedmodel", or ModelLoadError saying why the path is not a model."""
    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        raise _fail(path, "no such file or folder") from None
    except OSError as exc:
        raise _fail(path, f"the file cannot be read ({_detail(exc)})") from None
    problem = limits.not_file_or_folder(p)  # never open it: a FIFO blocks, /dev/zero never ends
    if problem:
        raise _fail(path, problem)
    if stat.S_ISDIR(mode):
        graphs = [p / name for name in SAVEDMODEL_FILES if (p / name).is_file()]
        if not graphs:
            raise _fail(path, "the folder is not a TensorFlow SavedModel (no saved_model.pb)")
        _check_tree(p)
        _read_head(graphs[0])
        return "savedmodel"
    fmt = KERAS_SUFFIXES.get(p.suffix.lower())
    if fmt is None:
        raise _fail(path, f"unsupported file type {p.suffix or '(no extension)'!r}; expected .keras, .h5 or a SavedModel folder")
    head = _read_head(p)
    if not head:
        raise _fail(path, "the file is empty (0 bytes)")
    if fmt == "h5" and head.startswith(ZIP_MAGIC):
        raise _fail(path, "the file is a zip archive (a .keras model?), not HDF5; rename it to .keras")
    if fmt == "keras" and head == HDF5_MAGIC:
        raise _fail(path, "the file is HDF5 (a legacy .h5 model?), not a zip archive; rename it to .h5")
    return fmt


def _check_tree(folder: Path) -> None:
    """Every entry of a SavedModel folder must be a regular file or a real folder: a FIFO or a
    /dev/zero link inside would block or never end when hashed or copied, a linked folder loop."""
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames:
            if os.path.islink(os.path.join(dirpath, name)):
                raise _fail(folder, f"{os.path.relpath(os.path.join(dirpath, name), folder)} is a linked folder")
        for name in filenames:
            problem = limits.not_file_or_folder(os.path.join(dirpath, name))
            if problem or not os.path.exists(os.path.join(dirpath, name)):
                what = problem.removesuffix(", not a model file") if problem else "a dangling link"
                raise _fail(folder, f"{os.path.relpath(os.path.join(dirpath, name), folder)}: {what}")


def _read_head(path: Path) -> bytes:
    """The file's first bytes (for its magic number), or ModelLoadError if it cannot be read.

    `os.access` catches a missing read permission for ordinary users; root may read anyway,
    so the actual open is checked too.
    """
    if not os.access(path, os.R_OK):
        raise _fail(path, "no permission to read the file")
    try:
        with open(path, "rb") as handle:
            return handle.read(len(HDF5_MAGIC))
    except PermissionError:
        raise _fail(path, "no permission to read the file") from None
    except OSError as exc:
        raise _fail(path, f"the file cannot be read ({_detail(exc)})") from None


def read_config(path: str | os.PathLike[str], fmt: str) -> dict[str, Any]:
    """The model's architecture config (JSON) without building anything."""
    try:
        if fmt == "keras":
            return _read_keras_config(path)
        return _read_h5_config(path)
    except ModelLoadError:
        raise
    except Exception as exc:  # untrusted bytes: any failure is a damaged file
        raise _fail(path, f"the file is damaged ({_detail(exc)})") from None


def _read_keras_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    if not zipfile.is_zipfile(path):
        if _read_head(Path(path)).startswith(ZIP_MAGIC):
            raise _fail(path, "the archive is truncated or damaged (its zip directory is missing)")
        raise _fail(path, "not a Keras archive (.keras files are zip archives)")
    with zipfile.ZipFile(path) as archive:
        try:
            limits.check_zip(path, archive)
        except BadInputError as exc:
            raise _fail(path, str(exc).removeprefix(f"{os.fspath(path)}: ")) from None
        if "config.json" not in archive.namelist():
            raise _fail(path, "the Keras archive has no config.json (not a saved model?)")
        damaged = archive.testzip()  # checks every member's CRC: catches flipped bytes
        if damaged is not None:
            raise _fail(path, f"the archive is damaged (checksum mismatch in {damaged})")
        text = archive.read("config.json")
    try:
        config = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"config.json is damaged ({_detail(exc)})") from None
    if not isinstance(config, dict):
        raise _fail(path, "config.json does not describe a model")
    return config


def _read_h5_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    import h5py

    if not h5py.is_hdf5(path):
        raise _fail(path, "not an HDF5 file")
    with h5py.File(path, "r") as handle:
        raw = handle.attrs.get("model_config")
    if raw is None:
        raise _fail(path, "the HDF5 file holds no model config (weights only?)")
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8")
    config = json.loads(raw)
    if not isinstance(config, dict):
        raise _fail(path, "the model config does not describe a model")
    return config


def _config_entries(config: Any) -> Iterator[dict[str, Any]]:
    """Every dict in a nested config that names a class (layers, nested models, initialisers)."""
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("class_name"), str):
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def unsafe_reasons(config: dict[str, Any]) -> list[str]:
    """Why loading this config would run code from the file (empty if it would not)."""
    reasons = []
    lambdas = sorted(
        {str(e.get("config", {}).get("name", "?")) for e in _config_entries(config) if e["class_name"] == "Lambda"}
    )
    if lambdas:
        names = ", ".join(repr(n) for n in lambdas)
        reasons.append(f"contains a Lambda layer ({names}), which runs arbitrary Python code")
    return reasons


def missing_classes(config: dict[str, Any]) -> list[str]:
    """Custom classes the config names that nothing has registered with Keras."""
    missing = set()
    for entry in _config_entries(config):
        class_name = entry["class_name"]
        if class_name.startswith("__"):  # "__keras_tensor__", "__tensor__", "__numpy__"...
            continue
        module = entry.get("module") or ""
        if module.split(".")[0] == "keras":
            continue
        name = entry.get("registered_name") or class_name
        if class_name == "function" and isinstance(entry.get("config"), str):
            name = entry["config"]  # a serialised function: its registered name is the config
        if name in custom_objects.LOADED or keras.saving.get_registered_object(name) is not None:
            continue
        if ">" not in name and _is_builtin(name):
            continue
        missing.add(name)
    return sorted(missing)


def _class_label(registered_name: str) -> str:
    """"my>Foo" -> "'Foo' (registered as 'my>Foo')": the name a user recognises first, then the
    exact name to register."""
    package, _, class_name = registered_name.rpartition(">")
    return f"{class_name!r} (registered as {registered_name!r})" if package else repr(class_name)


def _is_builtin(class_name: str) -> bool:
    """Old (.h5) configs name built-in classes without a module."""
    return any(
        hasattr(namespace, class_name)
        for namespace in (keras.layers, keras.models, keras.initializers, keras.regularizers,
                          keras.constraints, keras.activations, keras.losses, keras.metrics,
                          keras.optimizers, keras.dtype_policies)
    ) or class_name in {"Functional", "Sequential", "Model"}


# ---------------------------------------------------------------------------------------------
# Loading


def load_model(
    path: str | os.PathLike[str], trust: bool | str = False, progress: ProgressCallback | None = None
) -> tuple[keras.Model, ModelDescription]:
    """Load and describe a model; ModelLoadError/UnsafeModelError/NotSupportedError on failure.

    `trust`: False (safe), True (trust whatever the path holds now: the CLI's --trust) or the
    SHA-256 the user trusted (the GUI's dialog): then only that content is loaded. Every model
    is checked and loaded from a private copy whose hash is checked, so a file swapped after
    the check (or while the trust dialog was open) never reaches the loader.
    `progress(fraction, message)` is called between steps (and may raise Cancelled).
    """
    step = progress or (lambda _fraction, _message: None)
    step(0.0, "Checking the file")
    fmt = detect_format(path)
    step(0.1, "Hashing the file")
    sha = _hash(path)
    if isinstance(trust, str) and trust != sha:
        raise _fail(path, f"its content changed since it was trusted (trusted SHA-256 {trust[:12]}…, "
                          f"now {sha[:12]}…); it was not loaded")
    step(0.3, "Building the model")
    notes: tuple[str, ...] = ()
    with _renamed_errors(path):
        source = _private_copy(path, sha, keep=fmt == "savedmodel")  # what was hashed is what loads
        if fmt == "savedmodel":
            model, notes = _load_savedmodel(source, bool(trust), sha)
        else:
            try:
                model = _load_keras(source, fmt, bool(trust))
            except UnsafeModelError as exc:  # name the content a "trust" would trust
                raise UnsafeModelError(str(exc).replace(f"; {TRUST_HINT}", f"; content SHA-256 {sha}; {TRUST_HINT}"))
    step(0.9, "Describing the layers")
    description = describe(model, path=os.fspath(path), fmt=fmt, sha256=sha)
    return model, dataclasses.replace(description, notes=(*description.notes, *notes))


_KEPT_COPIES: list[tempfile.TemporaryDirectory[str]] = []  # SavedModels may read their assets later


def _private_copy(path: str | os.PathLike[str], sha: str, keep: bool) -> Path:
    """A copy of `path` in a private temporary folder, checked to hash to `sha`."""
    holder = tempfile.TemporaryDirectory(prefix="glassbox-model-")
    os.chmod(holder.name, 0o700)
    (_KEPT_COPIES.append(holder) if keep else _TRANSIENT.append(holder))
    source = Path(path)
    copy = Path(holder.name) / (source.name or "model")
    try:
        if source.is_dir():
            shutil.copytree(source, copy, symlinks=False, copy_function=_copy_regular)
        else:
            _copy_regular(source, copy)
    except BadInputError as exc:
        raise _fail(path, str(exc)) from None
    except (OSError, shutil.Error) as exc:
        raise _fail(path, f"the file cannot be read ({_detail(exc)})") from None
    if _hash(copy) != sha:
        raise _fail(path, "the file changed while it was being opened; it was not loaded")
    return copy


_TRANSIENT: list[tempfile.TemporaryDirectory[str]] = []


def _copy_regular(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
    """Copy a regular file (never a FIFO or device swapped in), at most the size it had when opened."""
    with limits.open_regular(source) as handle, open(target, "wb") as out:
        left = os.fstat(handle.fileno()).st_size
        while left > 0 and (block := handle.read(min(left, 1 << 20))):
            out.write(block)
            left -= len(block)


@contextlib.contextmanager
def _renamed_errors(path: str | os.PathLike[str]) -> Iterator[None]:
    """Errors raised about the private copy name the user's path; transient copies are removed."""
    try:
        yield
    except GlassboxError as exc:
        copies = [holder.name for holder in (*_TRANSIENT, *_KEPT_COPIES)]
        text = str(exc)
        for name in copies:
            text = text.replace(os.path.join(name, Path(path).name or "model"), os.fspath(path))
        raise type(exc)(text) from None
    finally:
        while _TRANSIENT:
            _TRANSIENT.pop().cleanup()


def _hash(path: str | os.PathLike[str]) -> str:
    try:
        return sha256_path(path)
    except PermissionError:
        raise _fail(path, "no permission to read the file") from None
    except OSError as exc:
        raise _fail(path, f"the file cannot be read ({_detail(exc)})") from None


def _load_keras(path: str | os.PathLike[str], fmt: str, trust: bool) -> keras.Model:
    if fmt == "h5":
        _probe_h5(path)
    config = read_config(path, fmt)
    if not trust:
        reasons = unsafe_reasons(config)
        if reasons:
            raise _fail(path, f"{'; '.join(reasons)}; {TRUST_HINT}", UnsafeModelError)
    if fmt == "keras":
        with zipfile.ZipFile(path) as archive:
            members = [name for name in archive.namelist() if name.endswith(".h5")]
        for member in members:
            _probe_h5(path, member)
    try:
        model = keras.saving.load_model(
            path, compile=False, safe_mode=not trust, custom_objects=dict(custom_objects.LOADED)
        )
    except Exception as exc:  # untrusted bytes: name what we can, never let a traceback out
        raise _explain_load_failure(path, config, exc) from None
    if not isinstance(model, keras.Model):
        raise _fail(path, f"the file holds a {type(model).__name__}, not a model")
    return model


_PROBED_CLEAN: set[tuple[str, str | None]] = set()  # (file SHA-256, member) whose HDF5 read cleanly


def _probe_h5(path: str | os.PathLike[str], member: str | None = None) -> None:
    """Read the HDF5 bytes in a killable child first: a damaged file can hang HDF5 for ever.

    Bytes that read cleanly once read cleanly again: the same content (by SHA-256, so an edited
    file is probed afresh) is probed once per process, saving a child start (~1 s) per reopen.
    """
    key = (_hash(path), member)
    if key in _PROBED_CLEAN:
        return
    timeout = H5_PROBE_SECONDS + os.path.getsize(path) / H5_PROBE_BYTES_PER_SECOND
    try:
        reason = h5probe.probe(path, member, timeout=timeout)
    except BadInputError as exc:
        raise _fail(path, str(exc)) from None
    if reason is None:
        _PROBED_CLEAN.add(key)
    if reason is not None:
        where = f" ({member})" if member else ""
        raise _fail(path, f"the HDF5 data{where} is damaged ({reason})")


def _explain_load_failure(path: str | os.PathLike[str], config: dict[str, Any], exc: Exception) -> GlassboxError:
    """The most useful one-line reason for a failed keras load.

    Keras wraps the real reason in layers of "could not be deserialized properly" errors,
    so the chain is searched for a safe_mode refusal, and the innermost error is quoted.
    """
    chain = [exc]
    while (cause := chain[-1].__cause__ or chain[-1].__context__) is not None and len(chain) < 20:
        chain.append(cause)
    refusal = next((e for e in chain if "safe_mode" in str(e)), None)
    if refusal is not None:
        first = str(refusal).split(". ")[0].strip()
        return _fail(path, f"needs unsafe deserialisation ({first}); {TRUST_HINT}", UnsafeModelError)
    exc = chain[-1]
    missing = missing_classes(config)
    if missing:
        names = ", ".join(_class_label(name) for name in missing)
        return _fail(
            path,
            f"uses custom object {names}, which this app cannot build "
            "(load the module that defines it: --custom-objects FILE --trust, or File ▸ Load custom objects)",
        )
    if is_out_of_memory(exc):
        return _fail(path, "not enough memory to load the model")
    return _fail(path, f"the file is damaged or not a Keras model ({_detail(exc)})")


def _load_savedmodel(path: Path, trust: bool, sha: str) -> tuple[keras.Model, tuple[str, ...]]:
    """Wrap a SavedModel's serving signature as a one-layer Keras model (inner layers hidden).

    The graph is scanned first (nothing executed): file, network or Python-callback ops make
    it an UnsafeModelError, naming them and the content's SHA-256, unless trusted.
    """
    info = savedmodel_scan.scan(path)
    if info.risky and not trust:
        raise _fail(
            path,
            f"its graph runs file, network or Python-callback ops ({savedmodel_scan.risky_text(info.risky)}) "
            f"when loaded or called; content SHA-256 {sha}; {TRUST_HINT}",
            UnsafeModelError,
        )
    why = "it has no keras_metadata.pb (not saved by Keras 2), so only its serving signature is known"
    if (Path(path) / KERAS2_METADATA).is_file():
        try:
            rebuilt = _rebuild_keras2(path, trust)
        except UnsafeModelError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure falls back to the signature
            why = f"rebuilding its Keras-2 layers failed ({_detail(exc)})"
        else:
            return rebuilt, (info.summary, "Keras-2 SavedModel: its layers were rebuilt from keras_metadata.pb "
                                           "through tf_keras (weights copied), so they are visible and explainable.")
    layer = None
    for endpoint in SAVEDMODEL_ENDPOINTS:
        if endpoint not in info.signatures and endpoint != "serve":
            continue
        try:
            layer = _tfsm_layer(path, endpoint)
            break
        except ValueError:  # no such endpoint: try the next one
            continue
        except Exception as exc:
            raise _fail(path, f"the SavedModel is damaged ({_detail(exc)})") from None
    if layer is None:
        names = " or ".join(repr(e) for e in SAVEDMODEL_ENDPOINTS)
        raise _fail(path, f"the SavedModel has no {names} signature to call")
    try:
        specs = _signature_inputs(layer.call_endpoint_fn)
    except Exception as exc:
        raise _fail(path, f"the SavedModel's signature cannot be read ({_detail(exc)})") from None
    if len(specs) != 1 or specs[0][1].shape.rank is None:
        raise NotSupportedError(
            f"Cannot open {os.fspath(path)}: only SavedModels with one input of known rank are supported"
        )
    name, spec = specs[0]
    inputs = keras.Input(batch_shape=tuple(spec.shape.as_list()), dtype=spec.dtype.name, name=name)
    try:
        outputs = layer(inputs)
    except Exception as exc:
        raise _fail(path, f"the SavedModel's signature cannot be called ({_detail(exc)})") from None
    found = _graph_activations(layer.call_endpoint_fn)
    if isinstance(outputs, dict):  # name each output after its signature key ("logits"...)
        identities = [keras.layers.Identity(name=key) for key in sorted(outputs)]
        for identity, activation in zip(identities, found):
            identity.graph_activation = activation  # engine.heads reads it: the kind of an opaque head
        outputs = [identity(outputs[key]) for identity, key in zip(identities, sorted(outputs))]
        outputs = outputs[0] if len(outputs) == 1 else outputs
    elif found:
        layer.graph_activation = found[0]
    model = keras.Model(inputs, outputs, name=Path(path).name or "savedmodel")
    return model, (info.summary, f"Its inner layers are not visible because {why}.")


KERAS2_METADATA = "keras_metadata.pb"


def _rebuild_keras2(path: str | os.PathLike[str], trust: bool) -> keras.Model:
    """Load with tf_keras (Keras 2), then rebuild the same architecture in Keras 3 and copy the
    weights: the model then has the same layers, activations and semantics as its .h5 twin."""
    metadata = (Path(path) / KERAS2_METADATA).read_bytes()
    if not trust and b'"class_name": "Lambda"' in metadata:
        raise _fail(path, f"contains a Lambda layer, which runs arbitrary Python code; {TRUST_HINT}", UnsafeModelError)
    import tf_keras
    from keras.src.legacy.saving import saving_utils

    old = tf_keras.models.load_model(os.fspath(path), compile=False)
    model = saving_utils.model_from_config(json.loads(old.to_json()))
    model.set_weights(old.get_weights())
    return model


def _tfsm_layer(path: str | os.PathLike[str], endpoint: str) -> Any:
    """TFSMLayer, retried once with tf_keras imported: SavedModels holding Keras-2 objects
    (e.g. exported by audio packages built on tf.keras) restore only once it has registered them."""
    try:
        return keras.layers.TFSMLayer(os.fspath(path), call_endpoint=endpoint, name="savedmodel")
    except ValueError:
        raise
    except Exception as first:  # noqa: BLE001 - retried below; the second failure is reported
        try:
            import tf_keras  # noqa: F401 - registers the Keras-2 classes the graph refers to
        except ImportError:
            raise first from None
        return keras.layers.TFSMLayer(os.fspath(path), call_endpoint=endpoint, name="savedmodel")


def _graph_activations(fn: Any) -> list[str | None]:
    """Per output of a SavedModel signature, "softmax"/"sigmoid" if its graph ends with that op.

    Follows Identity ops and function calls down to the op that computed the output; the
    signature is otherwise opaque, and without this a sigmoid classifier looks like regression.
    """
    def last(tensor: Any, graph: Any, depth: int = 0) -> str | None:
        op = tensor.op
        while op.type in ("Identity", "IdentityN"):
            tensor = op.inputs[tensor.value_index if op.type == "IdentityN" else 0]
            op = tensor.op
        if op.type in ("StatefulPartitionedCall", "PartitionedCall") and depth < 8:
            inner = getattr(graph, "_functions", {}).get(op.get_attr("f").name)
            if inner is not None and hasattr(inner, "graph"):
                return last(inner.graph.outputs[tensor.value_index], inner.graph, depth + 1)
            return None
        return {"Sigmoid": "sigmoid", "Softmax": "softmax"}.get(op.type)

    try:
        graph = fn.graph
        return [last(t, graph) for t in graph.outputs]
    except Exception:  # noqa: BLE001 - a graph we cannot read leaves the kinds to shapes
        return []


def _signature_inputs(fn: Any) -> list[tuple[str, Any]]:
    """(name, tf.TensorSpec) of each input of a SavedModel endpoint, in call order."""
    import tensorflow as tf

    signature = getattr(fn, "structured_input_signature", None)
    if signature is None:  # a restored tf.function: take its (first) concrete function
        signature = fn.concrete_functions[0].structured_input_signature
    args, kwargs = signature
    specs = [(s.name or f"input_{i}", s) for i, s in enumerate(tf.nest.flatten(args))]
    specs += [(key, kwargs[key]) for key in sorted(kwargs)]
    return specs


# ---------------------------------------------------------------------------------------------
# Description


def describe(model: keras.Model, path: str = "", fmt: str = "keras", sha256: str = "") -> ModelDescription:
    """Everything the browser, CLI and explainers need to know about `model`, as plain data."""
    layers = tuple(_describe_layer(layer, model, "") for layer in _sublayers(model))
    trainable, non_trainable = _param_counts(model.weights)
    n_layers = sum(len(info.walk()) for info in layers)
    notes: list[str] = []
    if fmt == "savedmodel" and any(isinstance(layer, keras.layers.TFSMLayer) for layer in model.layers):
        notes.append(
            "SavedModel: wrapped as one TFSMLayer calling its serving signature (plus one "
            "Identity layer per named output); the layers inside are not visible."
        )
    symbolic_inputs, symbolic_outputs = _symbolic(model, "inputs"), _symbolic(model, "outputs")
    if symbolic_inputs is None:
        notes.append(
            "Subclassed model without a functional graph: output shapes and inbound layers "
            "are unknown, and inner layers cannot be tapped."
        )
        inputs = _built_input_specs(model)
    else:
        inputs = tuple(_tensor_spec(t, t.name) for t in symbolic_inputs)
    return ModelDescription(
        path=path,
        format=fmt,
        sha256=sha256,
        name=model.name,
        inputs=inputs,
        outputs=tuple(_tensor_spec(t, _producer(t).name) for t in symbolic_outputs or ()),
        total_params=trainable + non_trainable,
        trainable_params=trainable,
        non_trainable_params=non_trainable,
        n_layers=n_layers,
        layers=layers,
        output_activation=output_activation(model),
        notes=tuple(notes),
        heads=model_heads(model),
    )


def _symbolic(model: Any, attribute: str) -> list[Any] | None:
    """`model.inputs`/`model.outputs`, or None for a subclassed model that has no graph."""
    try:
        return list(getattr(model, attribute))
    except (AttributeError, ValueError, TypeError):
        return None


def _built_input_specs(model: Any) -> tuple[TensorSpec, ...]:
    """Input shapes of a subclassed model from the shape it was built with (batch left free)."""
    shape = (model.get_build_config() or {}).get("input_shape")
    if not shape:
        return ()
    shapes = shape if isinstance(shape[0], (list, tuple)) else [shape]
    return tuple(
        TensorSpec(name=f"input_{i}", shape=(None, *[None if d is None else int(d) for d in s[1:]]), dtype=str(model.input_dtype))
        for i, s in enumerate(shapes)
    )


def _tensor_spec(tensor: Any, name: str) -> TensorSpec:
    shape = tuple(None if d is None else int(d) for d in tensor.shape)
    return TensorSpec(name=str(name), shape=shape, dtype=str(tensor.dtype))


def _producer(tensor: Any) -> Any:
    """The layer that computed a symbolic tensor."""
    return tensor._keras_history.operation


def _param_counts(weights: list[Any]) -> tuple[int, int]:
    """(trainable, non-trainable) scalar counts; a weight shared by two layers counts once."""
    unique = {id(w): w for w in weights}.values()
    trainable = sum(int(np.prod(w.shape)) for w in unique if w.trainable)
    total = sum(int(np.prod(w.shape)) for w in unique)
    return trainable, total - trainable


def _describe_layer(layer: Any, parent: Any, prefix: str) -> LayerInfo:
    path = f"{prefix}{layer.name}"
    trainable, non_trainable = _param_counts(layer.weights)
    config = _config(layer)
    return LayerInfo(
        path=path,
        name=layer.name,
        class_name=type(layer).__name__,
        output_shape=_output_shape(layer),
        params=trainable + non_trainable,
        trainable_params=trainable,
        trainable=bool(layer.trainable),
        dtype=_dtype(layer),
        activation=_activation(layer, config),
        config=config,
        inbound=_inbound(layer, parent, prefix),
        weights=tuple(
            WeightInfo(name=w.path, shape=tuple(int(d) for d in w.shape), dtype=str(w.dtype), trainable=bool(w.trainable))
            for w in layer.weights
        ),
        children=tuple(_describe_layer(sub, layer, path + SEP) for sub in _sublayers(layer)),
    )


def _config(layer: Any) -> dict[str, Any]:
    try:
        return plain(layer.get_config())
    except Exception as exc:  # subclassed layers may not implement get_config
        return {"unavailable": _detail(exc)}


def _dtype(layer: Any) -> str:
    policy = getattr(layer, "dtype_policy", None)
    return str(getattr(policy, "name", None) or layer.dtype)


def _output_shape(layer: Any) -> tuple[Any, ...] | str:
    """The layer's symbolic output shape; "multiple" for a layer used at several places."""
    nodes = getattr(layer, "_inbound_nodes", [])
    shapes = {_node_output_shape(node.outputs) for node in nodes}
    if not shapes:
        return "?"  # never called symbolically (subclassed model)
    return shapes.pop() if len(shapes) == 1 else "multiple"


def _node_output_shape(outputs: Any) -> tuple[Any, ...]:
    """Shape of one call's output; a tuple of shapes when the call returns several tensors."""
    if isinstance(outputs, dict):
        outputs = [outputs[key] for key in sorted(outputs)]
    if isinstance(outputs, (list, tuple)):
        return _shape(outputs[0]) if len(outputs) == 1 else tuple(_shape(t) for t in outputs)
    return _shape(outputs)


def _shape(tensor: Any) -> tuple[int | None, ...]:
    return tuple(None if d is None else int(d) for d in tensor.shape)


def _activation(layer: Any, config: dict[str, Any]) -> str | None:
    """The activation a layer applies last, by name ("relu", "softmax"...), or None."""
    class_name = type(layer).__name__
    if class_name in {"Softmax", "ReLU", "ELU", "LeakyReLU", "PReLU"}:
        return class_name.lower().replace("leakyrelu", "leaky_relu")
    value = config.get("activation")
    if isinstance(value, dict):  # a serialised function
        value = value.get("config", value.get("class_name"))
    if isinstance(value, str) and value != "linear":
        return value
    return None


def _inbound(layer: Any, parent: Any, prefix: str) -> tuple[str, ...]:
    """What feeds `layer` inside `parent` (the model holding it): layer paths, or input names.

    Paths (not bare names) so that a click on an inbound layer can select it; an input of
    `parent` has no path and keeps its name.
    """
    if isinstance(parent, keras.Sequential):
        siblings = _sublayers(parent)
        index = next(i for i, sub in enumerate(siblings) if sub is layer)
        return (prefix + siblings[index - 1].name,) if index else ()
    names: list[str] = []
    for nodes in getattr(parent, "_nodes_by_depth", {}).values():
        for node in nodes:
            if node.operation is layer:
                for tensor in node.arguments.keras_tensors:
                    source = _producer(tensor)
                    names.append(source.name if isinstance(source, keras.layers.InputLayer) else prefix + source.name)
    return tuple(dict.fromkeys(names))


def output_activation(model: keras.Model) -> str | None:
    """"softmax"/"sigmoid" if the model's first output ends with one, else None (logits).

    Explainers use it to attribute to pre-activation scores where that matters.
    """
    layer: Any = model
    while isinstance(layer, keras.Model):
        outputs = _symbolic(layer, "outputs")
        if outputs:
            layer = _producer(outputs[0])
        else:  # subclassed: assume its last tracked layer runs last
            sublayers = _sublayers(layer)
            if not sublayers:
                return None
            layer = sublayers[-1]
    activation = _activation(layer, _config(layer))
    return activation if activation in OUTPUT_ACTIVATIONS else None


# ---------------------------------------------------------------------------------------------
# Task


def open_model_task(ctx: JobContext, path: str, trust: bool | str = False) -> ModelDescription:
    """Load, describe, and only then make it the workspace's model (a failure keeps the old one)."""
    def step(fraction: float, message: str) -> None:
        ctx.check()
        ctx.progress(fraction, f"{Path(path).name}: {message}")

    model, description = load_model(path, trust=trust, progress=step)
    ctx.check()
    ctx.workspace.set_model(model, description)
    ctx.progress(1.0, f"Opened {Path(path).name}")
    return description
