"""What the reproduction keeps per run (`results/metrics/<cell>/<run>.json`) and how the page reads it.

Each file is a typed record: the run's own result (`RecommenderRun`, `SAERun`) plus where it
sits in the reproduction (cell, variant, seed, beta) and what it cost (wall time, machine).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal, TypeVar

from monorec.errors import DataError
from monorec.results import RecommenderRun, SAERun, from_json
from monorec.storage import read_json, write_json
from monorec.typed import to_dict

Architecture = Literal["relu", "matryoshka", "topk"]  # which SAE: the paper's KL-sparse ReLU, Matryoshka, TopK
ArmGroup = Literal["shipped", "difference", "notebook", "extra", "sanity"]  # the ablation's arms, by role
RECOMMENDER = "recommender"
ABLATION = "ablation"  # `<results>/ablation/<cell>/`: the records of `jobs/ablate.py`
ELAPSED = "elapsed.json"  # `<results>/ablation/elapsed.json`: each ablation invocation's start-to-end time
SHIPPED, NOTEBOOK = "shipped", "notebook"  # the ablation's reference arms: monorec's defaults, every difference on
PURE = 0.9  # a genre counts as found when its best neuron's purity@10 reaches this
CELL_ORDER = ("ml1m_mf", "ml1m_ncf", "ml1m_als20", "ml1m_als64", "ml1m_lightgcn20", "lastfm_mf", "lastfm_ncf")


@dataclasses.dataclass(frozen=True)
class RecommenderRecord:
    cell: str
    concept_items: dict[str, int]  # items carrying each concept: purity@K cannot exceed count / K
    wall_seconds: float
    machine: str
    run: RecommenderRun
    bias_share: float | None = None  # the ablation's: share of each list's score variance the item biases carry


@dataclasses.dataclass(frozen=True)
class SAERecord:
    cell: str
    variant: str
    architecture: Architecture
    seed: int
    beta: float
    base_beta: float  # the cell config's own beta: the paper-default SAE is the one at this beta
    wall_seconds: float
    machine: str
    run: SAERun
    arm: str | None = None  # the ablation's arm (`monorec.reproduction.ablation`); None in the reproduction
    group: ArmGroup | None = None  # and its role there
    family: str | None = None  # `config.family_hash`: the ablation's runs that differ only in beta and seed share it

    @property
    def is_base(self) -> bool:
        return self.beta == self.base_beta


@dataclasses.dataclass(frozen=True)
class Elapsed:
    """How long one ablation invocation that computed anything took from start to end, and on what."""

    seconds: float
    workers: int
    runs: int  # runs it computed (the others were already recorded)
    machine: str


@dataclasses.dataclass
class CellRuns:
    """Every finished run of one dataset x model cell."""

    recommender: RecommenderRecord | None
    saes: dict[str, SAERecord]

    def base(self) -> list[SAERecord]:
        """The paper-default SAE (ReLU + KL at the config's beta), one per seed."""
        return [r for r in self.saes.values() if r.architecture == "relu" and r.is_base]

    def at_beta(self, beta: float) -> list[SAERecord]:
        return [r for r in self.saes.values() if r.architecture == "relu" and r.beta == beta]

    def betas(self) -> list[float]:
        return sorted({r.beta for r in self.saes.values() if r.architecture == "relu"})

    def first(self, architecture: Architecture) -> SAERecord | None:
        """The run of `architecture` at the base beta with the lowest seed (seed 0 in the default plan)."""
        runs = sorted(
            (r for r in self.saes.values() if r.architecture == architecture and r.is_base), key=lambda r: r.seed
        )
        return runs[0] if runs else None

    def records(self) -> list[RecommenderRecord | SAERecord]:
        return ([self.recommender] if self.recommender else []) + list(self.saes.values())


Runs = dict[str, CellRuns]


@dataclasses.dataclass
class AblationCell:
    """One cell's ablation records (`jobs/ablate.py`), by arm."""

    recommenders: dict[str, RecommenderRecord]
    arms: dict[str, list[SAERecord]]

    def arm(self, name: str) -> list[SAERecord]:
        return sorted(self.arms.get(name, []), key=lambda r: r.seed)

    def named(self, group: str) -> list[str]:
        """The arms of one role (`ArmGroup`), by name."""
        return sorted(name for name, records in self.arms.items() if records[0].group == group)


def genres_found(record: SAERecord, k: int = 10) -> int:
    """Genres whose best neuron has purity@k at least `PURE`."""
    return sum(best.purity.get(k, 0.0) >= PURE for best in record.run.mono.concepts.values())


Record = TypeVar("Record", RecommenderRecord, SAERecord)


def write_record(record: RecommenderRecord | SAERecord, path: Path) -> None:
    write_json(path, to_dict(record))


def read_record(cls: type[Record], path: Path) -> Record:
    return from_json(cls, read_json(path), str(path))


def finished(cls: type[RecommenderRecord | SAERecord], path: Path, fingerprint: str) -> bool:
    """Whether `path` holds a readable record of a run with this config hash."""
    if not path.is_file():
        return False
    try:
        return read_record(cls, path).run.config_hash == fingerprint
    except DataError:  # written by another version of monorec: recompute it
        return False


def load_runs(results_dir: Path) -> Runs:
    """Every cell's records under `results_dir/metrics/`, cells in the paper's order."""
    cells: Runs = {}
    for folder in sorted((results_dir / "metrics").glob("*")):
        if folder.is_dir():
            recommender_path = folder / f"{RECOMMENDER}.json"
            recommender = read_record(RecommenderRecord, recommender_path) if recommender_path.is_file() else None
            saes = {p.stem: read_record(SAERecord, p) for p in sorted(folder.glob("*.json")) if p != recommender_path}
            cells[folder.name] = CellRuns(recommender, saes)
    order = {name: i for i, name in enumerate(CELL_ORDER)}
    return dict(sorted(cells.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def load_ablation(results_dir: Path) -> dict[str, AblationCell]:
    """Every cell's records under `results_dir/ablation/`."""
    cells = {}
    for folder in sorted((results_dir / ABLATION).glob("*")):
        if not folder.is_dir():
            continue
        recommenders, arms = {}, {}
        for path in sorted(folder.glob("*.json")):
            if path.stem.startswith(RECOMMENDER):
                recommenders[path.stem] = read_record(RecommenderRecord, path)
            else:
                record = read_record(SAERecord, path)
                arms.setdefault(record.arm or path.stem, []).append(record)
        cells[folder.name] = AblationCell(recommenders, arms)
    return cells
