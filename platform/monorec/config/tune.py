"""The `tune` (SAE search) and `tracking` (MLflow) sections."""

from __future__ import annotations

import dataclasses
from typing import Literal

from monorec.config.checks import at_least, positive, within
from monorec.config.sae import LOSS_WEIGHTS, Activation
from monorec.errors import ConfigError

SEARCHABLE = (*LOSS_WEIGHTS, "rho")


@dataclasses.dataclass
class SearchRange:
    """A log-uniform (or uniform) range for one SAE loss weight."""

    low: float
    high: float
    log: bool = True


@dataclasses.dataclass
class TuneConfig:
    """The SAE search of `jobs/tune_sae.py` (objective documented in `monorec.tune.search`).

    `monosemanticity` picks the objective's first term (MS, or the mean best purity@10 over
    genres); `fidelity` picks its RBO on the validation users: `extrapolated` (ours, at depth 20:
    identical lists score 1) or `truncated` (the paper's, at depth 29: identical lists score about
    0.95), so that a search can be steered by the measure the paper reports.
    """

    search: dict[str, SearchRange] = dataclasses.field(
        default_factory=lambda: {
            "alpha": SearchRange(0.1, 10.0),
            "beta": SearchRange(0.01, 10.0),
            "lambda1": SearchRange(1e-5, 1e-1),
            "lambda2": SearchRange(1e-4, 1e-1),
            "rho": SearchRange(0.01, 0.2),
        }
    )
    n_latents: list[int] = dataclasses.field(default_factory=list)
    activation: list[Activation] = dataclasses.field(default_factory=list)
    num_samples: int = 16
    max_concurrent_trials: int = 2
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    monosemanticity: Literal["ms", "purity"] = "ms"
    fidelity: Literal["extrapolated", "truncated"] = "extrapolated"
    weight: float = 0.5
    max_dead_ratio: float = 0.5
    grace_period: int = 3
    storage_path: str | None = None  # None: MONOREC_STORAGE, else <MONOREC_HOME>/ray_results (single node only)
    max_failures: int = 2  # a trial on a lost (e.g. pre-empted) node restarts from its last checkpoint
    name: str = "tune_sae"
    seed: int = 0

    def __post_init__(self) -> None:
        for name, bounds in self.search.items():
            if name not in SEARCHABLE:
                raise ConfigError(f"tune.search.{name}: can only search {list(SEARCHABLE)}")
            if bounds.low > bounds.high or bounds.low < 0 or (bounds.log and bounds.low <= 0):
                kind = "0 < low <= high for a log range" if bounds.log else "0 <= low <= high"
                raise ConfigError(f"tune.search.{name}: needs {kind}, got low={bounds.low}, high={bounds.high}")
        for size in self.n_latents:
            at_least("tune.n_latents[]", size, 1)
        within("tune.weight", self.weight, 0, 1)
        within("tune.max_dead_ratio", self.max_dead_ratio, 0, 1)
        at_least("tune.num_samples", self.num_samples, 1)
        at_least("tune.max_concurrent_trials", self.max_concurrent_trials, 1)
        positive("tune.cpus_per_trial", self.cpus_per_trial)
        at_least("tune.gpus_per_trial", self.gpus_per_trial, 0)
        at_least("tune.grace_period", self.grace_period, 1)
        at_least("tune.max_failures", self.max_failures, 0)


@dataclasses.dataclass
class TrackingConfig:
    """MLflow: the tracking URI (default: a local SQLite store, see `monorec.tracking`)."""

    uri: str | None = None
    register_alias: str = "champion"
