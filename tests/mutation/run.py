"""Mutation testing of engine/: does a small bug in the code make a test fail?

    python -m tests.mutation.run [--area NAME ...] [--files GLOB ...] [--limit N] [--sample SEED]
                                 [--fraction F] [--rerun RESULTS] [--list] [--out RESULTS]

Slow (each mutant is one pytest process that imports TensorFlow), so it is not part of CI; see
the README's "Mutation testing" section. How it works:

1. The tree is copied once to a temporary folder; the checkout is never modified.
2. config.toml names the areas (globs of engine files) and the test files run against them
   ("auto" adds every tests/engine test file that imports the module or its package, so a new
   package such as engine/metrics/ is picked up without editing anything).
3. The mapped tests run once under coverage with one context per test: the baseline must pass,
   and it tells which tests execute each line.
4. Each mutant (mutants.py) is written into the copy, and only the tests that execute its lines
   run, quickest first, with `-x`, niced, one process at a time, under a timeout (60 s + 5x
   what those tests took in the baseline). A failure, an import error or
   a timeout kills it. With --confirm, a survivor is run again against the whole files of those
   tests (a compiled function traced by an earlier test can hide which test reaches a line).
   The runs fork from a server that has imported TensorFlow once (forkserver.py; --no-fork
   starts a fresh python each time).
5. equivalent.toml lists the mutants that cannot change behaviour, each with its reason; they
   are not run and do not count. A mutant on a line no test executes is a survivor.

Scores are killed / (killed + survived), per file and per area; survivors are printed with
their id (for equivalent.toml), line and the mutated line.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python tests/mutation/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.mutation.mutants import Mutant, generate  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", "*.pyc", ".pytest_cache", ".mutation", "shots", "dist", "build", "*.egg-info"
)


@dataclass
class Area:
    name: str
    files: list[str]
    tests: list[str]
    subprocess_files: list[str] = field(default_factory=list)  # run in a child: coverage cannot see them
    extra: dict[str, list[str]] = field(default_factory=dict)  # file -> tests that reach it indirectly


def load_config(path: Path = HERE / "config.toml") -> tuple[list[Area], set[str]]:
    data = tomllib.loads(path.read_text("utf-8"))
    areas = [
        Area(a["name"], a["files"], a.get("tests", ["auto"]), a.get("subprocess", []), a.get("extra", {}))
        for a in data["area"]
    ]
    return areas, set(data.get("skip_keyword_args", []))


def load_equivalents(path: Path = HERE / "equivalent.toml") -> dict[str, str]:
    if not path.exists():
        return {}
    return {e["id"]: e["reason"] for e in tomllib.loads(path.read_text("utf-8")).get("equivalent", [])}


def load_hand(path: Path = HERE / "hand.toml") -> list[dict[str, str]]:
    return tomllib.loads(path.read_text("utf-8")).get("mutant", [])


def hand_mutants(path: str, source: bytes, entries: list[dict[str, str]]) -> list[Mutant]:
    """hand.toml's mutants of one file; one whose `find` text is gone is reported, not run."""
    out = []
    for entry in entries:
        if entry["file"] != path:
            continue
        find = entry["find"].encode()
        start = source.find(find)
        if start < 0 or source.count(find) != 1:
            print(f"hand mutant {entry['name']!r}: its text is not found exactly once in {path}; skipped")
            continue
        line = source[:start].count(b"\n") + 1
        lines = tuple(range(line, line + find.count(b"\n") + 1))
        slug = re.sub(r"[^a-z0-9]+", "-", entry["name"].lower()).strip("-")[:40]
        original = source.decode().splitlines()[line - 1].strip()
        out.append(Mutant(path, "hand:" + slug, line, entry["name"], start, start + len(find), entry["replace"],
                          original, lines))
    return out


# ----- which files, which tests ----------------------------------------------------------------
def area_files(area: Area, root: Path) -> list[str]:
    out: set[str] = set()
    for pattern in area.files:
        out.update(p.relative_to(root).as_posix() for p in root.glob(pattern) if p.is_file() and p.suffix == ".py")
    return sorted(out)


def module_name(path: str) -> str:
    parts = path[:-3].split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def auto_tests(path: str, root: Path) -> list[str]:
    """Test files under tests/engine that import this module or a package above it (not `engine`)."""
    parts = module_name(path).split(".")
    names = [".".join(parts[:i]) for i in range(len(parts), 1, -1)]
    patterns = [re.compile(rf"\b{re.escape(n)}\b") for n in names]
    # `from engine import review` / `from engine.records import chain`
    patterns += [
        re.compile(rf"from\s+{re.escape('.'.join(parts[:i]))}\s+import\s+[^\n]*\b{re.escape(parts[i])}\b")
        for i in range(1, len(parts))
    ]
    found = []
    for test in sorted((root / "tests" / "engine").rglob("test_*.py")):
        text = test.read_text("utf-8")
        if any(p.search(text) for p in patterns):
            found.append(test.relative_to(root).as_posix())
    return found


def tests_for(path: str, area: Area, root: Path) -> list[str]:
    out: list[str] = []
    for entry in [*area.tests, *area.extra.get(path, [])]:
        if entry == "auto":
            candidates = auto_tests(path, root)
        elif (root / entry).is_dir():
            candidates = sorted(p.relative_to(root).as_posix() for p in (root / entry).rglob("test_*.py"))
        else:
            candidates = [entry] if (root / entry).exists() else []
        out += [c for c in candidates if c not in out]
    return out


# ----- running pytest in the copy ----------------------------------------------------------------
def _env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1", QT_QPA_PLATFORM="offscreen", TF_CPP_MIN_LOG_LEVEL="3",
    )
    return env


PYTEST_ARGS = ["-x", "-q", "-p", "no:cacheprovider", "--no-header", "-W", "ignore"]


def pytest_command(args: list[str], coverage_rc: Path | None = None, data_file: Path | None = None) -> list[str]:
    head = ["nice", "-n", "10", sys.executable]
    if coverage_rc is not None:
        head += ["-m", "coverage", "run", f"--rcfile={coverage_rc}", f"--data-file={data_file}"]
    return head + ["-m", "pytest", *PYTEST_ARGS, *args]


def run_pytest(command: list[str], copy: Path, timeout: float) -> tuple[str, float, str]:
    """'passed', 'failed', 'timeout' or 'no tests', the seconds it took, and the output's tail."""
    start = time.monotonic()
    process = subprocess.Popen(
        command, cwd=copy, env=_env(copy), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return "timeout", time.monotonic() - start, output.decode(errors="replace")[-2000:]
    status = {0: "passed", 5: "no tests"}.get(process.returncode, "failed")
    return status, time.monotonic() - start, output.decode(errors="replace")[-2000:]


class Runner:
    """Runs pytest in the copy: forked from a warm server (default) or as a fresh process."""

    def __init__(self, copy: Path, fork: bool) -> None:
        self.copy, self.server = copy, None
        if fork:
            self.server = subprocess.Popen(
                ["nice", "-n", "10", sys.executable, str(copy / "tests" / "mutation" / "forkserver.py")],
                cwd=copy, env=_env(copy), stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )
            if "ready" not in (self.server.stdout.readline() or ""):
                sys.exit("the fork server did not start; try --no-fork")

    def __call__(self, tests: list[str], timeout: float, extra: tuple[str, ...] = ()) -> tuple[str, float]:
        if self.server is None:
            status, seconds, _ = run_pytest(pytest_command([*extra, *tests]), self.copy, timeout)
            return status, seconds
        log = str(self.copy / ".mutation-last.log")
        request = {"args": [*PYTEST_ARGS, *extra, *tests], "timeout": timeout, "log": log}
        self.server.stdin.write(json.dumps(request) + "\n")
        self.server.stdin.flush()
        answer = json.loads(self.server.stdout.readline())
        return answer["status"], answer["seconds"]

    def killers(self, tests: list[str], timeout: float) -> int:
        """How many tests fail, all of `tests` run to the end (no -x)."""
        import xml.etree.ElementTree as ET

        junit = self.copy / ".mutation-killers.xml"
        junit.unlink(missing_ok=True)
        self(tests, timeout, ("--maxfail=1000", f"--junitxml={junit}"))
        if not junit.exists():
            return -1
        root = ET.parse(junit).getroot()
        return sum(1 for case in root.iter("testcase") if case.find("failure") is not None or case.find("error") is not None)

    def close(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()  # also ends a test run still going
            self.server.wait(timeout=30)


NO_AUTOGRAPH = """
def pytest_configure(config):
    # AutoGraph runs a rewritten copy of engine functions inside tf.function, whose lines
    # coverage cannot attribute: trace engine/ code as it is written, for the baseline only.
    from tensorflow.python.autograph.core import config as ag_config, config_lib
    ag_config.CONVERSION_RULES = (config_lib.DoNotConvert("engine"), *ag_config.CONVERSION_RULES)
"""


def baseline(copy: Path, tests: list[str], files: list[str], reuse: Path | None = None,
             ) -> tuple[dict[str, dict[int, set[str]]], dict[str, float], float]:
    """Run the mapped tests once under coverage: per file, per line, the test node ids that run it;
    and each test function's seconds (to run the quick ones first). `reuse`: a folder with an
    earlier run's .mutation-coverage and .mutation-junit.xml (valid while the tree is unchanged)."""
    rc = copy / ".mutation-coverage.rc"
    rc.write_text("[run]\ndynamic_context = test_function\nsource = engine\n")
    data_file, junit = copy / ".mutation-coverage", copy / ".mutation-junit.xml"
    if reuse is not None:
        shutil.copy(reuse / data_file.name, data_file)
        shutil.copy(reuse / junit.name, junit)
        return _read_baseline(data_file, junit, tests, files) + (0.0,)
    (copy / "_mutation_no_autograph.py").write_text(NO_AUTOGRAPH)
    args = [f"--junitxml={junit}", *tests]
    status, seconds, output = run_pytest(pytest_command(["-p", "_mutation_no_autograph", *args], rc, data_file), copy, 3600)
    if status != "passed":  # some engine code needs AutoGraph: lines inside tf.function then look unrun
        print("baseline without AutoGraph failed; lines traced by tf.function will count as not run")
        status, seconds, output = run_pytest(pytest_command(args, rc, data_file), copy, timeout=3600)
    if status != "passed":
        sys.exit(f"The baseline test run fails without any mutant; fix it first:\n{output}")
    keep = ROOT / ".mutation"  # for --reuse-baseline .mutation
    keep.mkdir(exist_ok=True)
    for made in (data_file, junit):
        shutil.copy(made, keep / made.name)
    return _read_baseline(data_file, junit, tests, files) + (seconds,)


def _read_baseline(data_file: Path, junit: Path, tests: list[str], files: list[str]) -> tuple[dict, dict]:
    import coverage

    data = coverage.CoverageData(basename=str(data_file))
    data.read()
    measured = {m.replace(os.sep, "/"): m for m in data.measured_files()}
    test_files = {module_name(t): t for t in tests}
    by_file: dict[str, dict[int, set[str]]] = {}
    for path in files:
        found = [m for key, m in measured.items() if key.endswith("/" + path)]
        contexts = (data.contexts_by_lineno(found[0]) if found else None) or {}
        by_file[path] = {line: {_node_id(c, test_files) for c in names} for line, names in contexts.items()}
    return by_file, _durations(junit, test_files)


def _durations(junit: Path, test_files: dict[str, str]) -> dict[str, float]:
    """Seconds per test function (its parametrisations added up) from the baseline's JUnit XML."""
    import xml.etree.ElementTree as ET

    out: dict[str, float] = {}
    for case in ET.parse(junit).iter("testcase"):
        node = _node_id(f"{case.get('classname')}.{case.get('name', '').split('[')[0]}", test_files)
        out[node] = out.get(node, 0.0) + float(case.get("time") or 0.0)
    return out


def _node_id(context: str, test_files: dict[str, str]) -> str:
    """'tests.engine.test_x.TestY.test_z' -> 'tests/engine/test_x.py::TestY::test_z' ('' outside tests)."""
    parts = context.split(".")
    for i in range(len(parts), 0, -1):
        module = ".".join(parts[:i])
        if module in test_files:
            return "::".join([test_files[module], *parts[i:]])
    return ""


# ----- one mutant ---------------------------------------------------------------------------------
@dataclass
class Outcome:
    mutant: Mutant
    area: str
    status: str  # killed, timeout, survived, uncovered, equivalent, invalid
    seconds: float = 0.0
    tests: int = 0
    mutated: str = ""
    killers: int = 0  # with --killers: how many mapped tests fail


def select_tests(mutant: Mutant, lines: dict[int, set[str]], mapped: list[str], every_test: bool,
                 seconds: dict[str, float]) -> list[str] | None:
    """The tests to run for one mutant, quickest first: None if no test executes its lines.

    A mapped test file the baseline never ran (added since a --reuse-baseline was taken) runs
    against every mutant, first: coverage cannot say which lines it reaches."""
    def quickest_files_first() -> list[str]:
        per_file = {t: sum(v for n, v in seconds.items() if n.split("::")[0] == t) for t in mapped}
        return sorted(mapped, key=lambda t: per_file[t])

    if every_test:
        return quickest_files_first()
    known = {n.split("::")[0] for n in seconds}
    new = [t for t in mapped if t not in known] if known else []
    ids: set[str] = set()
    hit = False
    for line in mutant.covered_lines:
        if line in lines:
            hit = True
            ids |= lines[line]
    if not hit:
        # A nested function whose def ran but whose body shows as never run: a body that
        # TensorFlow traced out of coverage's sight (AutoGraph, a graph-building thread)?
        # Every mapped test then, rather than a false "no test runs this line".
        return quickest_files_first() if mutant.closure_line in lines else (new or None)
    if "" in ids or not ids - {""}:  # run from a fixture or module level: every mapped test
        return quickest_files_first()
    return new + sorted(ids - {""}, key=lambda n: (seconds.get(n, 1.0), n))


def run_mutant(mutant: Mutant, copy: Path, source: bytes, selected: list[str], mapped: list[str],
               runner: Runner, timeout: Callable[[list[str]], float], killers: bool = False,
               confirm: bool = False) -> tuple[str, float, int]:
    mutated = mutant.apply(source)
    try:
        compile(mutated, mutant.path, "exec")
    except SyntaxError:
        return "invalid", 0.0, 0
    target = copy / mutant.path
    target.write_bytes(mutated)
    try:
        status, seconds = runner(selected, timeout(selected))
        files = list(dict.fromkeys(t.split("::")[0] for t in selected))
        if status == "passed" and confirm and files != selected:  # a survivor against its whole test files
            status, more = runner(files, timeout(files))
            seconds += more
        count = runner.killers(mapped, timeout(mapped)) if killers and status == "failed" else 0
    finally:
        target.write_bytes(source)
    return {"passed": "survived", "failed": "killed", "timeout": "timeout", "no tests": "survived"}[status], seconds, count


# ----- the report ------------------------------------------------------------------------------------
def summarise(outcomes: list[Outcome], generated: dict[str, int]) -> str:
    rows: dict[tuple[str, str], dict[str, int]] = {}
    for o in outcomes:
        for key in ((o.area, o.mutant.path), (o.area, "")):
            counts = rows.setdefault(key, {"generated": 0, "run": 0, "killed": 0, "survived": 0, "equivalent": 0})
            if o.status == "equivalent":
                counts["equivalent"] += 1
            elif o.status in ("killed", "timeout"):
                counts["killed"] += 1
            elif o.status in ("survived", "uncovered"):
                counts["survived"] += 1
            counts["run"] += o.status != "invalid"
    for (area, path), counts in rows.items():
        counts["generated"] = generated.get(path, 0) if path else sum(
            n for p, n in generated.items() if any(o.area == area and o.mutant.path == p for o in outcomes)
        )
    header = f"{'area / file':<46} {'mutants':>7} {'run':>5} {'killed':>6} {'survived':>8} {'equiv':>5} {'score':>7}"
    lines = [header, "-" * len(header)]
    for area in sorted({a for a, _ in rows}):
        for (a, path), c in sorted(rows.items()):
            if a == area and path:
                lines.append(_row("  " + path, c))
        lines.append(_row(f"[{area}]", rows[(area, "")]))
    total = {k: sum(c[k] for (a, p), c in rows.items() if not p) for k in rows[next(iter(rows))]} if rows else {}
    if len({a for a, _ in rows}) > 1:
        lines.append(_row("[all]", total))
    return "\n".join(lines)


def _row(label: str, c: dict[str, int]) -> str:
    scored = c["killed"] + c["survived"]
    score = f"{100 * c['killed'] / scored:6.1f}%" if scored else "     -"
    return (f"{label:<46} {c['generated']:>7} {c['run']:>5} {c['killed']:>6} {c['survived']:>8} "
            f"{c['equivalent']:>5} {score:>7}")


# ----- main ------------------------------------------------------------------------------------------
def choose(mutants: list[Mutant], limit: int | None, fraction: float | None, seed: int | None) -> list[Mutant]:
    """A deterministic sample per file: --sample shuffles by (seed, file) before --limit/--fraction."""
    chosen = list(mutants)
    if seed is not None and chosen:
        random.Random(f"{seed}:{chosen[0].path}").shuffle(chosen)
    if fraction is not None:
        chosen = chosen[: max(1, round(fraction * len(chosen)))] if chosen else []
    if limit is not None:
        chosen = chosen[:limit]
    return sorted(chosen, key=lambda m: m.start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--area", action="append", help="area name from config.toml (default: all)")
    parser.add_argument("--files", nargs="+", help="only these files (globs, relative to the root)")
    parser.add_argument("--limit", type=int, help="at most N mutants per file")
    parser.add_argument("--fraction", type=float, help="this fraction of each file's mutants")
    parser.add_argument("--sample", type=int, metavar="SEED", help="sample per file with this seed (with --limit/--fraction)")
    parser.add_argument("--rerun", type=Path, metavar="RESULTS",
                        help="run only an earlier run's survivors; its kills are counted as they were")
    parser.add_argument("--hand", action="store_true", help="run the hand-made mutants of hand.toml instead")
    parser.add_argument("--killers", action="store_true", help="also count the mapped tests that fail per killed mutant")
    parser.add_argument("--list", action="store_true", help="list the chosen mutants and their tests, run nothing")
    parser.add_argument("--out", type=Path, default=ROOT / ".mutation" / "results.json", help="results JSON")
    parser.add_argument("--no-coverage", action="store_true",
                        help="skip the coverage baseline: every mapped test file runs against each mutant")
    parser.add_argument("--reuse-baseline", type=Path, metavar="DIR",
                        help="reuse the coverage baseline an earlier run kept (in .mutation/): only while the tree is unchanged")
    parser.add_argument("--confirm", action="store_true",
                        help="run a survivor again against the whole files of its tests (slower, surer)")
    parser.add_argument("--no-fork", action="store_true", help="a fresh python per test run (slower)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per test run (default: 60 + 5x what its tests took in the baseline)")
    args = parser.parse_args(argv)

    areas, skip_keywords = load_config()
    if args.area:
        unknown = set(args.area) - {a.name for a in areas}
        if unknown:
            parser.error(f"unknown area(s) {sorted(unknown)}; config.toml has {[a.name for a in areas]}")
        areas = [a for a in areas if a.name in args.area]
    equivalents = load_equivalents()
    hand = load_hand() if args.hand else None
    rerun, earlier = None, {}
    if args.rerun:
        earlier = {r["id"]: r["status"] for r in json.loads(args.rerun.read_text())["results"]}
        rerun = {i for i, status in earlier.items() if status in ("survived", "uncovered")}

    plan: list[tuple[Area, str, list[Mutant], list[str]]] = []
    sources: dict[str, bytes] = {}  # as read now: the mutants' offsets refer to these bytes
    generated: dict[str, int] = {}
    for area in areas:
        for path in area_files(area, ROOT):
            if args.files and not any(fnmatch.fnmatch(path, g) for g in args.files):
                continue
            source = sources[path] = (ROOT / path).read_bytes()
            mutants = hand_mutants(path, source, hand) if hand is not None else generate(path, source, skip_keywords)
            generated[path] = len(mutants)
            chosen = choose(mutants, args.limit, args.fraction, args.sample)
            if rerun is not None:  # the earlier run's survivors, and its kills counted as they were
                chosen = [m for m in chosen if m.id in rerun or earlier.get(m.id) in ("killed", "timeout", "equivalent")]
            if chosen:
                plan.append((area, path, chosen, tests_for(path, area, ROOT)))

    if args.list:
        for area, path, chosen, tests in plan:
            print(f"{path} [{area.name}]: {len(chosen)} of {generated[path]} mutants; tests: {' '.join(tests) or '-'}")
            source = sources[path]
            for m in chosen:
                tag = " (equivalent)" if m.id in equivalents else ""
                print(f"  {m.id} L{m.line} {m.operator}: {m.mutated_line(source)}{tag}")
        return 0
    if not plan:
        print("nothing to run", file=sys.stderr)
        return 2

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean the copy up when stopped
    copy = Path(tempfile.mkdtemp(prefix="glassbox-mutation-"))
    outcomes: list[Outcome] = []
    runner: Runner | None = None
    try:
        shutil.copytree(ROOT, copy, ignore=COPY_IGNORE, dirs_exist_ok=True)
        for path, source in sources.items():  # the checkout may have moved on meanwhile (a rebase)
            (copy / path).write_bytes(source)
        all_tests = [t for _, _, _, tests in plan for t in tests]
        all_tests = list(dict.fromkeys(all_tests))
        untested = [path for _, path, _, tests in plan if not tests]
        if untested:
            print(f"no test file maps to: {', '.join(untested)} (every mutant there survives)")
        by_file: dict[str, dict[int, set[str]]] | None = None
        durations: dict[str, float] = {}
        seconds = 0.0
        if all_tests and not args.no_coverage:
            by_file, durations, seconds = baseline(copy, all_tests, [p for _, p, _, _ in plan], args.reuse_baseline)
        total = sum(len(c) for _, _, c, _ in plan)
        print(f"baseline: {len(all_tests)} test files pass in {seconds:.0f} s; {total} mutants")

        def timeout(tests: list[str]) -> float:
            files = {t for t in tests if "::" not in t}
            spent = sum(s for n, s in durations.items() if n in tests or n.split("::")[0] in files)
            if not durations:  # no baseline: a generous guess per test file
                spent = 30.0 * len({t.split("::")[0] for t in tests})
            return args.timeout or 60 + 5 * spent

        runner = Runner(copy, fork=not args.no_fork)
        done = 0
        for area, path, chosen, tests in plan:
            source = sources[path]
            for mutant in chosen:
                done += 1
                equivalents = load_equivalents()  # re-read: a survivor may be classified while a long run goes on
                outcome = Outcome(mutant, area.name, "equivalent", mutated=mutant.mutated_line(source))
                if mutant.id not in equivalents and earlier.get(mutant.id) in ("killed", "timeout"):
                    outcome.status = earlier[mutant.id]  # killed in the earlier (--rerun) run: tests only grow
                elif mutant.id not in equivalents:
                    no_map = by_file is None or path in area.subprocess_files
                    selected = select_tests(mutant, (by_file or {}).get(path, {}), tests, no_map, durations)
                    if not tests or selected is None:
                        outcome.status = "uncovered"
                    else:
                        outcome.status, outcome.seconds, outcome.killers = run_mutant(
                            mutant, copy, source, selected, tests, runner, timeout, args.killers, args.confirm)
                        outcome.tests = len(selected)
                outcomes.append(outcome)
                caught = f", caught by {outcome.killers} tests" if args.killers and outcome.status == "killed" else ""
                print(f"[{done}/{total}] {outcome.status:<10} {path}:{mutant.line} {mutant.operator} "
                      f"({outcome.seconds:.0f} s, {outcome.tests} tests{caught}) {mutant.id}", flush=True)
                _save(args.out, outcomes, generated, args)
    finally:
        if runner is not None:
            runner.close()
        shutil.rmtree(copy, ignore_errors=True)

    print()
    print(summarise(outcomes, generated))
    survivors = [o for o in outcomes if o.status in ("survived", "uncovered")]
    if survivors:
        print("\nsurvivors (add a test, or list the id in tests/mutation/equivalent.toml with a reason):")
        for o in survivors:
            tag = " [no test runs this line]" if o.status == "uncovered" else ""
            print(f"  {o.mutant.id} {o.mutant.path}:{o.mutant.line} {o.mutant.operator}{tag}")
            print(f"      - {o.mutant.original_line}\n      + {o.mutated}")
    print(f"\nresults: {args.out}")
    return 0


def _save(out: Path, outcomes: list[Outcome], generated: dict[str, int], args: argparse.Namespace) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "command": sys.argv,
        "sampling": {"limit": args.limit, "fraction": args.fraction, "seed": args.sample},
        "generated": generated,
        "results": [
            {"id": o.mutant.id, "area": o.area, "path": o.mutant.path, "line": o.mutant.line, "operator": o.mutant.operator,
             "status": o.status, "seconds": round(o.seconds, 1), "tests": o.tests, "killers": o.killers, "original": o.mutant.original_line,
             "mutated": o.mutated}
            for o in outcomes
        ],
    }
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    tmp.replace(out)


if __name__ == "__main__":
    sys.exit(main())
