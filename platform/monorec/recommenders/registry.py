"""Every model kind's code: how it is built, trained or loaded, and restored from a save.

    mf, ncf      built here, trained by monorec's BCE loop (`training`; on a cluster, Ray Train)
    lightgcn     built here, trained with BPR over the interaction graph, then frozen (`lightgcn`)
    als, bpr     trained by `implicit`'s solvers on the same training pairs (`implicit_models`)
    embeddings   factor tables read from files (`embedding_files`)
    module       your own towers, loaded from a Python path (`custom`)

The names and what the config and the page need to know of each (`KindTraits`) live in the
torch-free `monorec.kinds`; this registry adds the code, one `KindSpec` per name. Whatever the
kind, the result is a `TwoTowerRecommender` in the dataset's index order, so the SAE,
interpretation, steering, bundles and the service never need to know where it came from.
Nothing outside these two modules decides by a kind's name (`tests/test_kinds.py`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

from monorec.config import ExperimentConfig, ModelConfig, TrainConfig
from monorec.data.dataset import InteractionData
from monorec.data.split import Split
from monorec.errors import ConfigError
from monorec.kinds import KINDS, KindTraits, kind_traits
from monorec.recommenders.base import TwoTowerRecommender
from monorec.recommenders.custom import ModuleRecommender, fit_custom_module
from monorec.recommenders.embedding_files import fit_embedding_files
from monorec.recommenders.factors import FactorModel
from monorec.recommenders.fold_in import GRADIENT, LEAST_SQUARES, NEWTON, ClosedForm, FoldIn
from monorec.recommenders.implicit_models import fit_als, fit_bpr
from monorec.recommenders.lightgcn import LightGCN, train_lightgcn
from monorec.recommenders.mf import MatrixFactorization
from monorec.recommenders.ncf import NeuralCF
from monorec.recommenders.training import train_bce
from monorec.training import FitOptions, TrainResult

Fitted = tuple[TwoTowerRecommender, TrainResult]
Build = Callable[[ModelConfig, int, int], TwoTowerRecommender]
Train = Callable[[TwoTowerRecommender, Split, TrainConfig, FitOptions], Fitted]
FitExternal = Callable[[ExperimentConfig, InteractionData, Split], Fitted]
Restore = Callable[[dict], TwoTowerRecommender]
FoldInFor = Callable[[TrainConfig], FoldIn]


def _newton(_: TrainConfig) -> FoldIn:
    return NEWTON


def _least_squares(_: TrainConfig) -> FoldIn:
    return LEAST_SQUARES


def _als(train: TrainConfig) -> FoldIn:
    """`implicit`'s own refit of a user: confidence 1 on every positive, its regularisation."""
    return ClosedForm(regularization=train.weight_decay, negative_weight=1.0)


def _gradient(_: TrainConfig) -> FoldIn:
    return GRADIENT


@dataclasses.dataclass(frozen=True)
class KindSpec:
    """One model kind's code. A kind monorec trains has `build` and `train`; any other, `fit_external`.

    build: a freshly initialised trainable model for a `model` config (also built per Ray Train worker).
    train: train the built model in place on a split; returns the frozen model to explain.
    fit_external: the frozen model from elsewhere (`implicit`'s solvers, files, your module).
    restore: an empty model of a saved `architecture()`, ready for `load_state_dict`.
    fold_in: how a user outside the table is fitted to a history (`fold_in`), from the training settings.
    """

    traits: KindTraits
    restore: Restore
    fold_in: FoldInFor
    build: Build | None = None
    train: Train | None = None
    fit_external: FitExternal | None = None

    def __post_init__(self) -> None:
        if (self.build is None) != (self.train is None) or (self.train is None) == (self.fit_external is None):
            raise ValueError(f"kind {self.traits.name}: give build and train, or fit_external")

    def fit(self, config: ExperimentConfig, data: InteractionData, split: Split, options: FitOptions) -> Fitted:
        """The frozen model `config.model` describes, and how its training went (empty when loaded)."""
        if self.fit_external is not None:
            return self.fit_external(config, data, split)
        model = self.new(config.model, data.n_users, data.n_items, config.train.seed)
        return self.train(model, split, config.train, options)

    def new(self, config: ModelConfig, n_users: int, n_items: int, seed: int = 0) -> TwoTowerRecommender:
        """A freshly initialised model monorec trains; the same seed always gives the same initial weights."""
        if self.build is None:
            raise ConfigError(f"monorec does not train model.kind {self.traits.name} itself ({self.traits.origin})")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.build(config, n_users, n_items)


def _spec(name: str, **code: Callable) -> KindSpec:
    return KindSpec(KINDS[name], **code)


REGISTRY: dict[str, KindSpec] = {
    spec.traits.name: spec
    for spec in (
        _spec(
            "mf",
            build=MatrixFactorization.build,
            train=train_bce,
            restore=MatrixFactorization.from_architecture,
            fold_in=_newton,
        ),
        _spec("ncf", build=NeuralCF.build, train=train_bce, restore=NeuralCF.from_architecture, fold_in=_gradient),
        _spec(
            "lightgcn",
            build=LightGCN.build,
            train=train_lightgcn,
            restore=FactorModel.from_architecture,
            fold_in=_least_squares,
        ),
        _spec("als", fit_external=fit_als, restore=FactorModel.from_architecture, fold_in=_als),
        _spec("bpr", fit_external=fit_bpr, restore=FactorModel.from_architecture, fold_in=_newton),
        _spec("embeddings", fit_external=fit_embedding_files, restore=FactorModel.from_architecture, fold_in=_newton),
        _spec("module", fit_external=fit_custom_module, restore=ModuleRecommender.from_architecture, fold_in=_gradient),
    )
}


def kind_spec(name: str) -> KindSpec:
    kind_traits(name)  # an unknown name: one line listing the kinds there are
    return REGISTRY[name]


def build_recommender(config: ModelConfig, n_users: int, n_items: int, seed: int = 0) -> TwoTowerRecommender:
    """A freshly initialised model of a kind monorec trains (`KindSpec.new`)."""
    return kind_spec(config.kind).new(config, n_users, n_items, seed)


def fit_recommender_kind(
    config: ExperimentConfig, data: InteractionData, split: Split, options: FitOptions = FitOptions()
) -> Fitted:
    """The frozen model `config.model` describes, whatever its kind, and how its training went."""
    return kind_spec(config.model.kind).fit(config, data, split, options)


def fold_in_for(kind: str, train: TrainConfig) -> FoldIn:
    """How a user outside the table is folded into a model of this kind (`monorec.recommenders.fold_in`)."""
    return kind_spec(kind).fold_in(train)


def recommender_from_state(architecture: dict, state: dict[str, torch.Tensor]) -> TwoTowerRecommender:
    """Rebuild a frozen model (eval mode, no grad) from `architecture()` and a state dict."""
    with torch.random.fork_rng(devices=[]):  # the tables' initialisation is overwritten: leave the caller's RNG
        model = kind_spec(architecture["kind"]).restore(architecture)
    model.load_state_dict(state)
    return model.eval().requires_grad_(False)
