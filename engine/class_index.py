"""Keras's ImageNet class index (1000 names), read only from where Keras keeps it offline.

Keras does not ship `imagenet_class_index.json`: `decode_predictions` downloads it into
``$KERAS_HOME/models`` (default ``~/.keras/models``) on first use. Glassbox never downloads,
so the names exist only if that file is already there (or is copied there); otherwise
`imagenet_class_names` says so and 1000-class models show class numbers.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

FILE = "imagenet_class_index.json"
N_CLASSES = 1000


def index_path() -> Path:
    """Where Keras keeps (or would download) the class index."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models" / FILE


def imagenet_class_names() -> tuple[list[str] | None, str]:
    """(1000 names, "") if Keras's class index is on disk, else (None, why not)."""
    path = index_path()
    if not path.is_file():
        return None, (f"ImageNet class names are not available offline: Keras downloads {FILE} on first use "
                      f"and it is not in {path.parent}; copy it there to see names.")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        names = [str(data[str(i)][1]) for i in range(N_CLASSES)]
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        return None, f"{path} is not Keras's ImageNet class index ({type(exc).__name__})."
    return names, ""
