"""The evidence verbs of the CLI: explain, reproduce, verify, keygen (registered by engine.cli).

Same contract as `inspect`: a user error is one line on stderr and exit 2; TensorFlow's chatter
on fd 2 is captured (shown with --verbose); progress goes to the real stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from engine.errors import GlassboxError

EXIT_OK = 0
EXIT_DIFFERS = 2


def add_verbs(verbs: Any) -> None:
    explain = verbs.add_parser("explain", help="explain cases headless: maps, provenance, records, reports")
    explain.add_argument("model", help=".keras, .h5 or SavedModel folder")
    explain.add_argument("cases", help="an image file, a folder of images (sub-folders are labels), an .npz, or a CSV / Parquet table")
    explain.add_argument("--method", required=True, help="method name, or several separated by commas")
    explain.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="a method parameter")
    explain.add_argument("--target", type=int, default=None, help="class to explain (default: the predicted one)")
    explain.add_argument("--out", required=True, help="folder for the maps, provenance, records.jsonl, reports")
    explain.add_argument("--report", default="", help="html, pdf or html,pdf")
    explain.add_argument("--score", default="", help="quality metrics of each map, e.g. deletion,insertion "
                         "(recorded as score records and shown in the reports)")
    _common(explain, trust=True)
    explain.set_defaults(run=_explain)

    reproduce = verbs.add_parser("reproduce", help="recompute a recorded result and compare")
    reproduce.add_argument("record", help="a provenance JSON, or a record id in --log")
    reproduce.add_argument("--log", default=None, help="the record log holding the id (default: ./records.jsonl)")
    _common(reproduce, trust=False)
    reproduce.set_defaults(run=_reproduce)

    verify = verbs.add_parser("verify", help="check a record log, a report or a results folder")
    verify.add_argument("path")
    verify.add_argument("--key", action="append", default=[], metavar="REVIEWER=PUBLIC_KEY",
                        help="require REVIEWER's records signed with this key (as keygen printed it)")
    verify.set_defaults(run=_verify)

    keygen = verbs.add_parser("keygen", help="create a reviewer's Ed25519 signing key")
    keygen.add_argument("--reviewer", default=None, help="whose key (default: the login name)")
    keygen.set_defaults(run=_keygen)


def _common(parser: argparse.ArgumentParser, trust: bool) -> None:
    if trust:
        parser.add_argument("--trust", action="store_true", help="allow unsafe deserialisation of MODEL")
        parser.add_argument("--reviewer", default=None, help="who runs it (default: the login name)")
    parser.add_argument("--verbose", action="store_true", help="also show TensorFlow/Keras log output")


def _say_to(fd: int) -> Any:
    def say(line: str) -> None:
        os.write(fd, (line + "\n").encode("utf-8", "replace"))

    return say


def _engine(args: argparse.Namespace, work: Any) -> tuple[int, Any]:
    """Run `work(say)` with fd 2 captured; (exit code, result) with errors as one line."""
    from engine.cli import _captured_fd2, _one_line, _show_library_log

    sys.stderr.flush()
    progress_fd = os.dup(2)
    library_log = ""
    try:
        with _captured_fd2() as captured:
            try:
                return EXIT_OK, work(_say_to(progress_fd))
            finally:
                library_log = captured()
    except GlassboxError as exc:
        _show_library_log(library_log, args.verbose)
        print(f"error: {_one_line(str(exc))}", file=sys.stderr)
        return 2, None
    finally:
        os.close(progress_fd)
        if library_log and args.verbose:
            _show_library_log(library_log, True)


def _reviewer(args: argparse.Namespace) -> str:
    from engine.records import default_reviewer

    return args.reviewer or default_reviewer()


def _explain(args: argparse.Namespace) -> int:
    from engine.headless import explain

    formats = [f.strip().lower() for f in args.report.split(",") if f.strip()]
    scores = [s.strip().lower() for s in args.score.split(",") if s.strip()]
    code, run = _engine(args, lambda say: explain(
        args.model, args.cases, args.method, args.param, args.target, args.out, formats, args.trust,
        _reviewer(args), say, scores))
    if run is not None:
        print(f"{run.results} results, records in {run.log}" + "".join(f"\nreport {p}" for p in run.reports))
    return code


def _reproduce(args: argparse.Namespace) -> int:
    from engine.headless import reproduce

    code, result = _engine(args, lambda say: reproduce(args.record, args.log, say))
    if result is None:
        return code
    print(result.line())
    return EXIT_OK if result.identical else EXIT_DIFFERS


def _verify(args: argparse.Namespace) -> int:
    from engine.records import verify

    from engine.errors import BadInputError

    args.verbose = False

    def run(say: Any) -> Any:
        keys = {}
        for pair in args.key:
            reviewer, sep, public = pair.partition("=")
            if not sep or not reviewer or len(public) != 64:
                raise BadInputError(f"--key {pair!r}: write it as REVIEWER=<64 hex digits of the public key>.")
            keys[reviewer] = public.lower()
        return verify(args.path, keys)

    code, result = _engine(args, run)
    if result is None:
        return code
    if result.ok:
        print(result.message)
        return EXIT_OK
    print(result.message, file=sys.stderr)
    return 2


def _keygen(args: argparse.Namespace) -> int:
    from engine.records.signing import create_key, key_path

    reviewer = args.reviewer or _reviewer(argparse.Namespace(reviewer=None))
    args.verbose = False
    code, signer = _engine(args, lambda say: create_key(reviewer))
    if signer is not None:
        print(f"{reviewer}: key {key_path(reviewer)}, public key {signer.public_hex}")
    return code
