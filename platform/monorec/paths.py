"""Where monorec keeps its state by default: one absolute folder, never the working directory."""

from __future__ import annotations

import os
from pathlib import Path


def monorec_home() -> Path:
    """`MONOREC_HOME`, else `~/.monorec`: runs, the MLflow store, Ray results, cached recommenders."""
    return Path(os.environ.get("MONOREC_HOME") or Path.home() / ".monorec").expanduser()
