"""`model.kind: module`: your own two-tower PyTorch module, explained and steered as it is.

The protocol (docs/method.md §1) asks a module for three things:

    user_tower() -> Tensor (n_users, d)    every user's embedding
    item_tower() -> Tensor (n_items, d)    every item's embedding
    score(user_emb, item_emb) -> Tensor    pre-sigmoid scores of aligned (B, d) pairs: (B,)

and optionally `score_all(user_emb (B, d), item_emb (N, d)) -> (B, N)` when it can score
every item faster than pair by pair (it must not write into its inputs: a service shares them).
The towers are run once, when the model is loaded: the SAE explains (and steering edits) their
output, and `score` is g, differentiable and frozen.
The class is named by a Python path in config and built with keyword arguments; its weights
are a state dict from .safetensors, or from a .pt file read with weights_only=True (no pickle).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
import torch
from torch import nn

from monorec.config import ExperimentConfig, TorchModuleSpec
from monorec.data.dataset import InteractionData
from monorec.data.split import Split
from monorec.errors import ConfigError, DataError
from monorec.kinds.module import KIND, ModuleSource
from monorec.recommenders.alignment import read_ids, row_order
from monorec.recommenders.base import TwoTowerRecommender
from monorec.recommenders.fold_in import GRADIENT
from monorec.recommenders.registry import KindSpec
from monorec.storage import load_tensors
from monorec.training import TrainResult

SCORE_CHUNK_CELLS = 1 << 22  # (user, item) pairs scored at once by the pairwise fallback
TWO_TOWER_METHODS = ("user_tower", "item_tower", "score")


class TwoTowerModule(Protocol):
    def user_tower(self) -> torch.Tensor: ...

    def item_tower(self) -> torch.Tensor: ...

    def score(self, user_emb: torch.Tensor, item_emb: torch.Tensor) -> torch.Tensor: ...


class ModuleRecommender(TwoTowerRecommender):
    """A frozen `TwoTowerModule` behind monorec's interface: its tower outputs as the embedding tables."""

    kind = KIND.name

    def __init__(self, towers: nn.Module, n_users: int, n_items: int, embedding_dim: int, source: dict) -> None:
        super().__init__(n_users, n_items, embedding_dim)
        self.towers, self.source = towers, source

    def logits(
        self, user_idx: torch.Tensor | None, item_idx: torch.Tensor, user_emb: torch.Tensor, item_emb: torch.Tensor
    ) -> torch.Tensor:
        return self.towers.score(user_emb, item_emb)

    def logits_all(self, user_idx: torch.Tensor | None, user_emb: torch.Tensor, item_emb: torch.Tensor) -> torch.Tensor:
        if hasattr(self.towers, "score_all"):
            return self.towers.score_all(user_emb, item_emb)
        rows = [self._score_row(user, item_emb) for user in user_emb]
        return torch.stack(rows) if rows else user_emb.new_zeros(0, len(item_emb))

    def _score_row(self, user: torch.Tensor, item_emb: torch.Tensor) -> torch.Tensor:
        step = max(1, SCORE_CHUNK_CELLS // max(1, self.embedding_dim))
        chunks = [self.towers.score(user.expand(len(items), -1), items) for items in item_emb.split(step)]
        return torch.cat(chunks)

    def architecture(self) -> dict:
        return {**super().architecture(), "source": self.source}

    @classmethod
    def from_architecture(cls, architecture: dict) -> ModuleRecommender:
        source = architecture["source"]
        n_users, n_items, dim = architecture["n_users"], architecture["n_items"], architecture["embedding_dim"]
        return cls(instantiate(source, TWO_TOWER_METHODS), n_users, n_items, dim, source)


def fit_custom_module(
    config: ExperimentConfig, data: InteractionData, split: Split
) -> tuple[ModuleRecommender, TrainResult]:
    """`KindSpec.fit_external`: the towers `model.module` names, loaded as they are (nothing trains)."""
    return load_custom_module(config.model.settings, data), TrainResult.untrained()


def load_custom_module(spec: TorchModuleSpec, data: InteractionData) -> ModuleRecommender:
    """Build the configured class, load its weights, run its towers and align their rows by id."""
    source = {"path": resolved_path(spec.path), "args": spec.args}
    towers = loaded_module(source, spec, TWO_TOWER_METHODS)
    with torch.no_grad():
        users, items = towers.user_tower(), towers.item_tower()
        if users.ndim != 2 or items.ndim != 2 or users.shape[1] != items.shape[1]:
            shapes = f"{tuple(users.shape)} and {tuple(items.shape)}"
            raise DataError(f"{spec.path}: the towers must give (n, d) tables of one width, got {shapes}")
        _check_score(towers, users, items, spec.path)
    users = users[tower_rows(spec.user_ids, data.user_ids, len(users), "user", spec.path, spec.section)]
    items = items[tower_rows(spec.item_ids, data.item_ids, len(items), "item", spec.path, spec.section)]
    model = ModuleRecommender(towers, len(users), len(items), users.shape[1], source)
    with torch.no_grad():
        model.user_embedding.weight.copy_(users)
        model.item_embedding.weight.copy_(items)
    return model.eval().requires_grad_(False)


def loaded_module(source: dict[str, Any], spec: ModuleSource, methods: tuple[str, ...]) -> nn.Module:
    """The class `source` names, built, with `spec.weights` loaded: frozen, in eval mode."""
    module = instantiate(source, methods)
    try:
        module.load_state_dict(_read_weights(spec.weights))
    except RuntimeError as error:  # missing, unexpected or mis-shaped keys
        raise DataError(f"{spec.weights} does not fit {spec.path}: {first_line(error)}") from None
    return module.eval().requires_grad_(False)


def _check_score(towers: nn.Module, users: torch.Tensor, items: torch.Tensor, source: str) -> None:
    """`score` must give one logit per pair: a (B, 1) output would broadcast silently in the losses."""
    try:
        shape = tuple(towers.score(users[:2], items[:2]).shape)
    except Exception as error:  # the user's scoring code
        raise ConfigError(
            f"{source}: score(user_emb, item_emb) failed: {type(error).__name__}: {first_line(error)}"
        ) from None
    if shape != (min(2, len(users), len(items)),):
        raise ConfigError(
            f"{source}: score(user_emb, item_emb) must return one logit per pair, shape (B,); got {shape}"
        )


def first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def resolved_path(path: str) -> str:
    """A file path made absolute (a saved model must load from any working directory); modules as given."""
    target, _, name = path.rpartition(":")
    return f"{Path(target).resolve()}:{name}" if target.endswith(".py") else path


def instantiate(source: dict[str, Any], methods: tuple[str, ...]) -> nn.Module:
    """The class `source["path"]` names, built with `source["args"]`: a module with every one of `methods`."""
    target, _, name = source["path"].rpartition(":")
    module = _import(target)
    cls = getattr(module, name, None)
    if cls is None:
        raise ConfigError(f"model.module.path: {target} has no {name}")
    try:
        towers = cls(**source["args"])
    except Exception as error:  # the user's constructor: wrong args, or a bug of its own
        raise ConfigError(
            f"could not build {name}(**model.module.args): {type(error).__name__}: {first_line(error)}"
        ) from None
    missing = [m for m in methods if not callable(getattr(towers, m, None))]
    if not isinstance(towers, nn.Module) or missing:
        raise ConfigError(
            f"{name} must be a torch.nn.Module with {', '.join(missing) or 'the protocol'} (docs/method.md §1)"
        )
    return towers


def _import(target: str) -> Any:
    if not target.endswith(".py"):
        try:
            return importlib.import_module(target)
        except ImportError as error:
            raise ConfigError(f"model.module.path: cannot import {target} ({error})") from None
    file = Path(target)
    if not file.is_file():
        raise ConfigError(f"model.module.path: no file {target}")
    name = f"monorec_user_module_{hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:12]}"
    if name in sys.modules:  # loaded before in this process (a second bundle, a reload): same classes
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, file)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:  # the user's file fails to run: report it, and do not keep it half-loaded
        del sys.modules[name]
        raise ConfigError(
            f"model.module.path: {target} failed to import: {type(error).__name__}: {first_line(error)}"
        ) from None
    return module


def _read_weights(path: str) -> dict[str, torch.Tensor]:
    file = Path(path)
    if not file.is_file():
        raise DataError(f"model.module.weights: no file {path}")
    try:
        if file.suffix == ".safetensors":
            return load_tensors(file)
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as error:  # a corrupt file, or (weights_only) anything but tensors and plain containers
        raise DataError(
            f"{path} is not a readable state dict (.safetensors, or .pt without pickled objects): {first_line(error)}"
        ) from None


def tower_rows(
    ids_path: str | None, dataset_ids: pd.Index, n_rows: int, side: str, source: str, section: str
) -> torch.Tensor:
    """The module's row of each dataset index, by the ids file of `side` when given, else the rows in order."""
    if ids_path is not None:
        ids = read_ids(ids_path)
        if len(ids) != n_rows:
            raise DataError(f"{ids_path} has {len(ids)} ids but the {side} tower of {source} has {n_rows} rows")
        return torch.as_tensor(row_order(ids, dataset_ids, side, ids_path))
    if n_rows != len(dataset_ids):
        raise DataError(
            f"{source}: the {side} tower has {n_rows} rows but the data has {len(dataset_ids)} {side}s; "
            f"give {section}.{side}_ids to match rows by id"
        )
    return torch.arange(n_rows)


SPEC = KindSpec(
    KIND, fit_external=fit_custom_module, restore=ModuleRecommender.from_architecture, fold_in=lambda _: GRADIENT
)
