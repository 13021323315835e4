"""Matrix factorisation: g(e_u, e_i) = sigmoid(b + b_u + b_i + e_u . e_i)."""

from __future__ import annotations

import torch
from torch import nn

from monorec.recommenders.base import TwoTowerRecommender


class MatrixFactorization(TwoTowerRecommender):
    kind = "mf"

    def __init__(self, n_users: int, n_items: int, embedding_dim: int) -> None:
        super().__init__(n_users, n_items, embedding_dim)
        self.global_bias = nn.Parameter(torch.zeros(()))
        self.user_bias = nn.Parameter(torch.zeros(n_users))
        self.item_bias = nn.Parameter(torch.zeros(n_items))

    def item_biases(self) -> torch.Tensor:
        return self.item_bias.detach()

    def logits(
        self, user_idx: torch.Tensor, item_idx: torch.Tensor, user_emb: torch.Tensor, item_emb: torch.Tensor
    ) -> torch.Tensor:
        biases = self.global_bias + self.user_bias[user_idx] + self.item_bias[item_idx]
        return biases + (user_emb * item_emb).sum(-1)

    def logits_all(self, user_idx: torch.Tensor, user_emb: torch.Tensor, item_emb: torch.Tensor) -> torch.Tensor:
        biases = self.global_bias + self.user_bias[user_idx, None] + self.item_bias[None, :]
        return torch.addmm(biases, user_emb, item_emb.T)
