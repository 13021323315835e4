"""The whole-run configs: one experiment (dataset x model, then its SAE) and the reproduction."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from monorec.config.checks import at_least, within
from monorec.config.data import DataConfig
from monorec.config.model import ModelConfig, model_identity
from monorec.config.sae import CaseStudyConfig, InterpretConfig, SAEConfig, SAETrainConfig, Study
from monorec.config.training import EvalConfig, RayConfig, TrainConfig
from monorec.config.tune import TrackingConfig, TuneConfig
from monorec.errors import ConfigError
from monorec.kinds import KINDS
from monorec.typed import to_dict

RECOMMENDER_SECTIONS = ("data", "model", "train", "eval")


@dataclasses.dataclass
class ExperimentConfig:
    """One config file per dataset x model: the recommender's settings, then the SAE's.

    Every job reads the same file and uses the sections it needs, so the SAE job trains exactly
    the recommender that `jobs/train_recommender.py` would. `ray` says where training runs and
    is left out of every hash: the same settings give the same model on one process or many.
    """

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    ray: RayConfig = dataclasses.field(default_factory=RayConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    sae: SAEConfig = dataclasses.field(default_factory=SAEConfig)
    sae_train: SAETrainConfig = dataclasses.field(default_factory=SAETrainConfig)
    interpret: InterpretConfig = dataclasses.field(default_factory=InterpretConfig)
    case_studies: CaseStudyConfig = dataclasses.field(default_factory=CaseStudyConfig)
    tune: TuneConfig = dataclasses.field(default_factory=TuneConfig)
    tracking: TrackingConfig = dataclasses.field(default_factory=TrackingConfig)

    def __post_init__(self) -> None:
        kind, traits = self.model.kind, self.model.traits
        trainable = ", ".join(name for name, t in KINDS.items() if t.ray_train)
        sparse = ", ".join(name for name, t in KINDS.items() if t.sparse_embeddings)
        if self.train.sparse_embeddings and (self.ray.num_workers > 0 or not traits.sparse_embeddings):
            raise ConfigError(
                f"train.sparse_embeddings is for model.kind {sparse} trained in this process (ray.num_workers 0)"
            )
        if self.ray.num_workers > 0 and not traits.ray_train:
            raise ConfigError(f"ray.num_workers > 0 trains model.kind {trainable}; {kind} trains in this process")
        if traits.sequential and self.data.split != "leave_last_out":
            raise ConfigError(
                f"model.kind {kind} reads each user's history in time order: set data.split to leave_last_out"
            )


@dataclasses.dataclass
class ReproduceConfig:
    """`jobs/reproduce.py`: the paper's experiments over several dataset x model cells.

    cells: experiment configs (paths relative to this file), one per dataset x model. For each,
    one recommender, then SAEs for every beta in `betas` and seed in `seeds` (the seed is the
    SAE's: the recommender is shared so that the ablation isolates beta), plus a Matryoshka SAE
    (prefixes at `matryoshka_fractions` of m) and a TopK SAE (k = `topk_fraction` of m) at the
    config's own beta and the first seed. `overrides` apply to every cell (`--set` syntax).
    """

    cells: list[str] = dataclasses.field(
        default_factory=lambda: [
            *("ml1m_mf.yaml", "ml1m_ncf.yaml", "lastfm_mf.yaml", "lastfm_ncf.yaml"),
            *("ml1m_als.yaml", "ml1m_als64.yaml", "ml1m_lightgcn.yaml"),
        ]
    )
    seeds: list[int] = dataclasses.field(default_factory=lambda: [0, 1, 2])
    betas: list[float] = dataclasses.field(default_factory=lambda: [0.0, 0.1, 1.0])
    matryoshka_fractions: list[float] = dataclasses.field(default_factory=lambda: [0.25, 0.5, 1.0])
    topk_fraction: float = 0.2
    overrides: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.cells or not self.seeds:
            raise ConfigError("a reproduction needs at least one cell and one seed")
        for beta in self.betas:
            at_least("betas[]", beta, 0)
        for fraction in (*self.matryoshka_fractions, self.topk_fraction):
            within("matryoshka_fractions[] and topk_fraction", fraction, 0, 1, open_interval=False)


Overrides = dict[str, list[str]]  # model kind -> `--set` strings


@dataclasses.dataclass
class AblationConfig:
    """`jobs/ablate.py`: what separates monorec from the paper's notebooks, one difference at a time.

    cells: experiment configs (relative to this file), each run as shipped. differences: name
    -> model kind -> the `--set` strings that turn that notebook difference on for that kind (a
    difference a kind lacks is not run on it). Each difference alone on the first seed; then,
    on every seed, the shipped config, all of a kind's differences together (the kind's
    `notebook` config, which must equal it) and the single difference that moved truncated RBO
    most. extra: configurations beyond the notebooks, as `differences`, each on every seed.
    sanity: name -> `--set` strings of the random-SAE check (docs/method.md §4), every arm on
    every seed with only `sanity_studies` of the case studies; the other arms run none.
    """

    cells: list[str] = dataclasses.field(default_factory=lambda: ["ml1m_mf.yaml", "ml1m_ncf.yaml"])
    seeds: list[int] = dataclasses.field(default_factory=lambda: [0, 1, 2])
    differences: dict[str, Overrides] = dataclasses.field(default_factory=dict)
    notebook: dict[str, str] = dataclasses.field(default_factory=dict)  # model kind -> its all-differences config
    extra: dict[str, Overrides] = dataclasses.field(default_factory=dict)
    sanity: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    sanity_studies: list[Study] = dataclasses.field(default_factory=lambda: ["filtering"])
    overrides: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.cells or not self.seeds:
            raise ConfigError("an ablation needs at least one cell and one seed")
        names = [*self.differences, *self.extra, *self.sanity]
        reserved = {"shipped", "notebook"} & set(names)
        if reserved:
            raise ConfigError(f"ablation arm names {sorted(reserved)} are reserved")
        if len(set(names)) < len(names):
            raise ConfigError(f"ablation arm names must differ across differences, extra and sanity: {names}")


def config_hash(config: Any) -> str:
    """A stable short hash of a config: the cache key for artifacts derived from it."""
    canonical = json.dumps(to_dict(config) if dataclasses.is_dataclass(config) else config, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def run_hash(config: ExperimentConfig) -> str:
    """Hash of everything that determines a run's numbers (not where it ran: `ray`, `tracking`)."""
    values = _identity(config)
    for placement in ("ray", "tracking"):
        values.pop(placement)
    return config_hash(values)


def family_hash(config: ExperimentConfig) -> str:
    """`run_hash` without the SAE's beta and seed, and without the case studies (they run after the
    SAE and change none of its measures): runs that differ only in those share it, one
    configuration of the ablation's stop rule measured at several betas and seeds."""
    values = _identity(config)
    for section in ("ray", "tracking", "case_studies"):
        values.pop(section)
    for setting in ("beta", "seed"):
        values["sae_train"].pop(setting)
    return config_hash(values)


def recommender_hash(config: ExperimentConfig) -> str:
    """Hash of the sections that determine the recommender: SAE settings do not retrain it."""
    values = _identity(config)
    return config_hash({name: values[name] for name in RECOMMENDER_SECTIONS})


OPT_INS = {  # settings whose default leaves them out of every hash: adding one invalidates no saved run
    ("data", "split"): "random",
    ("train", "sparse_embeddings"): False,
    ("eval", "max_users"): None,
    ("train", "optimizer"): "adam",
    ("train", "pair_l2"): 0.0,
    ("sae", "normalize"): True,
    ("sae", "frozen"): "none",
    ("sae_train", "minmax_batches"): False,
    ("sae_train", "pred_cross"): 0,
    ("sae_train", "pred_loss"): "mse_logits",
    ("interpret", "fidelity_mask"): "train",
    ("case_studies", "studies"): ["filtering", "promotion", "popularity"],
    ("tune", "fidelity"): "extrapolated",
}


def _identity(config: ExperimentConfig) -> dict:
    """The config as hashed: the settings of other model kinds are left out (`model_identity`).

    So adding a kind, a setting for one kind (LightGCN's `model.lightgcn.layers`) or an opt-in
    at its default (`OPT_INS`) never changes the hash, and so never invalidates the saved runs,
    of a config that does not use it.
    """
    values = to_dict(config)
    values["model"] = model_identity(config.model)
    for (section, setting), default in OPT_INS.items():
        if values[section][setting] == default:
            values[section].pop(setting)
    return values
