"""A SavedModel described from its saved_model.pb alone: nothing in it is executed.

Loading a SavedModel runs its graph: a resource initialiser can write a file during a plain
`inspect`, a serving function can read one file and write another, and a `gs://` path opens
network connections. So before anything loads it, the protobuf is parsed (pure data) and every
op of every graph node and library function is listed. Ops that touch files, the file system,
the network or Python callbacks are "risky": the model then loads only when the user trusts
that exact content. Checkpoint ops (RestoreV2, SaveV2...) are what the loader itself uses to
restore the variables, so they are allowed inside the saver's own functions only.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine import limits
from engine.errors import BadInputError, ModelLoadError

RISKY_OPS = frozenset({
    # files and the file system
    "ReadFile", "WriteFile", "MatchingFiles", "ImmutableConst", "DeleteFile", "RecursivelyCreateDir",
    "FileExists", "IsDirectory", "GetChildren", "RenameFile", "CopyFile",
    # checkpoints read or written outside the loader's own saver
    "Save", "SaveSlices", "SaveV2", "Restore", "RestoreSlice", "RestoreV2", "MergeV2Checkpoints",
    "ShardedFilename", "ShardedFilespec",
    # readers, datasets and tables that open files (or remote paths)
    "WholeFileReader", "WholeFileReaderV2", "TextLineReader", "TextLineReaderV2", "TFRecordReader",
    "TFRecordReaderV2", "FixedLengthRecordReader", "FixedLengthRecordReaderV2", "IdentityReader",
    "LMDBReader", "ReaderReadV2", "ReaderRead", "TFRecordDataset", "TFRecordDatasetV2",
    "TextLineDataset", "FixedLengthRecordDataset", "FixedLengthRecordDatasetV2", "LMDBDataset",
    "ExperimentalLMDBDataset", "SaveDataset", "SaveDatasetV2", "LoadDataset", "ExperimentalSaveDataset",
    "SnapshotDataset", "SnapshotDatasetV2", "CacheDataset", "CacheDatasetV2", "InitializeTableFromTextFile",
    "InitializeTableFromTextFileV2", "DataServiceDataset", "DataServiceDatasetV2", "DataServiceDatasetV3",
    "DataServiceDatasetV4", "RegisterDataset", "RegisterDatasetV2", "DecodeCSV",
    # summaries, debugging and printing (they write to files or streams)
    "CreateSummaryFileWriter", "CreateSummaryDbWriter", "WriteSummary", "WriteRawProtoSummary",
    "WriteScalarSummary", "WriteHistogramSummary", "WriteImageSummary", "WriteAudioSummary",
    "WriteGraphSummary", "FlushSummaryWriter", "ImportEvent", "DebugIdentity", "DebugIdentityV2",
    "DebugIdentityV3", "DebugNanCount", "DebugNumericSummary", "DebugNumericSummaryV2", "Print", "PrintV2",
    # Python callbacks
    "PyFunc", "PyFuncStateless", "EagerPyFunc",
    # network and remote execution
    "CollectiveReduce", "CollectiveReduceV2", "CollectiveGather", "CollectiveGatherV2",
    "CollectiveBcastSend", "CollectiveBcastRecv", "CollectiveBcastSendV2", "CollectiveBcastRecvV2",
    "RemoteCall", "_Send", "_Recv", "_HostSend", "_HostRecv", "BigQueryReader", "GenerateBigQueryReaderPartitions",
})
LOADER_OPS = frozenset({"RestoreV2", "SaveV2", "MergeV2Checkpoints", "ShardedFilename"})
REMOTE = re.compile(rb"^[a-zA-Z][a-zA-Z0-9+.-]{1,15}://")
MAX_LISTED = 8


@dataclass(frozen=True)
class SavedModelInfo:
    """What saved_model.pb says, without running it."""

    signatures: dict[str, dict[str, Any]]  # name -> {"inputs": {key: (dtype, shape)}, "outputs": ...}
    n_functions: int
    ops: Counter[str] = field(default_factory=Counter)
    risky: tuple[str, ...] = ()  # "WriteFile in __inference_serve_13", "gs:// path in ..."

    @property
    def summary(self) -> str:
        return (f"SavedModel graph: {len(self.signatures)} signature(s), {self.n_functions} function(s), "
                f"{sum(self.ops.values())} ops; " + (f"file/network ops: {risky_text(self.risky)}"
                                                     if self.risky else "no file, network or Python-callback ops"))


def risky_text(risky: Iterable[str]) -> str:
    items = list(risky)
    shown = ", ".join(items[:MAX_LISTED])
    return shown + (f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else "")


def scan(folder: str | Path) -> SavedModelInfo:
    """Parse `folder`/saved_model.pb (a regular file within the memory budget) and list its ops."""
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    path = Path(folder) / "saved_model.pb"
    try:
        data = limits.read_regular(path)
    except BadInputError as exc:
        raise ModelLoadError(f"Cannot open {folder}: {exc}") from None
    model = saved_model_pb2.SavedModel()
    try:
        model.ParseFromString(data)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise ModelLoadError(f"Cannot open {folder}: saved_model.pb is damaged ({type(exc).__name__})") from None
    if not model.meta_graphs:
        raise ModelLoadError(f"Cannot open {folder}: saved_model.pb holds no graph")
    ops: Counter[str] = Counter()
    risky: list[str] = []
    n_functions = 0
    for graph in model.meta_graphs:
        functions = {f.signature.name: f for f in graph.graph_def.library.function}
        n_functions += len(functions)
        saver = _saver_functions(graph, functions)
        for node in graph.graph_def.node:
            ops[node.op] += 1
            risky += _risks(node, "the graph", allowed=frozenset())
        for name, function in functions.items():
            allowed = LOADER_OPS if name in saver else frozenset()
            for node in function.node_def:
                ops[node.op] += 1
                risky += _risks(node, name, allowed)
    signatures = {
        key: {"inputs": _tensors(sig.inputs), "outputs": _tensors(sig.outputs)}
        for key, sig in model.meta_graphs[0].signature_def.items() if not key.startswith("__")
    }
    return SavedModelInfo(signatures, n_functions, ops, tuple(dict.fromkeys(risky)))


def _tensors(infos: Any) -> dict[str, tuple[str, tuple[int | None, ...] | None]]:
    from tensorflow.core.framework import types_pb2

    out = {}
    for key in sorted(infos):
        info = infos[key]
        shape = None if info.tensor_shape.unknown_rank else tuple(
            None if d.size < 0 else int(d.size) for d in info.tensor_shape.dim)
        out[key] = (types_pb2.DataType.Name(info.dtype).removeprefix("DT_").lower(), shape)
    return out


def _saver_functions(graph: Any, functions: dict[str, Any]) -> set[str]:
    """Functions reachable from the saver's save and restore nodes only (what the loader runs)."""
    names = {graph.saver_def.restore_op_name, graph.saver_def.save_tensor_name.split(":")[0]} - {""}
    roots = [f for node in graph.graph_def.node if node.name in names for f in _called(node)]
    others = [f for node in graph.graph_def.node if node.name not in names for f in _called(node)]
    saver = _closure(roots, functions)
    return saver - _closure(others, functions) - _object_functions(graph, functions)


def _object_functions(graph: Any, functions: dict[str, Any]) -> set[str]:
    roots = [name for node in graph.object_graph_def.nodes if node.WhichOneof("kind") == "function"
             for name in node.function.concrete_functions]
    roots += [node.bare_concrete_function.concrete_function_name for node in graph.object_graph_def.nodes
              if node.WhichOneof("kind") == "bare_concrete_function"]
    return _closure(roots, functions)


def _closure(roots: Iterable[str], functions: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen or name not in functions:
            continue
        seen.add(name)
        for node in functions[name].node_def:
            stack.extend(_called(node))
    return seen


def _called(node: Any) -> Iterator[str]:
    """Names of the functions a node calls (PartitionedCall's `f`, If/While branches...)."""
    for value in node.attr.values():
        if value.HasField("func"):
            yield value.func.name
        for func in value.list.func:
            yield func.name
    if node.op not in RISKY_OPS and not node.op.startswith("_"):
        yield node.op  # a function can also be called by its name, as an op


def _risks(node: Any, where: str, allowed: frozenset[str]) -> list[str]:
    found = []
    if node.op in RISKY_OPS and node.op not in allowed:
        found.append(f"{node.op} in {where}")
    for text in _strings(node):
        match = REMOTE.match(text)
        if match:
            found.append(f"{match.group(0).decode('ascii', 'replace')} path in {where}")
    return found


def _strings(node: Any) -> Iterator[bytes]:
    for value in node.attr.values():
        if value.HasField("s"):
            yield value.s
        yield from value.list.s
        if value.HasField("tensor"):
            yield from value.tensor.string_val
