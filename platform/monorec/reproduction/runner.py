"""Run the reproduction cell by cell, resumably, then publish `results/` and log to MLflow.

Layout: models and per-run reports go to the work folder (`<work>/<cell>/<variant>/`); each
finished run's record goes to `<results>/metrics/<cell>/<variant>.json` (small, tracked in git),
and that file is what marks the run done: a rerun skips every run whose record carries the same
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
import torch

from monorec.config import AblationConfig, ExperimentConfig, ReproduceConfig, load_config, recommender_hash, run_hash
from monorec.data import load_dataset
from monorec.errors import ConfigError, MissingExtraError
from monorec.extras import missing_module
from monorec.pipeline import check_extras, run_recommender, run_sae
from monorec.reproduction.page import write_page
from monorec.reproduction.plan import Variant, cell_name, cell_plan
from monorec.reproduction.records import RECOMMENDER, RecommenderRecord, SAERecord, finished, write_record
from monorec.results import mlflow_metrics, mlflow_series

log = logging.getLogger(__name__)

Computed = list[tuple[Variant, Path, SAERecord]]


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
    cells = select_cells(settings, config_dir, datasets, models, device)
    computed: dict[str, Computed] = {}
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


def cell_overrides(settings: ReproduceConfig | AblationConfig, device: str) -> list[str]:
    """What every cell's config gets on top of its file: the settings' overrides and the device."""
    return [*settings.overrides, f"train.device={device}", f"sae_train.device={device}"]


def select_cells(
    settings: ReproduceConfig | AblationConfig,
    config_dir: Path,
    datasets: Collection[str] | None,
    models: Collection[str] | None,
    device: str,
) -> list[ExperimentConfig]:
    """The settings' cells that match `datasets` and `models`, each with its extras installed."""
    overrides = cell_overrides(settings, device)
    cells = [load_config(ExperimentConfig, config_dir / path, overrides) for path in settings.cells]
    chosen = [
        c for c in cells if (not datasets or c.data.dataset in datasets) and (not models or c.model.kind in models)
    ]
    if not chosen:
        available = ", ".join(cell_name(c) for c in cells)
        wanted = f"datasets={sorted(datasets or [])} models={sorted(models or [])}"
        raise ConfigError(f"no cell matches {wanted}; cells: {available}")
    missing = {}
    for cell in chosen:
        try:
            check_extras(cell)
        except MissingExtraError as error:
            missing[cell_name(cell)] = str(error)
    if missing:
        names = ", ".join(missing)
        raise MissingExtraError(f"cells {names}: {next(iter(missing.values()))} (or leave them out with --models)")
    return chosen


def _run_cell(
    base: ExperimentConfig, settings: ReproduceConfig, work: Path, metrics_dir: Path, force: bool
) -> Computed:
    """The cell's recommender, then each of its SAE runs not already finished."""
    if force:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(metrics_dir, ignore_errors=True)
    recommender_dir = work / RECOMMENDER
    if not finished(RecommenderRecord, metrics_dir / f"{RECOMMENDER}.json", recommender_hash(base)):
        write_record(recorded_recommender(base, recommender_dir), metrics_dir / f"{RECOMMENDER}.json")
    computed: Computed = []
    plan = cell_plan(base, settings)
    for number, variant in enumerate(plan, 1):
        path = metrics_dir / f"{variant.name}.json"
        if finished(SAERecord, path, run_hash(variant.config)):
            log.info("  %s: done earlier, skipped (--force recomputes)", variant.name)
            continue
        log.info("  SAE %d/%d: %s", number, len(plan), variant.name)
        record = recorded_sae(variant, cell_name(base), base.sae_train.beta, work, recommender_dir)
        write_record(record, path)
        computed.append((variant, work / variant.name, record))
    return computed


def recorded_recommender(config: ExperimentConfig, recommender_dir: Path) -> RecommenderRecord:
    """Train the cell's recommender into `recommender_dir` and describe it for the page."""
    started = time.perf_counter()
    run = run_recommender(config, recommender_dir)
    matrix, names = load_dataset(config.data).concept_matrix()
    concept_items = {name: int(count) for name, count in zip(names, matrix.sum(0))}
    seconds = time.perf_counter() - started
    return RecommenderRecord(cell_name(config), concept_items, seconds, machine(run.training.device), run)


def recorded_sae(
    variant: Variant, cell: str, base_beta: float, work: Path, recommender_dir: Path, arm: str | None = None
) -> SAERecord:
    """Run one SAE of a plan on the recommender in `recommender_dir`, timed, as its record."""
    started = time.perf_counter()
    run = run_sae(variant.config, work / variant.name, recommender_dir)
    return SAERecord(
        cell=cell,
        variant=variant.name,
        architecture=variant.architecture,
        seed=variant.seed,
        beta=variant.beta,
        base_beta=base_beta,
        wall_seconds=time.perf_counter() - started,
        machine=machine(run.training.device),
        run=run,
        arm=arm,
    )


def machine(device: str) -> str:
    """The device's name as the page prints it: the GPU's model, or the CPU's core count."""
    if str(device).startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return f"{os.cpu_count()}-core CPU"


def _track_cell(base: ExperimentConfig, runs: Computed, results_dir: Path) -> None:
    """One parent MLflow run per cell (the page and figures attached), one child per SAE run."""
    if missing_module("mlflow") is not None:  # the core install: the results are on disk, MLflow is an extra
        log.info("tracking skipped for %s: mlflow is not installed (pip install 'monorec[mlflow]')", cell_name(base))
        return
    from monorec.tracking import Tracker

    tracker = Tracker(base.tracking.uri)
    figures = sorted(results_dir.glob("*.png"))
    seeds = [mlflow_metrics(record.run) for _, _, record in runs if record.architecture == "relu" and record.is_base]
    common = set.intersection(*(set(m) for m in seeds)) if seeds else set()
    summary = {name: float(np.mean([m[name] for m in seeds])) for name in sorted(common)}
    parent = tracker.log_job_run(
        "reproduce",
        base,
        summary,
        results_dir / "metrics" / cell_name(base),
        run_name=f"reproduce-{cell_name(base)}",
        artifacts=[results_dir / "README.md", *figures],
    )
    for variant, output_dir, record in runs:
        tracker.log_job_run(
            "reproduce",
            variant.config,
            mlflow_metrics(record.run),
            output_dir,
            run_name=variant.name,
            parent_run_id=parent,
            series=mlflow_series(record.run),
        )
    log.info("%s: MLflow parent run %s with %d child runs (%s)", cell_name(base), parent, len(runs), tracker.uri)
