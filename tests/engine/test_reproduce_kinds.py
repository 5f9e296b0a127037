"""`main.py reproduce` of what the GUI records beyond a map of a dataset's own case: a map of a
kept counterfactual (rebuilt from its origin and edit) and a global explanation (rerun from its
recorded arguments, every array's SHA-256 compared); any other record is one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("keras")

from engine.cli import main  # noqa: E402
from engine.jobs import JobContext  # noqa: E402
from engine.records import RecordLog, new_record, read_records  # noqa: E402
from engine.records.log import log_path_for_review  # noqa: E402
from engine.workspace import Workspace  # noqa: E402

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
MODEL, CASES = DEMO / "breast_cancer_mlp.keras", DEMO / "breast_cancer.csv"


@pytest.fixture()
def kept(tmp_path: Path) -> tuple[JobContext, Path, int]:
    """The demo table with one kept counterfactual (case 19 edited), its log beside the review file."""
    from engine.data import open_dataset_task
    from engine.models import open_model_task
    from engine.whatif_store import keep_counterfactual_task

    ctx = JobContext(Workspace())
    open_model_task(ctx, str(MODEL))
    open_dataset_task(ctx, str(CASES))
    review = tmp_path / "breast_cancer.glassbox-review.json"
    edit = {"kind": "columns", "values": {"mean_radius": 25.0, "worst_area": 2100.0}}
    case = keep_counterfactual_task(ctx, str(review), 19, edit, reviewer="tester").case
    return ctx, log_path_for_review(review), case


def _reproduce(record_id: str, log: Path, capfd) -> tuple[int, str, str]:
    """(exit code, stdout, stderr less the progress lines: the error, if any)."""
    capfd.readouterr()
    code = main(["reproduce", record_id, "--log", str(log)])
    out, err = capfd.readouterr()
    return code, out, "".join(line for line in err.splitlines(keepends=True) if not line.startswith("recomputing "))


def test_a_map_of_a_kept_counterfactual_reproduces_from_its_origin_and_edit(kept, tmp_path: Path, capfd) -> None:
    from engine.explain_service import explain_case_task
    from engine.headless import workspace_spec
    from engine.records.results import explain_record

    ctx, log_path, case = kept
    result = explain_case_task(ctx, case, "gradient_x_input", {}, None)
    spec = workspace_spec(ctx, case, "gradient_x_input", dict(result.params), int(result.targets[0]), False)
    assert spec["case_sha256"] == ctx.workspace.dataset.case_hashes[case] and spec["case"] == 569
    log = RecordLog(log_path)
    good = log.append(explain_record(result, spec, "gui"))
    code, out, _ = _reproduce(good["id"], log_path, capfd)
    assert (code, out) == (0, "largest absolute difference: 0 (identical)\n")

    alone = RecordLog(tmp_path / "alone.jsonl")  # no "counterfactual" record: the map's own link suffices
    only = alone.append(explain_record(result, spec, "gui"))
    assert _reproduce(only["id"], alone.path, capfd)[0] == 0

    edited = dict(good["details"]["counterfactual_of"], edit={"kind": "columns", "values": {"mean_radius": 9.0}})
    wrong = RecordLog(tmp_path / "wrong.jsonl")
    forged = wrong.append(explain_record(result, spec, "gui") | {"details": {**good["details"], "counterfactual_of": edited}})
    code, _, err = _reproduce(forged["id"], wrong.path, capfd)  # an edit that is not the case's: not rebuilt
    assert code == 2 and err.count("\n") == 1 and "is not there any more" in err


@pytest.mark.parametrize(("task", "kwargs", "arrays"), [
    ("permutation_importance_task", {"n_repeats": 2, "seed": 3, "max_cases": 120}, "importances"),
    ("attribution_summary_task", {"method": "gradient_x_input", "max_cases": 80, "seed": 5}, "values"),
])
def test_a_global_record_reproduces_by_the_sha256_of_each_array(kept, capfd, task: str, kwargs: dict,
                                                                 arrays: str) -> None:
    """Over the table with its kept counterfactual (the dataset hash covers it), a seeded sample
    of cases: rerun from the record alone, identical; a forged array hash is named, exit 2."""
    from engine.global_explanations import tasks
    from engine.global_explanations.records import global_record

    ctx, log_path, _ = kept
    result = getattr(tasks, task)(ctx, **kwargs)
    assert len(result.cases) == kwargs["max_cases"] < len(ctx.workspace.dataset)
    log = RecordLog(log_path)
    record = log.append(global_record(result, "gui", str(MODEL), str(CASES), ctx.workspace.dataset.preprocessing.to_dict()))
    code, out, _ = _reproduce(record["id"], log_path, capfd)
    n = len(record["details"]["arrays_sha256"])
    assert (code, out) == (0, f"{result.provenance['task']}: {n} arrays, SHA-256 identical\n") and n >= 4

    details = record["details"]
    forged = log.append(global_record(result, "gui", str(MODEL), str(CASES), details["reproduce"]["preprocessing"])
                        | {"details": {**details, "arrays_sha256": {**details["arrays_sha256"], arrays: "0" * 64}}})
    code, out, _ = _reproduce(forged["id"], log_path, capfd)
    assert code == 2 and out == f"{result.provenance['task']}: 1 of {n} arrays differ ({arrays}: SHA-256 not the record's)\n"

    elsewhere = RecordLog(log_path.with_name("no-counterfactuals.jsonl"))  # the kept row is not in this log
    lonely = elsewhere.append(global_record(result, "gui", str(MODEL), str(CASES), details["reproduce"]["preprocessing"]))
    code, _, err = _reproduce(lonely["id"], elsewhere.path, capfd)
    assert code == 2 and err.count("\n") == 1 and "the dataset hash is not the record's" in err


def test_records_reproduce_cannot_rerun_are_one_line_and_exit_2(kept, capfd) -> None:
    _, log_path, case = kept
    log = RecordLog(log_path)
    verdict = log.append(new_record("verdict", reviewer="gui", case_path="case 1", details={"verdict": "plausible"}))
    old_global = log.append(new_record("global", reviewer="gui", method="normlime", details={"result": "NormLime"}))
    counterfactual = next(r for r in read_records(log_path) if r["action"] == "counterfactual")
    for record, words in ((verdict, "a verdict record; reproduce reruns explain and global records"),
                          (counterfactual, "a counterfactual record; reproduce reruns explain and global records"),
                          (old_global, "does not say which files and task arguments made it")):
        code, out, err = _reproduce(record["id"], log_path, capfd)
        assert code == 2 and out == "" and err.count("\n") == 1 and words in err, err
