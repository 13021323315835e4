"""Neural collaborative filtering: g(e_u, e_i) = sigmoid(MLP([e_u ; e_i])), ReLU, hidden `model.ncf.hidden`."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from monorec.kinds.ncf import KIND
from monorec.recommenders.base import TwoTowerRecommender
from monorec.recommenders.fold_in import GRADIENT
from monorec.recommenders.registry import KindSpec

if TYPE_CHECKING:
    from monorec.config import ModelConfig


class NeuralCF(TwoTowerRecommender):
    kind = KIND.name

    def __init__(self, n_users: int, n_items: int, embedding_dim: int, hidden: Sequence[int] = (64, 32, 16)) -> None:
        super().__init__(n_users, n_items, embedding_dim)
        self.hidden = list(hidden)
        sizes = [2 * embedding_dim, *self.hidden]
        self.first = nn.Linear(sizes[0], sizes[1])
        layers: list[nn.Module] = []
        for size_in, size_out in itertools.pairwise(sizes[1:]):
            layers += [nn.ReLU(), nn.Linear(size_in, size_out)]
        self.rest = nn.Sequential(*layers, nn.ReLU(), nn.Linear(sizes[-1], 1))

    @classmethod
    def build(cls, config: ModelConfig, n_users: int, n_items: int) -> NeuralCF:
        return cls(n_users, n_items, config.embedding_dim, config.settings.hidden)

    @classmethod
    def from_architecture(cls, architecture: dict) -> NeuralCF:
        sizes = (architecture[key] for key in ("n_users", "n_items", "embedding_dim", "hidden"))
        return cls(*sizes)

    def logits(
        self, user_idx: torch.Tensor | None, item_idx: torch.Tensor, user_emb: torch.Tensor, item_emb: torch.Tensor
    ) -> torch.Tensor:
        return self.rest(self.first(torch.cat([user_emb, item_emb], dim=-1))).squeeze(-1)

    def logits_all(self, user_idx: torch.Tensor | None, user_emb: torch.Tensor, item_emb: torch.Tensor) -> torch.Tensor:
        # The first layer is linear in [e_u ; e_i]: apply its user and item halves separately and
        # broadcast, instead of materialising every (user, item) concatenation.
        w_user, w_item = self.first.weight.split(self.embedding_dim, dim=1)
        hidden = (user_emb @ w_user.T)[:, None, :] + (item_emb @ w_item.T + self.first.bias)[None, :, :]
        return self.rest(hidden).squeeze(-1)

    def bytes_per_score(self) -> int:
        return 4 * (2 * sum(self.hidden) + 1)  # every hidden layer's output and its ReLU, per cell

    def architecture(self) -> dict:
        return {**super().architecture(), "hidden": self.hidden}


SPEC = KindSpec(KIND, build=NeuralCF.build, restore=NeuralCF.from_architecture, fold_in=lambda _: GRADIENT)
