"""The fidelity gap to the paper, one notebook difference at a time (`jobs/ablate.py`, docs/method.md §3-4).

Per cell (a dataset x model experiment config), in three phases, resumable like the
reproduction (a record whose config hash matches is not recomputed):

1. on the first seed, the shipped config and each notebook difference that applies to the
   cell's model kind, alone;
2. on every seed, the shipped config, the kind's notebook config (every difference at once),
   the single difference whose truncated RBO moved furthest from the shipped one in phase 1,
   and the configurations beyond the notebooks (`extra`);
3. on every seed, the random-SAE arms (`sanity`), with only the configured case studies.

Records go to `<results>/ablation/<cell>/<arm>_seed<k>.json`, each with its arm's role (`group`)
and configuration apart from beta and seed (`family`, which the stop rule reads); a recommender
that an arm changes (the SGD-trained MF) gets its own record, `recommender_<arm>.json`. Every
recommender record carries the share of list variance its item biases carry (`bias_share`).
The page's section on the gap (`reproduction.gap`) reads them.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import shutil
import time
from collections.abc import Callable, Collection
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from monorec.config import (
    AblationConfig,
    ExperimentConfig,
    apply_overrides,
    family_hash,
    load_config,
    recommender_hash,
    run_hash,
)
from monorec.config.experiment import Overrides
from monorec.data import load_split
from monorec.devices import resolve_device
from monorec.pipeline import trained_recommender
from monorec.recommenders import TwoTowerRecommender
from monorec.reproduction.plan import Variant, cell_name
from monorec.reproduction.records import (
    ABLATION,
    ELAPSED,
    NOTEBOOK,
    RECOMMENDER,
    SHIPPED,
    ArmGroup,
    Elapsed,
    RecommenderRecord,
    SAERecord,
    finished,
    read_record,
    write_record,
)
from monorec.reproduction.runner import cell_overrides, machine, recorded_recommender, recorded_sae, select_cells
from monorec.sae.training import sae_folds
from monorec.storage import read_json, write_json
from monorec.typed import from_dict, to_dict

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Arm:
    """One configuration of a cell, run on one or more seeds; `group` is its role on the page."""

    name: str
    group: ArmGroup
    config: ExperimentConfig

    def on(self, seed: int) -> Variant:
        config = dataclasses.replace(self.config, sae_train=dataclasses.replace(self.config.sae_train, seed=seed))
        return Variant(f"{self.name}_seed{seed}", "relu", seed, config.sae_train.beta, config)


def overridden(config: ExperimentConfig, settings: list[str]) -> ExperimentConfig:
    """`config` with `--set` strings applied (and checked, as a file's would be)."""
    return from_dict(ExperimentConfig, apply_overrides(to_dict(config), settings))


def quiet(config: ExperimentConfig) -> ExperimentConfig:
    """The ablation's arms measure fidelity and monosemanticity only: no case studies."""
    return dataclasses.replace(config, case_studies=dataclasses.replace(config.case_studies, enabled=False))


def kind_arms(base: ExperimentConfig, table: dict[str, Overrides], group: ArmGroup) -> list[Arm]:
    """Each entry of `table` (name -> model kind -> settings) that applies to the cell's model kind."""
    kind = base.model.kind
    return [Arm(name, group, quiet(overridden(base, sets[kind]))) for name, sets in table.items() if kind in sets]


def sanity_arms(base: ExperimentConfig, settings: AblationConfig) -> list[Arm]:
    studies = f"case_studies.studies=[{', '.join(settings.sanity_studies)}]"
    return [Arm(name, "sanity", overridden(base, [*sets, studies])) for name, sets in settings.sanity.items()]


def cell_arms(base: ExperimentConfig, settings: AblationConfig, notebook: ExperimentConfig | None) -> dict[str, Arm]:
    """Every arm a cell may run, by name (a record's `arm`): what the phases choose from."""
    arms = [
        Arm(SHIPPED, "shipped", quiet(base)),
        *([Arm(NOTEBOOK, "notebook", quiet(notebook))] if notebook is not None else []),
        *kind_arms(base, settings.differences, "difference"),
        *kind_arms(base, settings.extra, "extra"),
        *sanity_arms(base, settings),
    ]
    return {arm.name: arm for arm in arms}


def notebook_config(
    base: ExperimentConfig, settings: AblationConfig, config_dir: Path, device: str
) -> ExperimentConfig | None:
    """The cell's every-difference config (`settings.notebook` for its model kind), or None."""
    path = settings.notebook.get(base.model.kind)
    return load_config(ExperimentConfig, config_dir / path, cell_overrides(settings, device)) if path else None


def ablate(
    settings: AblationConfig,
    config_dir: Path,
    work_dir: Path,
    results_dir: Path,
    datasets: Collection[str] | None = None,
    models: Collection[str] | None = None,
    device: str = "auto",
    force: bool = False,
    workers: int = 1,
    worker_setup: Callable[[], None] | None = None,
) -> None:
    """Every phase of every selected cell (see the module docstring); `force` recomputes them.

    With `workers` > 1 the cells' ablations and random-SAE checks run as separate tasks in that
    many processes, each given its share of the CPU's threads (small-batch SAE training uses
    about one core, so two processes on two cores finish in about half the time). Each cell's
    shipped recommender is trained first, here, so no two tasks train it at once. The elapsed
    time of each invocation that computed anything is added to `<results>/ablation/elapsed.json`.
    `worker_setup` runs first in each worker process (the job's logging set-up).
    """
    started = time.perf_counter()
    cells = []
    for base in select_cells(settings, config_dir, datasets, models, device):
        name = cell_name(base)
        work, folder = work_dir / name, results_dir / ABLATION / name
        if force:
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(folder, ignore_errors=True)
        arms = cell_arms(base, settings, notebook_config(base, settings, config_dir, device))
        cells.append(_Cell(base, settings, arms, work, folder))
    for cell in cells:
        cell.recommender(cell.shipped)
    tasks = [(cell, part) for part in ("differences", "sanity") for cell in cells]
    if workers > 1:
        threads = max(1, (os.cpu_count() or 1) // workers)
        spawn = multiprocessing.get_context("spawn")  # no fork of a process whose OpenMP threads are running
        with ProcessPoolExecutor(workers, spawn, _start_worker, (threads, worker_setup)) as pool:
            computed = sum(pool.map(_run_part, *zip(*tasks)))
    else:
        computed = sum(_run_part(cell, part) for cell, part in tasks)
    if computed:
        path = results_dir / ABLATION / ELAPSED
        earlier = read_json(path) if path.is_file() else []
        elapsed = Elapsed(time.perf_counter() - started, workers, computed, machine(device))
        write_json(path, [*earlier, to_dict(elapsed)])


def _start_worker(threads: int, setup: Callable[[], None] | None) -> None:
    if setup is not None:
        setup()
    torch.set_num_threads(threads)


def _run_part(cell: _Cell, part: str) -> int:
    """One task, in a worker process or here: a cell's `differences` or `sanity` runs; how many it computed."""
    log.info("ablation %s: %s", cell.folder.name, part)
    before = cell.computed
    getattr(cell, part)()
    return cell.computed - before


class _Cell:
    """One cell's runs, each skipped when its record is already there."""

    def __init__(
        self, base: ExperimentConfig, settings: AblationConfig, arms: dict[str, Arm], work: Path, folder: Path
    ) -> None:
        self.base, self.settings, self.work, self.folder = base, settings, work, folder
        self.shipped = arms[SHIPPED]
        self.notebook = [arms[NOTEBOOK]] if NOTEBOOK in arms else []
        self.arms = arms
        self.computed = 0

    def differences(self) -> None:
        """Phases 1 and 2: each difference on the first seed, then the references and extras on every seed."""
        first, seeds = self.settings.seeds[0], self.settings.seeds
        differences = [arm for arm in self.arms.values() if arm.group == "difference"]
        baseline = self.record(self.shipped, first).run.fidelity.rbo_truncated
        moved = {arm.name: abs(self.record(arm, first).run.fidelity.rbo_truncated - baseline) for arm in differences}
        largest = [max(differences, key=lambda arm: moved[arm.name])] if differences else []
        extra = [arm for arm in self.arms.values() if arm.group == "extra"]
        for arm in [self.shipped, *largest, *self.notebook, *extra]:
            for seed in seeds:
                self.record(arm, seed)

    def sanity(self) -> None:
        """Phase 3: the random-SAE arms on every seed."""
        for arm in (arm for arm in self.arms.values() if arm.group == "sanity"):
            for seed in self.settings.seeds:
                self.record(arm, seed)

    def record(self, arm: Arm, seed: int) -> SAERecord:
        variant = arm.on(seed)
        path = self.folder / f"{variant.name}.json"
        if finished(SAERecord, path, run_hash(variant.config)):
            return read_record(SAERecord, path)
        log.info("  %s", variant.name)
        recommender_dir = self.recommender(arm)
        record = recorded_sae(
            variant, cell_name(self.base), self.base.sae_train.beta, self.work, recommender_dir, arm.name
        )
        record = dataclasses.replace(record, group=arm.group, family=family_hash(variant.config))
        write_record(record, path)
        self.computed += 1
        return record

    def recommender(self, arm: Arm) -> Path:
        """The arm's recommender folder, trained (and recorded with its bias share) on first use."""
        fingerprint = recommender_hash(arm.config)
        name = RECOMMENDER if fingerprint == recommender_hash(self.base) else f"{RECOMMENDER}_{arm.name}"
        folder, path = self.work / f"{RECOMMENDER}_{fingerprint}", self.folder / f"{name}.json"
        if not finished(RecommenderRecord, path, fingerprint):
            record = recorded_recommender(arm.config, folder)
            share = _bias_share(arm.config, folder)
            write_record(dataclasses.replace(record, bias_share=share), path)
        return folder


def _bias_share(config: ExperimentConfig, folder: Path) -> float | None:
    """The recommender's bias share (`bias_share`) on the report users."""
    data, split = load_split(config.data)
    recommender = trained_recommender(config, folder, (data, split))
    device = resolve_device(config.sae_train.device)
    users = torch.as_tensor(sae_folds(split, config.sae_train).report, device=device)
    return bias_share(recommender.to(device), users)


def bias_share(recommender: TwoTowerRecommender, users: torch.Tensor) -> float | None:
    """Mean over `users` of the share of their score variance across items that item biases carry.

    A user's list is ordered by b_i + e_u . e_i (the other terms are constant across items): the
    larger the biases' share, the less an error in the embeddings can reorder it. None for a model
    without item biases (NCF).
    """
    biases = recommender.item_biases()
    if biases is None:
        return None
    with torch.no_grad():
        scores = recommender.rank_scores(users).double()
    return float((biases.double().var() / scores.var(1)).mean())
