"""ALS and BPR trained by the `implicit` library on monorec's split, frozen as factor models.

`implicit` is an optional extra (`pip install 'monorec[implicit]'`); it is imported only here.
The models see exactly the split's training pairs (binary, confidence 1), so they sit in the
same tables as MF and NCF. ALS scores by e_u . e_i; implicit's BPR keeps an item bias in its
last item factor (its users' last factor is fixed at 1), which becomes the model's item bias.
"""

from __future__ import annotations

import time

import numpy as np

from monorec.config import ModelConfig, TrainConfig
from monorec.data.split import Split
from monorec.errors import ConfigError
from monorec.recommenders.factors import FactorModel
from monorec.training import TrainResult


def train_implicit(config: ModelConfig, train: TrainConfig, split: Split) -> tuple[FactorModel, TrainResult]:
    """Fit `implicit`'s ALS or BPR (`config.kind`) on the split's training pairs; CPU, every core."""
    try:
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.cpu.bpr import BayesianPersonalizedRanking
        from scipy.sparse import csr_matrix
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise ConfigError(
            f"model.kind {config.kind} needs the `implicit` library: pip install 'monorec[implicit]'"
        ) from None
    indptr, items = split.train_csr()
    user_items = csr_matrix((np.ones(len(items), np.float32), items, indptr), shape=(split.n_users, split.n_items))
    common = {"factors": config.embedding_dim, "iterations": train.epochs, "random_state": train.seed}
    started = time.perf_counter()
    with threadpool_limits(1, "blas"):  # implicit parallelises itself; a BLAS pool on top only contends
        if config.kind == "als":
            model = AlternatingLeastSquares(regularization=train.weight_decay, **common)
        else:
            model = BayesianPersonalizedRanking(learning_rate=train.lr, regularization=train.weight_decay, **common)
        model.fit(user_items, show_progress=False)
    seconds = time.perf_counter() - started
    users, item_factors = np.asarray(model.user_factors), np.asarray(model.item_factors)
    if config.kind == "als":
        frozen = FactorModel.from_factors("als", users, item_factors)
    else:
        frozen = FactorModel.from_factors("bpr", users[:, :-1], item_factors[:, :-1], item_bias=item_factors[:, -1])
    samples = train.epochs * len(items)
    result = TrainResult(train.epochs, seconds, samples / seconds if seconds else 0.0, float("nan"), "cpu", [])
    return frozen, result
