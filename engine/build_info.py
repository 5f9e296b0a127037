"""What `glassbox --version` prints: the app's version and the versions of the libraries it runs on.

Read from package metadata (importlib.metadata), not by importing the libraries: importing
TensorFlow takes seconds, and the metadata is what was installed, in a venv or in the bundle
(installer/glassbox.spec copies the metadata of exactly these distributions).
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata

import engine

# Distributions that shape results or the window, as pip names them.
LIBRARIES = ("tensorflow", "keras", "numpy", "h5py", "PySide6_Essentials", "scikit-learn",
             "scikit-image", "pyqtgraph", "umap-learn", "openTSNE", "pillow", "platformdirs")


def library_versions() -> dict[str, str]:
    """{distribution: version}; 'missing' for one that is not installed."""
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "missing"
    return found


def version_text() -> str:
    """`glassbox 0.1.0 (bundle)` then one `name version` line per library, Python first."""
    kind = "bundle" if getattr(sys, "frozen", False) else "source"
    lines = [f"glassbox {engine.__version__} ({kind})", f"python {platform.python_version()} ({sys.platform})"]
    lines += [f"{name} {version}" for name, version in library_versions().items()]
    return "\n".join(lines)
