"""The offline bundle, end to end: build it, unpack it somewhere new, install it for a fresh user,
and run the installed app with the network off, as a user on a machine without Python would.

The build takes minutes and 2 GB, so it runs once per test run (the `archive` fixture), and
only where asked: in CI (CI=true) or with GLASSBOX_BUNDLE_TEST=1. GLASSBOX_BUNDLE=dist/....tar.gz
tests an archive that is already built instead. Elsewhere these tests skip and say so.
"""

from __future__ import annotations

import configparser
import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "resources" / "demo" / "digits_cnn.keras"
SHOTS = ROOT / "shots"
BARE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def network_off() -> list[str]:
    """`unshare -n` (a new network namespace with no interfaces up); skip where the kernel forbids it."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed: cannot turn the network off")
    trial = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if trial.returncode != 0:
        pytest.skip(f"the kernel forbids a network namespace here: {trial.stderr.strip()}")
    return ["unshare", "-n", "--"]


@pytest.fixture(scope="module")
def archive() -> Path:
    given = os.environ.get("GLASSBOX_BUNDLE")
    if given:
        return Path(given)
    if os.environ.get("CI") != "true" and os.environ.get("GLASSBOX_BUNDLE_TEST") != "1":
        pytest.skip("the bundle smoke test builds the bundle (minutes, 2 GB): set GLASSBOX_BUNDLE_TEST=1 "
                    "(CI does), or GLASSBOX_BUNDLE=dist/glassbox-....tar.gz to test one already built")
    subprocess.run(["bash", "installer/build.sh"], cwd=ROOT, check=True)
    return max((ROOT / "dist").glob("glassbox-*.tar.gz"), key=lambda p: p.stat().st_mtime)


@pytest.fixture(scope="module")
def installed(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The archive checked, unpacked into a new folder and installed for a user with an empty HOME."""
    recorded = (archive.parent / f"{archive.name}.sha256").read_text().split()
    assert recorded == [hashlib.sha256(archive.read_bytes()).hexdigest(), archive.name]
    unpacked = tmp_path_factory.mktemp("unpacked")
    subprocess.run(["tar", "-xzf", str(archive), "-C", str(unpacked)], check=True)
    (bundle,) = unpacked.iterdir()
    home = tmp_path_factory.mktemp("home")
    done = subprocess.run([str(bundle / "install.sh")], env=user_env(home), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    shutil.rmtree(bundle)  # the installed copy must stand on its own
    return {"home": home, "app": home / ".local/bin/glassbox", "prefix": home / ".local/share/glassbox"}


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """A fresh user's environment: no venv, no XDG overrides, no settings from the tests."""
    return {"HOME": str(home), "PATH": BARE_PATH, "LANG": "C.UTF-8", **extra}


def run_app(installed: dict[str, Path], *args: str, cwd: Path | None = None, **extra: str):
    env = user_env(installed["home"], QT_QPA_PLATFORM="offscreen", **extra)
    return subprocess.run([*network_off(), str(installed["app"]), *args], env=env, cwd=cwd or installed["home"],
                          capture_output=True, text=True, timeout=300)


def test_install_writes_a_valid_entry_icon_and_mime_types(installed: dict[str, Path]) -> None:
    share = installed["home"] / ".local/share"
    entry_path = share / "applications/glassbox.desktop"
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(entry_path)
    desktop = entry["Desktop Entry"]
    assert desktop["Exec"] == f'{installed["prefix"]}/glassbox %f'
    assert desktop["MimeType"] == "application/x-keras;application/x-hdf;application/x-hdf5;"
    assert (share / "icons/hicolor/scalable/apps/glassbox.svg").is_file()
    assert "application/x-keras" in (share / "mime/globs2").read_text(), "update-mime-database ran"
    assert installed["app"].resolve() == installed["prefix"] / "glassbox"
    if shutil.which("desktop-file-validate") is None:
        pytest.skip("desktop-file-validate (desktop-file-utils) is not installed")
    check = subprocess.run(["desktop-file-validate", str(entry_path)], capture_output=True, text=True)
    assert check.returncode == 0 and not check.stdout.strip(), check.stdout


def test_version_names_the_bundle_and_its_libraries(installed: dict[str, Path]) -> None:
    import engine
    import tensorflow as tf

    done = run_app(installed, "--version")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"glassbox {engine.__version__} (bundle)"
    assert f"tensorflow {tf.__version__}" in lines
    assert not [line for line in lines if line.endswith(" missing")]


def test_startup_check_offline_uses_the_usual_settings_folder(installed: dict[str, Path]) -> None:
    done = run_app(installed, "--startup-check")  # a hang dumps every thread's stack on stderr, exit 1
    assert done.returncode == 0, done.stderr[-4000:]
    assert "still open after the main window closed" not in done.stderr
    assert "window shown after" in done.stdout and "engine ready after" in done.stdout
    assert "(TensorFlow imported: False)" in done.stdout
    # the same platformdirs folder as the venv app: the window layout was saved there on close
    assert (installed["home"] / ".config/glassbox/settings.json").is_file()


def test_inspect_demo_and_h5_through_the_frozen_probe_child(installed: dict[str, Path], tmp_path: Path) -> None:
    demo = installed["prefix"] / "_internal/resources/demo/digits_cnn.keras"
    done = run_app(installed, "inspect", str(demo))
    assert done.returncode == 0, done.stderr
    assert f"SHA-256  {hashlib.sha256(DEMO.read_bytes()).hexdigest()}" in done.stdout
    # a legacy .h5 goes through the HDF5 probe child process: `glassbox --child h5probe` here
    from tests.engine.test_models import small_cnn

    h5 = tmp_path / "small.h5"
    small_cnn().save(h5)
    done = run_app(installed, "inspect", "--json", str(h5))
    assert done.returncode == 0, done.stderr
    assert '"format": "h5"' in done.stdout
    damaged = tmp_path / "damaged.h5"
    damaged.write_bytes(h5.read_bytes()[:4096])
    done = run_app(installed, "inspect", str(damaged))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_headless_explain_offline_then_verify(installed: dict[str, Path], tmp_path: Path) -> None:
    """`explain` of the demo model on three demo cases, two methods and both reports, inside the
    bundle with the network off; then `verify` of what it wrote."""
    import numpy as np

    demo_cases = np.load(ROOT / "resources" / "demo" / "digits_cases.npz")
    cases = tmp_path / "three.npz"
    np.savez(cases, **{k: demo_cases[k][:3] if k in ("x", "y", "split") else demo_cases[k] for k in demo_cases.files})
    demo = installed["prefix"] / "_internal/resources/demo/digits_cnn.keras"
    out = tmp_path / "out"
    done = run_app(installed, "explain", str(demo), str(cases), "--method", "saliency,gradcam",
                   "--report", "html,pdf", "--out", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[0] == f"6 results, records in {out / 'records.jsonl'}"
    assert done.stderr.splitlines()[-2:] == ["[6/6] case 2: gradcam", "writing the html/pdf report"]
    for case in range(3):
        for method in ("saliency", "gradcam"):
            maps = np.load(out / f"0000{case}_case_{case}_{method}.npy")
            assert maps.shape[0] == 1 and np.isfinite(maps).all() and np.abs(maps).max() > 0, (case, method)
    assert (out / "report.pdf").read_bytes().startswith(b"%PDF")
    done = run_app(installed, "verify", str(out))
    assert (done.returncode, done.stdout) == (0, "7 records intact\n"), done.stderr  # 6 maps + the reports
    (out / "00001_case_1_gradcam.npy").write_bytes(b"edited")
    done = run_app(installed, "verify", str(out))
    assert done.returncode == 2 and "artefact 00001_case_1_gradcam.npy changed" in done.stderr


def test_no_code_from_the_working_folder_or_pythonpath(installed: dict[str, Path], tmp_path: Path) -> None:
    """Modules planted where a script's imports would look are never imported by the bundle."""
    marker = tmp_path / "imported"
    plant = textwrap.dedent(f"""\
        open({str(marker)!r}, "a").write(__name__ + "\\n")
        raise SystemExit("planted code ran")
    """)
    for name in ("numpy.py", "sitecustomize.py", "usercustomize.py", "h5py.py", "engine/__init__.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(plant)
    demo = installed["prefix"] / "_internal/resources/demo/digits_cnn.keras"
    done = run_app(installed, "inspect", str(demo), cwd=tmp_path, PYTHONPATH=str(tmp_path),
                   PYTHONSTARTUP=str(tmp_path / "numpy.py"))
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), marker.read_text()


def test_double_click_opens_a_model_in_the_installed_app(installed: dict[str, Path], tmp_path: Path) -> None:
    """xdg-open on a .keras file (what a file manager does on a double-click), under Xvfb, offline."""
    missing = [tool for tool in ("xvfb-run", "xdg-open", "xdg-mime", "xwininfo", "import") if not shutil.which(tool)]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (xvfb, xdg-utils, x11-utils, imagemagick)")
    # a first start: no window layout saved by the offscreen runs above (their screen is smaller)
    (installed["home"] / ".config/glassbox/settings.json").unlink(missing_ok=True)
    model = tmp_path / "clicked.keras"
    shutil.copy(DEMO, model)
    env = user_env(installed["home"])
    query = subprocess.run(["xdg-mime", "query", "filetype", str(model)], env=env, capture_output=True, text=True)
    assert query.stdout.strip() == "application/x-keras"
    query = subprocess.run(["xdg-mime", "query", "default", "application/x-keras"], env=env,
                           capture_output=True, text=True)
    assert query.stdout.strip() == "glassbox.desktop"
    shot = tmp_path / "installed.png"
    script = textwrap.dedent(f"""\
        xdg-open {model} & opener=$!
        for _ in $(seq 600); do
          xwininfo -root -tree | grep -q 'clicked.keras' && break
          sleep 0.5
        done
        xwininfo -root -tree | grep 'clicked.keras' || {{ echo 'no window for clicked.keras'; exit 1; }}
        sleep 8  # let the views draw the model
        import -window root {shot}
        pkill -TERM -P $opener; kill $opener 2>/dev/null; wait
    """)
    done = subprocess.run([*network_off(), "xvfb-run", "-a", "-s", "-screen 0 1400x900x24", "bash", "-c", script],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert shot.stat().st_size > 10_000
    if SHOTS.is_dir():
        shutil.copy(shot, SHOTS / "bundle-double-click.png")


def test_uninstall_removes_everything_it_installed(installed: dict[str, Path], tmp_path: Path) -> None:
    share = installed["home"] / ".local/share"
    assert sys.platform.startswith("linux")
    done = subprocess.run([str(installed["prefix"] / "uninstall.sh")], env=user_env(installed["home"]),
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not installed["prefix"].exists() and not installed["app"].is_symlink()
    assert not (share / "applications/glassbox.desktop").exists()
    assert not (share / "mime/packages/glassbox.xml").exists()
    assert "x-keras" not in (share / "mime/globs2").read_text()
    mimeapps = installed["home"] / ".config/mimeapps.list"
    assert "glassbox.desktop" not in (mimeapps.read_text() if mimeapps.exists() else "")
