"""Save and load recommenders as safetensors weights plus a JSON description: no pickle."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from monorec.config import ModelConfig
from monorec.errors import DataError
from monorec.recommenders.base import TwoTowerRecommender
from monorec.recommenders.custom import module_from_architecture
from monorec.recommenders.factors import FACTOR_KINDS, FactorModel
from monorec.recommenders.lightgcn import LightGCN
from monorec.recommenders.mf import MatrixFactorization
from monorec.recommenders.ncf import NeuralCF
from monorec.storage import load_tensors, read_json, save_tensors, write_json

WEIGHTS, DESCRIPTION = "recommender.safetensors", "recommender.json"


def build_recommender(config: ModelConfig, n_users: int, n_items: int, seed: int = 0) -> nn.Module:
    """A freshly initialised model monorec trains; the same seed always gives the same initial weights."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if config.kind == "mf":
            return MatrixFactorization(n_users, n_items, config.embedding_dim)
        if config.kind == "ncf":
            return NeuralCF(n_users, n_items, config.embedding_dim, config.hidden)
        if config.kind == "lightgcn":
            return LightGCN(n_users, n_items, config.embedding_dim, config.layers)
    raise ValueError(f"monorec does not train model.kind {config.kind} itself (`monorec.recommenders.sources`)")


def save_recommender(model: TwoTowerRecommender, folder: Path, metadata: dict | None = None) -> None:
    """Write weights first and the description last, so a description always has its weights."""
    save_tensors(folder / WEIGHTS, model.state_dict())
    write_json(folder / DESCRIPTION, {"architecture": model.architecture(), "metadata": metadata or {}})


def load_recommender(folder: Path, device: torch.device | str = "cpu") -> tuple[TwoTowerRecommender, dict]:
    """The frozen model (eval mode, no grad) and the metadata saved with it."""
    if not (folder / DESCRIPTION).is_file():
        raise DataError(f"no saved recommender in {folder} (expected {DESCRIPTION} and {WEIGHTS})")
    description = read_json(folder / DESCRIPTION)
    model = recommender_from_state(description["architecture"], load_tensors(folder / WEIGHTS))
    return model.to(device), description["metadata"]


def recommender_from_state(architecture: dict, state: dict[str, torch.Tensor]) -> TwoTowerRecommender:
    """Rebuild a frozen model (eval mode, no grad) from `architecture()` and a state dict."""
    kind, n_users, n_items, dim = (architecture[key] for key in ("kind", "n_users", "n_items", "embedding_dim"))
    if kind in FACTOR_KINDS:
        model: TwoTowerRecommender = FactorModel(kind, n_users, n_items, dim, architecture["biased"])
    elif kind == "module":
        model = module_from_architecture(architecture)
    else:
        model = build_recommender(ModelConfig(kind, dim, architecture.get("hidden", [64, 32, 16])), n_users, n_items)
    model.load_state_dict(state)
    return model.eval().requires_grad_(False)
