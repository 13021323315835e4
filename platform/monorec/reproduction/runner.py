"""Run the reproduction cell by cell, resumably, then publish `results/` and log to MLflow.

Layout: models and per-run reports go to the work folder (`<work>/<cell>/<variant>/`); each
finished run's metrics go to `<results>/metrics/<cell>/<variant>.json` (small, tracked in git),
and that file is what marks the run done: a rerun skips every run whose file carries the same
config hash, so an interrupted reproduction resumes where it stopped. `force` recomputes.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from monorec.config import ExperimentConfig, ReproduceConfig, config_hash, load_config, recommender_hash, to_dict
from monorec.data import load_split
from monorec.errors import ConfigError
from monorec.pipeline import run_sae, trained_recommender
from monorec.reproduction.page import write_page
from monorec.reproduction.plan import Variant, cell_name, cell_plan
from monorec.storage import read_json, write_json

log = logging.getLogger(__name__)


def reproduce(
    settings: ReproduceConfig,
    config_dir: Path,
    work_dir: Path,
    results_dir: Path,
    datasets: Collection[str] | None = None,
    models: Collection[str] | None = None,
    device: str = "auto",
    force: bool = False,
    track: bool = True,
) -> Path:
    """Every selected cell, then `results/README.md` and its figures; returns the README's path."""
    cells = _select(settings, config_dir, datasets, models, device)
    computed: dict[str, list[tuple[Variant, Path, dict]]] = {}
    for number, base in enumerate(cells, 1):
        name = cell_name(base)
        log.info("cell %d/%d: %s", number, len(cells), name)
        computed[name] = _run_cell(base, settings, work_dir / name, results_dir / "metrics" / name, force)
    readme = write_page(results_dir)
    log.info("results page: %s", readme)
    if track:
        for base in cells:
            if computed[cell_name(base)]:
                _track_cell(base, computed[cell_name(base)], results_dir)
    return readme


def _select(
    settings: ReproduceConfig, config_dir: Path, datasets: Collection[str] | None, models: Collection[str] | None,
    device: str,
) -> list[ExperimentConfig]:
    overrides = [*settings.overrides, f"train.device={device}", f"sae_train.device={device}"]
    cells = [load_config(ExperimentConfig, config_dir / path, overrides) for path in settings.cells]
    chosen = [c for c in cells if (not datasets or c.data.dataset in datasets) and (not models or c.model.kind in models)]
    if not chosen:
        available = ", ".join(cell_name(c) for c in cells)
        raise ConfigError(f"no cell matches datasets={sorted(datasets or [])} models={sorted(models or [])}; cells: {available}")
    return chosen


def _run_cell(base: ExperimentConfig, settings: ReproduceConfig, work: Path, metrics_dir: Path, force: bool) -> list:
    """The cell's recommender, then each of its SAE runs not already finished."""
    if force:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(metrics_dir, ignore_errors=True)
    recommender_dir = work / "recommender"
    if not _finished(metrics_dir / "recommender.json", recommender_hash(base)):
        started = time.perf_counter()
        trained_recommender(base, recommender_dir)
        data, _ = load_split(base.data)
        matrix, names = data.concept_matrix()
        metrics = read_json(recommender_dir / "metrics.json")
        metrics.update(
            cell=cell_name(base),
            concept_items={name: int(count) for name, count in zip(names, matrix.sum(0))},
            wall_seconds=time.perf_counter() - started,
            machine=_machine(metrics["device"]),
        )
        write_json(metrics_dir / "recommender.json", metrics)
    computed = []
    plan = cell_plan(base, settings)
    for number, variant in enumerate(plan, 1):
        path = metrics_dir / f"{variant.name}.json"
        if _finished(path, config_hash(variant.config)):
            log.info("  %s: done earlier, skipped (--force recomputes)", variant.name)
            continue
        log.info("  SAE %d/%d: %s", number, len(plan), variant.name)
        started = time.perf_counter()
        metrics = run_sae(variant.config, work / variant.name, recommender_dir)
        metrics.update(
            cell=cell_name(base), variant=variant.name, kind=variant.kind, seed=variant.seed, beta=variant.beta,
            base_beta=base.sae_train.beta, wall_seconds=time.perf_counter() - started, machine=_machine(metrics["device"]),
        )  # fmt: skip
        if variant.kind == "matryoshka":
            metrics["matryoshka"] = prefix_groups(pd.read_csv(work / variant.name / "neurons.csv"), variant.config.sae.matryoshka)
        write_json(path, metrics)
        computed.append((variant, work / variant.name, metrics))
    return computed


def _finished(path: Path, fingerprint: str) -> bool:
    return path.is_file() and read_json(path).get("config_hash") == fingerprint


def _machine(device: str) -> str:
    if str(device).startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return f"{os.cpu_count()}-core CPU"


def prefix_groups(neurons: pd.DataFrame, prefixes: list[int]) -> list[dict]:
    """The neurons of each Matryoshka prefix beyond the previous one, with their labels and purity@10."""
    groups, start = [], 0
    for end in prefixes:
        rows = neurons.iloc[start:end]
        labelled = rows.dropna(subset=["label"])
        groups.append({
            "neurons": f"{start}-{end - 1}",
            "labels": [{"neuron": int(r.neuron), "label": r.label, "purity@10": float(r["purity@10"])}
                       for _, r in labelled.iterrows()],
            "labelled_share": len(labelled) / max(len(rows), 1),
            "mean_purity@10": float(np.nanmean(labelled["purity@10"])) if len(labelled) else None,
        })  # fmt: skip
        start = end
    return groups


def _track_cell(base: ExperimentConfig, runs: list[tuple[Variant, Path, dict]], results_dir: Path) -> None:
    """One parent MLflow run per cell (the page and figures attached), one child per SAE run."""
    try:
        from monorec.tracking import log_job_run, tracking_uri
    except ImportError:  # e.g. a GPU box with only the core installed: the results are on disk
        log.warning("mlflow is not installed: %s is not tracked", cell_name(base))
        return

    uri = tracking_uri(base.tracking.uri)
    base_runs = [metrics for variant, _, metrics in runs if variant.kind == "relu" and variant.beta == base.sae_train.beta]
    summary = {key: float(np.mean([m[key] for m in base_runs])) for key in ("rbo@20", "kendall_tau@20", "ms", "dead_ratio")
               if base_runs and all(key in m for m in base_runs)}  # fmt: skip
    figures = sorted(results_dir.glob("*.png"))
    parent = log_job_run("reproduce", to_dict(base), summary, results_dir / "metrics" / cell_name(base), uri,
                         run_name=f"reproduce-{cell_name(base)}", artifacts=[results_dir / "README.md", *figures])  # fmt: skip
    for variant, output_dir, metrics in runs:
        log_job_run("reproduce", to_dict(variant.config), metrics, output_dir, uri, run_name=variant.name, parent_run_id=parent)
    log.info("%s: MLflow parent run %s with %d child runs (%s)", cell_name(base), parent, len(runs), uri)
