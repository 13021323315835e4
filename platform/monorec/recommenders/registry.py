"""A model kind's code (`KindSpec`), found by name from the kind's torch-free declaration.

Each kind's spec sits beside its model (`recommenders/mf.py` ends with MF's `SPEC`), and its
declaration (`monorec.kinds.<name>`) says where: this module never lists the kinds. A kind
monorec trains is built, given what it needs of the whole split, trained by its own task
(here, or on Ray Train workers) and frozen; any other kind is fitted elsewhere and loaded.
Whatever the kind, the result is a `TwoTowerRecommender` in the dataset's index order, so the
SAE, interpretation, steering, bundles and the service never need to know where it came from.
Nothing outside a kind's own files decides by its name (`tests/test_kinds.py`).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable

import torch

from monorec.config import ExperimentConfig, ModelConfig, TrainConfig
from monorec.data.dataset import InteractionData
from monorec.data.split import Split
from monorec.errors import ConfigError
from monorec.kinds import KindTraits, kind_traits
from monorec.recommenders.base import TwoTowerRecommender
from monorec.recommenders.fold_in import FoldIn
from monorec.recommenders.training import RecommenderTask, train_recommender
from monorec.training import FitOptions, TrainResult

Fitted = tuple[TwoTowerRecommender, TrainResult]
Build = Callable[[ModelConfig, int, int], TwoTowerRecommender]
Attach = Callable[[TwoTowerRecommender, Split], TwoTowerRecommender]
Freeze = Callable[[TwoTowerRecommender], TwoTowerRecommender]
FitExternal = Callable[[ExperimentConfig, InteractionData, Split], Fitted]
Restore = Callable[[dict], TwoTowerRecommender]
FoldInFor = Callable[[TrainConfig], FoldIn]
Remote = Callable[[TwoTowerRecommender], TrainResult]
Trainer = Callable[[TwoTowerRecommender, Split, ExperimentConfig, FitOptions], TrainResult]


def as_trained(model: TwoTowerRecommender) -> TwoTowerRecommender:
    """The default `freeze`: the trained model is the one explained."""
    return model


@dataclasses.dataclass(frozen=True)
class KindSpec:
    """One model kind's code. A kind monorec trains has `build` (and a `task`); any other, `fit_external`.

    traits: its declaration (`monorec.kinds.<name>.KIND`).
    restore: an empty model of a saved `architecture()`, ready for `load_state_dict`.
    fold_in: how a user outside the table gets a vector from a history, from the training
        settings: fitted against the frozen model (`fold_in`), or one pass of a history tower.
    build: a freshly initialised trainable model for a `model` config.
    task: its training: an epoch's batches and their loss (BCE on sampled negatives unless it
        says otherwise), fed by any source of training pairs: the split in memory, or the shard
        of a Ray Train worker, which runs this same task.
    trainer: a kind that trains on the whole split's sequences, not on pairs (SASRec), trains
        with this instead of `task` (`recommenders.sequence_training`).
    attach: what the built model needs of the whole split before training (LightGCN's graph,
        a history tower's histories); a kind that needs it cannot train on Ray Train's pair shards,
        unless it has a `trainer`, whose workers each hold the whole split.
    freeze: the trained model as it is explained (LightGCN's propagated factors); else itself.
    fit_external: the frozen model from elsewhere (`implicit`'s solvers, files, your module).
    """

    traits: KindTraits
    restore: Restore
    fold_in: FoldInFor
    build: Build | None = None
    task: type[RecommenderTask] = RecommenderTask
    trainer: Trainer | None = None
    attach: Attach | None = None
    freeze: Freeze = as_trained
    fit_external: FitExternal | None = None

    def __post_init__(self) -> None:
        if (self.build is None) == (self.fit_external is None):
            raise ValueError(f"kind {self.traits.name}: give build (monorec trains it) or fit_external")
        if self.traits.ray_train and (self.build is None or (self.attach is not None and self.trainer is None)):
            raise ValueError(f"kind {self.traits.name}: Ray Train trains a built model on pair shards: no attach")

    def fit(
        self,
        config: ExperimentConfig,
        data: InteractionData,
        split: Split,
        options: FitOptions = FitOptions(),
        remote: Remote | None = None,
    ) -> Fitted:
        """The frozen model `config.model` describes, and how its training went (empty when loaded).

        `remote` trains the built model elsewhere and loads the trained weights into it (Ray
        Train: every worker runs this kind's `task` on its shard); None trains it here.
        """
        if self.fit_external is not None:
            return self.fit_external(config, data, split)
        model = self.new(config.model, data.n_users, data.n_items, config.train.seed)
        if self.attach is not None:
            model = self.attach(model, split)
        if remote is not None:
            result = remote(model)
        elif self.trainer is not None:
            result = self.trainer(model, split, config, options)
        else:
            result = train_recommender(model, split, config.train, options, self.task)
        return self.freeze(model), result

    def new(self, config: ModelConfig, n_users: int, n_items: int, seed: int = 0) -> TwoTowerRecommender:
        """A freshly initialised model monorec trains; the same seed always gives the same initial weights."""
        if self.build is None:
            raise ConfigError(f"monorec does not train model.kind {self.traits.name} itself ({self.traits.origin})")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.build(config, n_users, n_items)


def kind_spec(name: str) -> KindSpec:
    """The code of kind `name`, imported from where its declaration says (`KindTraits.code`)."""
    traits = kind_traits(name)  # an unknown name: one line listing the kinds there are
    module, _, attribute = traits.code.partition(":")
    spec = getattr(importlib.import_module(module), attribute)
    if spec.traits != traits:
        raise ValueError(f"{traits.code} is the code of model.kind {spec.traits.name}, not of {name}")
    return spec


def build_recommender(config: ModelConfig, n_users: int, n_items: int, seed: int = 0) -> TwoTowerRecommender:
    """A freshly initialised model of a kind monorec trains (`KindSpec.new`)."""
    return kind_spec(config.kind).new(config, n_users, n_items, seed)


def fit_recommender_kind(
    config: ExperimentConfig,
    data: InteractionData,
    split: Split,
    options: FitOptions = FitOptions(),
    remote: Remote | None = None,
) -> Fitted:
    """The frozen model `config.model` describes, whatever its kind, and how its training went."""
    return kind_spec(config.model.kind).fit(config, data, split, options, remote)


def fold_in_for(kind: str, train: TrainConfig) -> FoldIn:
    """How a user outside the table gets a vector in a model of this kind (`KindSpec.fold_in`)."""
    return kind_spec(kind).fold_in(train)


def recommender_from_state(architecture: dict, state: dict[str, torch.Tensor]) -> TwoTowerRecommender:
    """Rebuild a frozen model (eval mode, no grad) from `architecture()` and a state dict."""
    with torch.random.fork_rng(devices=[]):  # the tables' initialisation is overwritten: leave the caller's RNG
        model = kind_spec(architecture["kind"]).restore(architecture)
    model.load_state_dict(state)
    return model.eval().requires_grad_(False)
