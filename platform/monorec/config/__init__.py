"""Typed configs: one dataclass per YAML section, read from files with `--set` overrides."""

from monorec.config.data import DataConfig, GenericDataConfig, LastfmConfig, SyntheticConfig
from monorec.config.experiment import (
    AblationConfig,
    ExperimentConfig,
    ReproduceConfig,
    config_hash,
    family_hash,
    recommender_hash,
    run_hash,
)
from monorec.config.files import apply_overrides, load_config
from monorec.config.model import ModelConfig, upgrade_keys
from monorec.config.sae import Activation, CaseStudyConfig, InterpretConfig, SAEConfig, SAETrainConfig
from monorec.config.training import EvalConfig, RayConfig, TrainConfig
from monorec.config.tune import SearchRange, TrackingConfig, TuneConfig
from monorec.kinds.embeddings import EmbeddingFiles
from monorec.kinds.module import TorchModuleSpec

__all__ = [
    "AblationConfig",
    "Activation",
    "CaseStudyConfig",
    "DataConfig",
    "EmbeddingFiles",
    "EvalConfig",
    "ExperimentConfig",
    "GenericDataConfig",
    "InterpretConfig",
    "LastfmConfig",
    "ModelConfig",
    "RayConfig",
    "ReproduceConfig",
    "SAEConfig",
    "SAETrainConfig",
    "SearchRange",
    "SyntheticConfig",
    "TorchModuleSpec",
    "TrackingConfig",
    "TrainConfig",
    "TuneConfig",
    "apply_overrides",
    "config_hash",
    "family_hash",
    "load_config",
    "recommender_hash",
    "run_hash",
    "upgrade_keys",
]
