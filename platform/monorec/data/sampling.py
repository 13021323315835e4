"""Training negatives: drawn on the training device, re-drawn every epoch, never a user's positive.

`uniform` draws every item with equal probability; `popularity` draws proportionally to
count^0.75 (word2vec's smoothing, the common choice for recommenders). Candidates that hit one
of the user's training positives are re-drawn until none does (a handful of rounds in practice).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch

from monorec.data.split import Split
from monorec.errors import DataError

POPULARITY_POWER = 0.75
MAX_ROUNDS = 100


class NegativeSampler:
    def __init__(
        self,
        split: Split,
        distribution: Literal["uniform", "popularity"] = "uniform",
        device: torch.device | str = "cpu",
        seed: int = 0,
    ) -> None:
        self.n_items = split.n_items
        self.device = torch.device(device)
        counts = np.bincount(split.train_users, minlength=split.n_users)
        if (counts >= split.n_items).any():
            raise DataError("a user has interacted with every item: no negative can be sampled for them")
        keys = split.train_users.astype(np.int64) * self.n_items + split.train_items
        self.positive_keys = torch.as_tensor(np.sort(keys), device=self.device)
        if distribution == "popularity":
            weights = torch.as_tensor(split.item_counts(), dtype=torch.float64) ** POPULARITY_POWER
            self.weights: torch.Tensor | None = (weights / weights.sum()).to(self.device)
        elif distribution == "uniform":
            self.weights = None
        else:
            raise DataError(f"unknown negative sampling distribution {distribution!r} (use 'uniform' or 'popularity')")
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    def sample(self, users: torch.Tensor) -> torch.Tensor:
        """One negative item per entry of `users` (a tensor on the sampler's device)."""
        items = self._draw(len(users))
        pending = torch.nonzero(self.is_positive(users, items)).squeeze(1)
        for _ in range(MAX_ROUNDS):
            if len(pending) == 0:
                return items
            items[pending] = self._draw(len(pending))
            pending = pending[self.is_positive(users[pending], items[pending])]
        raise DataError(f"negative sampling did not converge in {MAX_ROUNDS} rounds: users with almost every item?")

    def is_positive(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        keys = users * self.n_items + items
        found = torch.searchsorted(self.positive_keys, keys).clamp_(max=len(self.positive_keys) - 1)
        return self.positive_keys[found] == keys

    def _draw(self, n: int) -> torch.Tensor:
        if self.weights is None:
            return torch.randint(self.n_items, (n,), device=self.device, generator=self.generator)
        return torch.multinomial(self.weights, n, replacement=True, generator=self.generator)
