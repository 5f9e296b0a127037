"""The mutants of one source file: small, realistic bugs, each a text edit of one token or one
statement, found by walking the file's AST.

Each mutant replaces one span of the source (everything else, comments included, stays as it
was), so a mutant's line numbers are the original's and its diff is one line. Its id is a hash
of the file, the operator, the text of the line and which occurrence on that line it is: it
survives edits elsewhere in the file, so the list of equivalent mutants stays valid.

Operators: arithmetic (+ - * / // % ** and their augmented forms), comparisons (boundary and
negation), and/or, `not` and unary minus removed, numbers +1, True/False, min/max-style name
swaps, and a call, `raise` or `break` statement deleted. Strings, docstrings, f-strings,
annotations and exception messages are not mutated: a changed message is not a wrong result.
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass

BINOP_SWAPS: dict[type, type] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult,
    ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd, ast.LShift: ast.RShift, ast.RShift: ast.LShift,
}
CMP_SWAPS: dict[type, type] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}
TOKENS: dict[type, str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
    ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|", ast.LShift: "<<", ast.RShift: ">>",
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
    ast.In: "in", ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.And: "and", ast.Or: "or",
}
NAME_SWAPS = {
    "min": "max", "max": "min", "minimum": "maximum", "maximum": "minimum", "argmin": "argmax",
    "argmax": "argmin", "any": "all", "all": "any", "floor": "ceil", "ceil": "floor",
}
# a token between two operands: not part of a longer operator, not inside a comment
_TOKEN_RE = {
    "*": r"(?<![*])\*(?![*=])", "/": r"(?<![/])/(?![/=])", "<": r"(?<![<])<(?![<=])",
    ">": r"(?<![>-])>(?![>=])", "is": r"\bis\b(?!\s+not\b)", "in": r"(?<!not )\bin\b",
}


@dataclass(frozen=True)
class Mutant:
    path: str  # relative to the tree root, with /
    id: str
    line: int  # 1-based, where the edit starts
    operator: str  # e.g. "+ -> -", "delete call"
    start: int  # byte offsets of the replaced span in the file
    stop: int
    replacement: str
    original_line: str  # the line as it was, stripped
    covered_lines: tuple[int, ...]  # lines whose execution means the mutant runs
    closure_line: int | None = None  # the def line of a nested function it sits in (see run.py)

    def apply(self, source: bytes) -> bytes:
        return source[: self.start] + self.replacement.encode() + source[self.stop :]

    def mutated_line(self, source: bytes) -> str:
        text = self.apply(source).decode()
        return text.splitlines()[self.line - 1].strip()


class _Offsets:
    """(line, utf-8 column) -> byte offset, as ast reports positions."""

    def __init__(self, source: bytes) -> None:
        self.starts = [0]
        for line in source.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))

    def __call__(self, line: int, col: int) -> int:
        return self.starts[line - 1] + col


def _excluded(tree: ast.Module, skip_keywords: set[str]) -> set[int]:
    """ids of nodes that are never mutated (annotations, docstrings, messages, f-strings...)."""
    out: set[int] = set()

    def drop(node: ast.AST | None) -> None:
        if node is not None:
            out.update(id(n) for n in ast.walk(node))

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            drop(node.returns)
            for arg in [*node.args.args, *node.args.kwonlyargs, *node.args.posonlyargs, node.args.vararg, node.args.kwarg]:
                if arg is not None:
                    drop(arg.annotation)
        elif isinstance(node, ast.AnnAssign):
            drop(node.annotation)
        elif isinstance(node, ast.JoinedStr):
            drop(node)
        elif isinstance(node, ast.Raise):
            drop(node.exc)
            drop(node.cause)
        elif isinstance(node, ast.keyword) and node.arg in skip_keywords:
            drop(node.value)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            drop(node)
        elif isinstance(node, ast.ImportFrom | ast.Import):
            drop(node)
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _parents(tree: ast.Module) -> dict[int, ast.AST]:
    parents: dict[int, ast.AST] = {}
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            parents[id(child)] = node
    return parents


def generate(path: str, source: bytes, skip_keywords: set[str] = frozenset()) -> list[Mutant]:
    """Every mutant of one file, in source order."""
    tree = ast.parse(source)
    text_lines = source.decode().splitlines()
    offsets = _Offsets(source)
    excluded = _excluded(tree, set(skip_keywords))
    parents = _parents(tree)
    found: list[tuple[int, int, int, str, str, tuple[int, ...], int | None]] = []

    def statement_of(node: ast.AST) -> ast.AST:
        while not isinstance(node, ast.stmt) and id(node) in parents:
            node = parents[id(node)]
        return node

    def lines_of(node: ast.AST) -> tuple[int, ...]:
        stmt = statement_of(node)
        return tuple(sorted({stmt.lineno, *range(node.lineno, node.end_lineno + 1)}))

    def closure_of(node: ast.AST) -> int | None:
        """The def line of the innermost function around `node` if that function is itself
        defined inside a function (a tf.function body, typically); else None."""
        functions = []
        while id(node) in parents:
            node = parents[id(node)]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                functions.append(node)
        return functions[0].lineno if len(functions) >= 2 else None

    def no_mutate(line: int) -> bool:
        return "pragma: no mutate" in text_lines[line - 1]

    def add(node: ast.AST, start: int, stop: int, op: str, replacement: str, line: int | None = None) -> None:
        line = line or node.lineno
        if not no_mutate(line):
            found.append((start, stop, line, op, replacement, lines_of(node), closure_of(node)))

    def token_between(left: ast.AST, right: ast.AST, token: str) -> tuple[int, int, int] | None:
        """Byte span and line of `token` in the source between two operands."""
        a = offsets(left.end_lineno, left.end_col_offset)
        b = offsets(right.lineno, right.col_offset)
        gap = source[a:b].decode()
        pattern = _TOKEN_RE.get(token, re.escape(token))
        code = re.sub(r"#[^\n]*", lambda m: " " * len(m.group()), gap)
        match = re.search(pattern, code)
        if match is None:
            return None
        start = a + len(gap[: match.start()].encode())
        line = left.end_lineno + gap[: match.start()].count("\n")
        return start, start + len(match.group().encode()), line

    def swap_token(node: ast.AST, left: ast.AST, right: ast.AST, old: type, new: type) -> None:
        span = token_between(left, right, TOKENS[old])
        if span is not None:
            add(node, span[0], span[1], f"{TOKENS[old]} -> {TOKENS[new]}", TOKENS[new], span[2])

    def span(node: ast.AST) -> tuple[int, int]:
        return offsets(node.lineno, node.col_offset), offsets(node.end_lineno, node.end_col_offset)

    def delete_statement(node: ast.stmt, op: str) -> None:
        first, last = text_lines[node.lineno - 1], text_lines[node.end_lineno - 1]
        before = first.encode()[: node.col_offset].decode()
        after = last.encode()[node.end_col_offset :].decode().strip()
        if before.strip() or (after and not after.startswith("#")):
            return  # shares its line with another statement
        start, stop = span(node)
        add(node, start, stop, op, "pass")

    for node in ast.walk(tree):
        if id(node) in excluded:
            continue
        if isinstance(node, ast.BinOp) and type(node.op) in BINOP_SWAPS:
            swap_token(node, node.left, node.right, type(node.op), BINOP_SWAPS[type(node.op)])
        elif isinstance(node, ast.AugAssign) and type(node.op) in BINOP_SWAPS:
            old, new = TOKENS[type(node.op)] + "=", TOKENS[BINOP_SWAPS[type(node.op)]] + "="
            where = token_between(node.target, node.value, old)
            if where is not None:
                add(node, where[0], where[1], f"{old} -> {new}", new, where[2])
        elif isinstance(node, ast.Compare):
            left = node.left
            for op, right in zip(node.ops, node.comparators):
                if type(op) in CMP_SWAPS:
                    swap_token(node, left, right, type(op), CMP_SWAPS[type(op)])
                left = right
        elif isinstance(node, ast.BoolOp):
            new = ast.Or if isinstance(node.op, ast.And) else ast.And
            for left, right in zip(node.values, node.values[1:]):
                swap_token(node, left, right, type(node.op), new)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            start, _ = span(node)
            token = "not" if isinstance(node.op, ast.Not) else "-"
            add(node, start, start + len(token), f"delete {token}", "")
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
            start, stop = span(node)
            if isinstance(node.value, bool):
                add(node, start, stop, f"{node.value} -> {not node.value}", str(not node.value))
            else:
                value = node.value + 1
                add(node, start, stop, "number + 1", repr(value))
        elif isinstance(node, ast.Name) and node.id in NAME_SWAPS and isinstance(node.ctx, ast.Load):
            start, stop = span(node)
            add(node, start, stop, f"{node.id} -> {NAME_SWAPS[node.id]}", NAME_SWAPS[node.id])
        elif isinstance(node, ast.Attribute) and node.attr in NAME_SWAPS and isinstance(node.ctx, ast.Load):
            _, stop = span(node)
            start = stop - len(node.attr.encode())
            add(node, start, stop, f"{node.attr} -> {NAME_SWAPS[node.attr]}", NAME_SWAPS[node.attr])
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            delete_statement(node, "delete call")
        elif isinstance(node, ast.Raise):
            delete_statement(node, "delete raise")
        elif isinstance(node, ast.Break):
            start, stop = span(node)
            add(node, start, stop, "break -> continue", "continue")

    found.sort()
    mutants: list[Mutant] = []
    seen: dict[tuple[str, str], int] = {}
    for start, stop, line, op, replacement, lines, closure in found:
        original = text_lines[line - 1].strip()
        nth = seen.get((op, original), 0)
        seen[(op, original)] = nth + 1
        digest = hashlib.sha1(f"{path}|{op}|{original}|{nth}".encode()).hexdigest()[:8]
        mutants.append(Mutant(path, digest, line, op, start, stop, replacement, original, lines, closure))
    return mutants
