"""Matrix factorisation: g(e_u, e_i) = sigmoid(b + b_u + b_i + e_u . e_i)."""

from __future__ import annotations

import torch
from torch import nn

from monorec.kinds.mf import KIND
from monorec.recommenders.base import TwoTowerRecommender
from monorec.recommenders.fold_in import NEWTON
from monorec.recommenders.registry import KindSpec


class MatrixFactorization(TwoTowerRecommender):
    kind = KIND.name

    def __init__(self, n_users: int, n_items: int, embedding_dim: int) -> None:
        super().__init__(n_users, n_items, embedding_dim)
        self.global_bias = nn.Parameter(torch.zeros(()))
        self.user_bias = nn.Parameter(torch.zeros(n_users))
        self.item_bias = nn.Parameter(torch.zeros(n_items))

    def item_biases(self) -> torch.Tensor:
        return self.item_bias.detach()

    def pair_parameters(self, user_idx: torch.Tensor, item_idx: torch.Tensor) -> list[torch.Tensor]:
        """Embeddings and biases: the notebook's SGD regularises all four."""
        return [*super().pair_parameters(user_idx, item_idx), self.user_bias[user_idx], self.item_bias[item_idx]]

    def logits(
        self, user_idx: torch.Tensor | None, item_idx: torch.Tensor, user_emb: torch.Tensor, item_emb: torch.Tensor
    ) -> torch.Tensor:
        user_bias = self.user_bias[user_idx] if user_idx is not None else 0.0  # None: folded-in users
        return self.global_bias + user_bias + self.item_bias[item_idx] + (user_emb * item_emb).sum(-1)

    def cross_logits(
        self, user_idx: torch.Tensor, item_idx: torch.Tensor, user_emb: torch.Tensor, item_emb: torch.Tensor
    ) -> torch.Tensor:
        biases = self.global_bias + self.user_bias[user_idx, None] + self.item_bias[None, item_idx]
        return torch.addmm(biases, user_emb, item_emb.T)

    def logits_all(self, user_idx: torch.Tensor | None, user_emb: torch.Tensor, item_emb: torch.Tensor) -> torch.Tensor:
        user_bias = self.user_bias[user_idx, None] if user_idx is not None else self.global_bias.new_zeros(1, 1)
        return torch.addmm(self.global_bias + user_bias + self.item_bias[None, :], user_emb, item_emb.T)


SPEC = KindSpec(
    KIND, build=MatrixFactorization.build, restore=MatrixFactorization.from_architecture, fold_in=lambda _: NEWTON
)
