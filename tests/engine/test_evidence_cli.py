"""`main.py explain / reproduce / verify` end to end on a tiny model, and the reports they write:
every method reproduces bit for bit, the HTML is self-contained, the PDF names hash, method, verdict."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import keras
import numpy as np
import pytest
from PIL import Image

from engine.cli import main
from engine.records import read_records
from engine.review import ReviewStore, default_review_path

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("saliency,gradient_x_input,smoothgrad,vargrad,squaregrad,integrated_gradients,expected_gradients,"
           "guided_backprop,gradcam,gradcam_pp,layercam,scorecam,occlusion,rise,lime,kernel_shap")
SMALL = ["nb_samples=6", "steps=4", "patch_size=4", "stride=4", "resolution=3", "n_segments=4", "batch_size=8"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("evidence")
    keras.utils.set_random_seed(0)
    inputs = keras.Input((10, 10, 1))
    conv = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(conv))
    model_path = folder / "tiny.keras"
    keras.Model(inputs, out).save(model_path)
    rng = np.random.default_rng(0)
    cases = folder / "cases.npz"
    np.savez(cases, x=rng.random((2, 10, 10, 1)).astype(np.float32), y=np.array([0, 2]),
             class_names=np.array(["cat", "dog", "owl"]))
    return model_path, cases


def _explain(files: tuple[Path, Path], out: Path, *extra: str, small: bool = False) -> int:
    model, cases = files
    params = [arg for p in SMALL for arg in ("--param", p)] if small else []
    return main(["explain", str(model), str(cases), *params, "--out", str(out), *extra])


def test_explain_then_reproduce_is_bit_identical_for_every_method(files, tmp_path: Path, capfd) -> None:
    assert _explain(files, tmp_path, "--method", METHODS, small=True) == 0
    out, err = capfd.readouterr()
    assert out.startswith("32 results, records in ")
    assert "[32/32] case 1: kernel_shap" in err
    assert main(["verify", str(tmp_path)]) == 0
    assert capfd.readouterr().out == "32 records intact\n"
    for method in METHODS.split(","):
        provenance = tmp_path / f"00001_case_1_{method}.json"
        meta = json.loads(provenance.read_text())
        assert meta["method"] == method and meta["reproduce"]["case_name"] == "case 1"
        assert main(["reproduce", str(provenance)]) == 0, method
        assert capfd.readouterr().out == "largest absolute difference: 0 (identical)\n", method
    record = read_records(tmp_path / "records.jsonl")[0]
    assert main(["reproduce", record["id"], "--log", str(tmp_path / "records.jsonl")]) == 0
    assert "(identical)" in capfd.readouterr().out


def test_reproduce_reports_a_difference_with_exit_2(files, tmp_path: Path, capfd) -> None:
    assert _explain(files, tmp_path, "--method", "saliency") == 0
    stored = tmp_path / "00000_case_0_saliency.npy"
    maps = np.load(stored)
    maps[0, 3, 3, 0] += 0.25
    np.save(stored, maps)
    capfd.readouterr()
    assert main(["reproduce", str(tmp_path / "00000_case_0_saliency.json")]) == 2
    assert capfd.readouterr().out == "largest absolute difference: 0.25 (differs)\n"
    assert main(["verify", str(tmp_path)]) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and err.startswith("record 1 (id ")
    assert "artefact 00000_case_0_saliency.npy changed" in err


@pytest.mark.parametrize(("args", "words"), [
    (["--method", "nope"], "Unknown method nope"),
    (["--method", "saliency", "--param", "steps"], "KEY=VALUE"),
    (["--method", "saliency", "--param", "wobble=1"], "No chosen method has a parameter wobble"),
    (["--method", "occlusion", "--param", "patch_size=big"], "expected a int"),
    (["--method", "saliency", "--report", "docx"], "--report docx"),
    (["--method", "saliency", "--score", "deletion,nope"], "--score nope: unknown metric"),
])
def test_bad_input_is_one_line_and_exit_2(files, tmp_path: Path, capfd, args: list[str], words: str) -> None:
    assert _explain(files, tmp_path, *args) == 2
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and words in err


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "action", "data", "poster", "srcset"):
                self.refs.append(value or "")
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")


def test_reports_are_self_contained_and_name_hash_method_verdict(files, tmp_path: Path, capfd) -> None:
    from pypdf import PdfReader

    model, cases = files
    data = np.load(cases)
    store = ReviewStore(default_review_path(cases), source=str(cases))
    case_hash = __import__("engine.data", fromlist=["_hash_array"])._hash_array(data["x"][1])
    store.set_verdict("case 1", case_hash, "spurious feature")
    store.set_note("case 1", case_hash, "looks at the corner")
    assert _explain(files, tmp_path, "--method", "saliency,gradcam", "--report", "html,pdf",
                    "--score", "deletion,sparseness") == 0
    capfd.readouterr()
    sha = json.loads((tmp_path / "00000_case_0_saliency.json").read_text())["provenance"]["model_sha256"]

    page = (tmp_path / "report.html").read_text()
    refs = _Refs()
    refs.feed(page)
    assert len(refs.images) == 2 * (1 + 2 * 2)  # per case: the case, two overlays, two colour bars
    assert all(ref.startswith("data:image/png;base64,") for ref in refs.refs)
    for ref in refs.refs:
        assert Image.open(io.BytesIO(base64.b64decode(ref.split(",", 1)[1]))).format == "PNG"
    lowered = page.lower()
    assert "http:" not in lowered and "https:" not in lowered and "file:" not in lowered and "url(" not in lowered
    assert sha in page and "spurious feature" in page and "looks at the corner" in page
    records = read_records(tmp_path / "records.jsonl")
    scored = [r for r in records if r["action"] == "score"]
    assert [(r["case_path"], r["method"], r["details"]["metric"]) for r in scored] == [
        (f"case {c}", m, k) for c in (0, 1) for m in ("saliency", "gradcam") for k in ("deletion", "sparseness")]
    explained = [r for r in records if r["action"] == "explain"]
    assert all(s["details"]["maps_sha256"] == e["details"]["maps_sha256"] and s["artefacts"] == e["artefacts"][:1]
               for s, e in zip(scored[::2], explained))
    assert f"deletion: {scored[0]['details']['scores']['deletion']}<br>sparseness: " in page

    text = " ".join(p.extract_text() for p in PdfReader(tmp_path / "report.pdf").pages)
    assert sha in text.replace("\n", "")
    assert "saliency" in text and "gradcam" in text and "spurious feature" in text
    csv_rows = (tmp_path / "report.csv").read_text().splitlines()
    assert csv_rows[0].startswith("case,case_sha256,true_label,predicted")
    assert csv_rows[2].split(",")[:3] == ["case 1", case_hash, "owl"] and "spurious feature" in csv_rows[2]

    for name in ("report.pdf", "report.html", "report.csv"):
        assert main(["verify", str(tmp_path / name)]) == 0
        assert capfd.readouterr().out == "13 records intact\n"
    with (tmp_path / "report.pdf").open("ab") as handle:
        handle.write(b"%")
    assert main(["verify", str(tmp_path / "report.pdf")]) == 2
    assert "record 13 (id " in capfd.readouterr().err


def test_main_py_explain_from_a_clean_process(files, tmp_path: Path) -> None:
    model, cases = files
    run = subprocess.run([sys.executable, str(ROOT / "main.py"), "explain", str(model), str(cases),
                          "--method", "saliency", "--out", str(tmp_path)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == ["opening tiny.keras and cases.npz", "[1/2] case 0: saliency",
                                       "[2/2] case 1: saliency"]
    assert run.stdout == f"2 results, records in {tmp_path / 'records.jsonl'}\n"
    assert main(["verify", str(tmp_path)]) == 0


def test_keygen_then_explain_signs_every_record(files, tmp_path: Path, capfd) -> None:
    assert main(["keygen", "--reviewer", "vera"]) == 0
    public = capfd.readouterr().out.split("public key ")[1].strip()
    assert main(["keygen", "--reviewer", "vera"]) == 2  # never overwritten by accident
    assert "already has a signing key" in capfd.readouterr().err
    assert _explain(files, tmp_path, "--method", "saliency", "--reviewer", "vera") == 0
    records = read_records(tmp_path / "records.jsonl")
    assert [r["signature"]["public_key"] for r in records] == [public, public]
    assert main(["verify", str(tmp_path), "--key", f"vera={public}"]) == 0
    assert main(["verify", str(tmp_path), "--key", f"vera={'ab' * 32}"]) == 2
    assert "not vera's key given with --key" in capfd.readouterr().err
    assert main(["verify", str(tmp_path), "--key", "vera"]) == 2


def test_a_shown_map_record_without_files_reproduces_by_its_hash(files, tmp_path: Path, capfd) -> None:
    """The GUI records maps it shows without saving them: reproduce compares the map's SHA-256."""
    from engine.explain_service import explain_case_task
    from engine.headless import open_session, workspace_spec
    from engine.records import RecordLog
    from engine.records.results import explain_record

    model, cases = files
    ctx = open_session(str(model), str(cases), trust=False)
    result = explain_case_task(ctx, 1, "gradient_x_input", {}, None)
    spec = workspace_spec(ctx, 1, "gradient_x_input", dict(result.params), int(result.targets[0]), False)
    log = RecordLog(tmp_path / "shown.jsonl")
    good = log.append(explain_record(result, spec, "gui"))
    forged = dict(good["details"], maps_sha256="0" * 64)
    bad = log.append(explain_record(result, spec, "gui") | {"details": forged})
    assert main(["reproduce", good["id"], "--log", str(log.path)]) == 0
    assert capfd.readouterr().out == "largest absolute difference: 0 (identical)\n"
    assert main(["reproduce", bad["id"], "--log", str(log.path)]) == 2
    assert "unknown (differs: the map's SHA-256 is not the record's)" in capfd.readouterr().out
