"""Frozen factor models: fixed user and item factors scored by a dot product (plus any biases).

Every model whose score is e_u . e_i (+ b_i) can be explained and steered by monorec once its
factors are in this form: `implicit`'s ALS and BPR, LightGCN's propagated embeddings, and
embeddings read from files. The scoring is exactly MF's; `kind` records where the factors came
from, so reports and the service name the model the user actually trained.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from monorec.recommenders.mf import MatrixFactorization

if TYPE_CHECKING:
    from monorec.config import ModelConfig


class FactorModel(MatrixFactorization):
    """MF's score function over factors learned elsewhere; biases are zero unless given."""

    def __init__(self, kind: str, n_users: int, n_items: int, embedding_dim: int, biased: bool = False) -> None:
        super().__init__(n_users, n_items, embedding_dim)
        self.kind, self.biased = kind, biased

    @classmethod
    def build(cls, config: ModelConfig, n_users: int, n_items: int) -> FactorModel:
        raise TypeError("a FactorModel holds factors learned elsewhere: make one with FactorModel.from_factors")

    @classmethod
    def from_architecture(cls, architecture: dict) -> FactorModel:
        sizes = (architecture[key] for key in ("n_users", "n_items", "embedding_dim"))
        return cls(architecture["kind"], *sizes, biased=architecture["biased"])

    @classmethod
    def from_factors(
        cls,
        kind: str,
        user_factors: np.ndarray | torch.Tensor,
        item_factors: np.ndarray | torch.Tensor,
        item_bias: np.ndarray | torch.Tensor | None = None,
        user_bias: np.ndarray | torch.Tensor | None = None,
    ) -> FactorModel:
        """A frozen model over these tables (rows in the dataset's user and item index order)."""
        users, items = _table(user_factors), _table(item_factors)
        if users.ndim != 2 or items.ndim != 2 or users.shape[1] != items.shape[1]:
            raise ValueError(
                f"factor tables must be 2-D with equal widths, got {tuple(users.shape)} and {tuple(items.shape)}"
            )
        model = cls(kind, len(users), len(items), users.shape[1], biased=item_bias is not None)
        with torch.no_grad():
            model.user_embedding.weight.copy_(users)
            model.item_embedding.weight.copy_(items)
            if item_bias is not None:
                model.item_bias.copy_(_table(item_bias))
            if user_bias is not None:
                model.user_bias.copy_(_table(user_bias))
        return model.eval().requires_grad_(False)

    def item_biases(self) -> torch.Tensor | None:
        return self.item_bias.detach() if self.biased else None

    def architecture(self) -> dict:
        return {**super().architecture(), "biased": self.biased}


def _table(values: np.ndarray | torch.Tensor) -> torch.Tensor:
    return values.detach().float().cpu() if torch.is_tensor(values) else torch.as_tensor(np.asarray(values, np.float32))
