"""Command line: `python main.py inspect MODEL [--json] [--trust] [--verbose] [--custom-objects FILE]`;
explain, reproduce, verify and keygen are in engine.cli_evidence.

User errors (a bad, unsafe or unsupported file) print exactly one line on stderr and exit 2:
scripts and CI jobs can rely on that. TensorFlow writes start-up chatter straight to file
descriptor 2 from C++ (no environment variable silences it in TF 2.21), so the engine work runs
with fd 2 captured; `--verbose` shows what the libraries said.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

from engine.description import LayerInfo, ModelDescription
from engine.errors import GlassboxError

EXIT_OK = 0
EXIT_BUG = 1
EXIT_USER_ERROR = 2
INDENT = "  "


def main(argv: Sequence[str] | None = None) -> int:
    """Run one CLI verb; returns the process exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # argparse already printed usage and the reason
        return int(exc.code or 0)
    if args.verb != "inspect":
        return int(args.run(args))
    library_log = ""
    try:
        with _captured_fd2() as captured:
            try:
                description = _inspect(args.model, args.trust, args.custom_objects)
            finally:
                library_log = captured()
    except GlassboxError as exc:
        _show_library_log(library_log, args.verbose)
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return EXIT_USER_ERROR
    _show_library_log(library_log, args.verbose)
    text = json.dumps(description.to_dict(), indent=2) if args.json else format_description(description)
    try:
        print(text, flush=True)
    except BrokenPipeError:  # `inspect ... | head`: the reader has gone, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="glassbox", description="Explain Keras models case by case.")
    verbs = parser.add_subparsers(dest="verb", required=True)
    inspect = verbs.add_parser("inspect", help="describe a model file: inputs, outputs, layers")
    inspect.add_argument("model", help=".keras, .h5 or SavedModel folder")
    inspect.add_argument("--json", action="store_true", help="print the description as JSON")
    inspect.add_argument("--trust", action="store_true", help="allow unsafe deserialisation (Lambda layers)")
    inspect.add_argument("--verbose", action="store_true", help="also show TensorFlow/Keras log output")
    inspect.add_argument("--custom-objects", metavar="FILE", help="Python module defining custom layers (needs --trust)")
    from engine.cli_evidence import add_verbs

    add_verbs(verbs)
    return parser


def _inspect(path: str, trust: bool, custom_objects: str | None = None) -> ModelDescription:
    from engine import formats
    from engine.errors import ModelLoadError
    from engine.limits import not_file_or_folder

    problem = not_file_or_folder(path)  # before importing TensorFlow: a FIFO fails in milliseconds
    if problem:
        raise ModelLoadError(f"Cannot open {path}: {problem}")
    formats.check(path)  # a foreign format is told apart before the TensorFlow import
    from engine.runtime import prepare_environment

    prepare_environment()  # before the first import of Keras
    if custom_objects:
        from engine.custom_objects import load

        load(custom_objects, trust)
    from engine.models import load_model  # imports TensorFlow: only once we know we need it

    return load_model(path, trust=trust)[1]


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _show_library_log(text: str, verbose: bool) -> None:
    if verbose and text.strip():
        sys.stderr.write(text if text.endswith("\n") else text + "\n")


@contextlib.contextmanager
def _captured_fd2() -> Iterator[Any]:
    """Capture C++ writes to fd 2 and Python's sys.stderr (warnings); yield a reader for both."""
    sys.stderr.flush()
    saved = os.dup(2)
    python_err = io.StringIO()
    with tempfile.TemporaryFile(mode="w+b") as sink, contextlib.redirect_stderr(python_err):
        os.dup2(sink.fileno(), 2)

        def read() -> str:
            sink.seek(0)
            return sink.read().decode("utf-8", "replace") + python_err.getvalue()

        try:
            yield read
        finally:
            os.dup2(saved, 2)
            os.close(saved)


# ---------------------------------------------------------------------------------------------
# Human-readable output


def format_description(description: ModelDescription) -> str:
    """A header (file, format, hash, inputs, outputs, params) and a table of the layer tree."""
    d = description
    activation = f"  [{d.output_activation}]" if d.output_activation else ""
    header = [
        ("File", d.path),
        ("Format", d.format),
        ("SHA-256", d.sha256),
        ("Model", d.name),
        *[("Input", _spec(s)) for s in d.inputs],
        *[("Output", _spec(s) + activation) for s in d.outputs],
        ("Params", f"{d.total_params:,} ({d.trainable_params:,} trainable, "
                   f"{d.non_trainable_params:,} non-trainable)"),
        ("Layers", f"{d.n_layers} (nested included)"),
        *[("Note", note) for note in d.notes],
    ]
    lines = [f"{key:<8} {value}" for key, value in header]
    rows = [("Layer", "Type", "Output shape", "Params", "Trainable", "Activation", "Inbound")]
    for layer in d.layers:
        rows.extend(_rows(layer, 0))
    return "\n".join(lines + [""] + _table(rows))


def _spec(spec: Any) -> str:
    return f"{spec.name} {_shape(spec.shape)} {spec.dtype}"


def _shape(shape: Any) -> str:
    if isinstance(shape, str):
        return shape
    if shape and isinstance(shape[0], (tuple, list)):
        return ", ".join(_shape(s) for s in shape)
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _rows(layer: LayerInfo, depth: int) -> list[tuple[str, ...]]:
    row = (
        INDENT * depth + layer.name,
        layer.class_name,
        _shape(layer.output_shape),
        f"{layer.params:,}",
        "yes" if layer.trainable else "no",
        layer.activation or "",
        ", ".join(layer.inbound),
    )
    rows = [row]
    for child in layer.children:
        rows.extend(_rows(child, depth + 1))
    return rows


def _table(rows: list[tuple[str, ...]]) -> list[str]:
    """Left-aligned columns (Params right-aligned), two spaces apart, no trailing blanks."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [cell.rjust(w) if i == 3 else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
    return lines
