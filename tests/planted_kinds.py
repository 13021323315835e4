"""Model kinds the tests plant, each registered the way monorec's own kinds are (`monorec.kinds.register`).

SQUARED: MF trained with a squared error on sigmoid(logit) instead of BCE, and allowed on Ray
Train, so that whichever process trains it shows whether the kind's own loss ran.
MEAN_HISTORY: a user's vector is the mean of their history's item vectors (no user table), and
a user the model never saw is placed by that same mean, one forward pass.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from monorec.kinds import KINDS, KindTraits, register
from monorec.recommenders import KindSpec, MatrixFactorization
from monorec.recommenders.fold_in import NEWTON
from monorec.recommenders.history import FORWARD, Histories, HistoryRecommender
from monorec.recommenders.training import RecommenderTask

SQUARED_TRAITS = KindTraits(
    name="planted_squared",
    origin="monorec",
    display="MF, squared loss",
    code="planted_kinds:SQUARED",
    ray_train=True,
    sparse_embeddings=True,
)
MEAN_HISTORY_TRAITS = KindTraits(
    name="planted_mean_history", origin="monorec", display="mean of history", code="planted_kinds:MEAN_HISTORY"
)


class SquaredLoss(RecommenderTask):
    """BCE's batches (positives and sampled negatives), scored by (sigmoid(logit) - label)^2."""

    def loss(self, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        users, items, labels = batch
        return {"loss": (torch.sigmoid(self.module(users, items)) - labels).pow(2).mean()}


class SquaredMF(MatrixFactorization):
    kind = SQUARED_TRAITS.name


class MeanHistory(HistoryRecommender):
    """e_u = the mean of the vectors of u's history's items, scored by the dot product e_u . e_i."""

    kind = MEAN_HISTORY_TRAITS.name

    def encode(self, histories: Histories) -> torch.Tensor:
        vectors = self.item_embeddings(histories.items)
        sums = vectors.new_zeros(histories.size, self.embedding_dim).index_add_(0, histories.owner, vectors)
        counts = torch.bincount(histories.owner, minlength=histories.size).clamp(min=1)
        return sums / counts[:, None]


SQUARED = KindSpec(
    SQUARED_TRAITS,
    build=SquaredMF.build,
    task=SquaredLoss,
    restore=SquaredMF.from_architecture,
    fold_in=lambda _: NEWTON,
)
MEAN_HISTORY = KindSpec(
    MEAN_HISTORY_TRAITS,
    build=MeanHistory.build,
    attach=MeanHistory.attach,
    restore=MeanHistory.from_architecture,
    fold_in=lambda _: FORWARD,
)


@contextmanager
def registered(kind: KindSpec) -> Iterator[KindSpec]:
    """The kind known by its name while the block runs, as a declared kind is from import on."""
    register(kind.traits)
    try:
        yield kind
    finally:
        del KINDS[kind.traits.name]
