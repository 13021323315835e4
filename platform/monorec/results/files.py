"""Results on disk and in MLflow: `metrics.json` written and read back typed, every number named by its path."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Any, TypeVar

from monorec.errors import DataError
from monorec.results.legacy import upgrade
from monorec.results.runs import SAERun
from monorec.storage import read_json, write_json
from monorec.typed import from_dict, to_dict

T = TypeVar("T")
MLFLOW_UNSAFE = re.compile(r"[^\w./\- :]")  # MLflow allows letters, digits, _ - . / space and :
CURVE_SERIES = ("strength", "effect", "collateral_rbo", "ndcg")


def to_json(run: Any) -> dict:
    """The `metrics.json` form of a result."""
    return to_dict(run)


def from_json(cls: type[T], values: dict, source: str = "metrics") -> T:
    """Read a result back (files written by older versions through `legacy.upgrade`), with a clear
    error naming the key of anything missing or mistyped."""
    return from_dict(cls, upgrade(values), error=DataError, noun=f"{source} key")


def write_result(run: Any, path: Path) -> None:
    write_json(path, to_json(run))


def read_result(cls: type[T], path: Path) -> T:
    if not path.is_file():
        raise DataError(f"no results file at {path}")
    return from_json(cls, read_json(path), str(path))


def mlflow_metrics(run: Any, prefix: str = "") -> dict[str, float]:
    """Every finite number of a result, named by its path: `fidelity/rbo`, `mono/concepts/Horror/purity/10`.

    Strings, lists and None are not metrics and are left out; booleans are not numbers here.
    """
    flat: dict[str, float] = {}
    items = dataclasses.asdict(run).items() if dataclasses.is_dataclass(run) else run.items()
    for key, value in items:
        name = MLFLOW_UNSAFE.sub("", f"{prefix}{key}")
        if isinstance(value, dict):
            flat.update(mlflow_metrics(value, f"{name}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            flat[name] = float(value)
    return flat


def mlflow_series(run: SAERun) -> dict[str, list[float]]:
    """Every dose-response curve as metric histories (one step per point), for MLflow's charts.

    `case_studies/filtering/sae/suppress its neuron on the user tower/effect` holds that curve's
    effects in order (study, source, method, measure); `.../strength` the parameter values they
    were measured at.
    """
    series: dict[str, list[float]] = {}
    for name, study in run.case_studies.items():
        for curve in study.curves:
            prefix = MLFLOW_UNSAFE.sub("", f"case_studies/{name}/{curve.source}/{curve.method}")
            for field in CURVE_SERIES:
                series[f"{prefix}/{field}"] = [getattr(point, field) for point in curve.points]
    return series
