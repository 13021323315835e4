"""ALS and BPR trained by the `implicit` library on monorec's split, frozen as factor models.

`implicit` is an optional extra (`pip install 'monorec[implicit]'`); it is imported only here,
after `monorec.extras.require` has checked for it. The models see exactly the split's training
pairs (binary, confidence 1), so they sit in the same tables as MF and NCF. ALS scores by
e_u . e_i; implicit's BPR keeps an item bias in its last item factor (its users' last factor
is fixed at 1), which becomes the model's item bias.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from monorec.config import ExperimentConfig, TrainConfig
from monorec.data.dataset import InteractionData
from monorec.data.split import Split
from monorec.extras import require
from monorec.kinds import als, bpr
from monorec.recommenders.factors import FactorModel
from monorec.recommenders.fold_in import NEWTON, ClosedForm, FoldIn
from monorec.recommenders.registry import KindSpec
from monorec.training import TrainResult


def fit_als(config: ExperimentConfig, data: InteractionData, split: Split) -> tuple[FactorModel, TrainResult]:
    """`implicit`'s ALS with `train.weight_decay` as its regularisation, factors as they are."""

    def solver(common: dict) -> object:
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares(regularization=config.train.weight_decay, **common)

    return _fit_implicit(
        config, split, solver, lambda users, items: FactorModel.from_factors(config.model.kind, users, items)
    )


def fit_bpr(config: ExperimentConfig, data: InteractionData, split: Split) -> tuple[FactorModel, TrainResult]:
    """`implicit`'s BPR (`train.lr`, `train.weight_decay`); its last item factor becomes the item bias."""

    def solver(common: dict) -> object:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        train = config.train
        return BayesianPersonalizedRanking(learning_rate=train.lr, regularization=train.weight_decay, **common)

    def frozen(users: np.ndarray, items: np.ndarray) -> FactorModel:
        return FactorModel.from_factors(config.model.kind, users[:, :-1], items[:, :-1], item_bias=items[:, -1])

    return _fit_implicit(config, split, solver, frozen)


def _fit_implicit(
    config: ExperimentConfig,
    split: Split,
    solver: Callable[[dict], object],
    frozen: Callable[[np.ndarray, np.ndarray], FactorModel],
) -> tuple[FactorModel, TrainResult]:
    """Fit one of `implicit`'s CPU solvers on the split's training pairs, every core, and freeze it."""
    require("implicit", purpose=f"model.kind {config.model.kind}")
    from scipy.sparse import csr_matrix
    from threadpoolctl import threadpool_limits

    train = config.train
    indptr, items = split.train_csr()
    user_items = csr_matrix((np.ones(len(items), np.float32), items, indptr), shape=(split.n_users, split.n_items))
    common = {"factors": config.model.embedding_dim, "iterations": train.epochs, "random_state": train.seed}
    started = time.perf_counter()
    with threadpool_limits(1, "blas"):  # implicit parallelises itself; a BLAS pool on top only contends
        model = solver(common)
        model.fit(user_items, show_progress=False)
    seconds = time.perf_counter() - started
    samples = train.epochs * len(items)
    result = TrainResult(train.epochs, seconds, samples / seconds if seconds else 0.0, float("nan"), "cpu", [])
    return frozen(np.asarray(model.user_factors), np.asarray(model.item_factors)), result


def implicit_refit(train: TrainConfig) -> FoldIn:
    """ALS's fold-in: `implicit`'s own refit of a user, confidence 1 on every positive, its regularisation."""
    return ClosedForm(regularization=train.weight_decay, negative_weight=1.0)


ALS = KindSpec(als.KIND, fit_external=fit_als, restore=FactorModel.from_architecture, fold_in=implicit_refit)
BPR = KindSpec(bpr.KIND, fit_external=fit_bpr, restore=FactorModel.from_architecture, fold_in=lambda _: NEWTON)
