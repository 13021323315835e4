"""The optional extras (`pip install 'monorec[<extra>]'`) and the one error for a missing one.

The core runs with none of them. A job that needs an extra checks for it before any work
starts, with `require`, so that a missing one is one line naming the extra and the install
command (the job exits 2), never a traceback from deep inside a run. Recording to MLflow is
the exception: a job whose work needs only the core skips tracking with a one-line note.
"""

from __future__ import annotations

import importlib

from monorec.errors import MissingExtraError

EXTRAS: dict[str, tuple[str, ...]] = {
    "ray": ("ray.train", "ray.tune", "optuna"),
    "mlflow": ("mlflow",),
    "serve": ("ray.serve", "fastapi"),
    "plots": ("matplotlib",),
    "implicit": ("implicit",),
}


def require(*extras: str, purpose: str) -> None:
    """Raise `MissingExtraError` for `purpose` unless every module of every extra imports."""
    missing = {extra: module for extra in dict.fromkeys(extras) if (module := missing_module(extra)) is not None}
    if missing:
        names = ",".join(missing)
        modules = ", ".join(missing.values())
        raise MissingExtraError(
            f"{purpose} needs the [{names}] extra ({modules} not installed): pip install 'monorec[{names}]'"
        )


def missing_module(extra: str) -> str | None:
    """The first module of `extra` that does not import, or None when all do."""
    for module in EXTRAS[extra]:
        try:
            importlib.import_module(module)
        except ImportError as error:
            return error.name or module
    return None
