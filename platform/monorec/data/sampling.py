"""Training negatives: drawn on the training device, re-drawn every epoch, never a user's positive.

`uniform` draws every item with equal probability; `popularity` draws proportionally to
count^0.75 (word2vec's smoothing, the common choice for recommenders). Candidates that hit one
of the user's training positives are re-drawn until none does (a handful of rounds in practice).
"""

from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import torch

from monorec.data.split import Split
from monorec.devices import tensor_of
from monorec.errors import DataError

POPULARITY_POWER = 0.75
MAX_ROUNDS = 100


class NegativeSampler:
    """Draws from `distribution`, rejecting any of the sorted `positive_keys` (user * n_items + item)."""

    def __init__(
        self,
        positive_keys: np.ndarray,
        n_items: int,
        item_counts: np.ndarray,
        distribution: Literal["uniform", "popularity"] = "uniform",
        device: torch.device | str = "cpu",
        seed: int = 0,
    ) -> None:
        self.n_items = n_items
        self.device = torch.device(device)
        self.positive_keys = _read_only_tensor(positive_keys, self.device)
        if distribution == "popularity":
            weights = tensor_of(item_counts, torch.float64) ** POPULARITY_POWER
            self.weights: torch.Tensor | None = (weights / weights.sum()).to(self.device)
        elif distribution == "uniform":
            self.weights = None
        else:
            raise DataError(f"unknown negative sampling distribution {distribution!r} (use 'uniform' or 'popularity')")
        self.generator = torch.Generator(device=self.device).manual_seed(seed)

    @classmethod
    def from_split(
        cls,
        split: Split,
        distribution: Literal["uniform", "popularity"] = "uniform",
        device: torch.device | str = "cpu",
        seed: int = 0,
    ) -> NegativeSampler:
        return cls(positive_keys(split), split.n_items, split.item_counts(), distribution, device, seed)

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
        """Whether each pair is a training positive. The keys are looked up in sorted order: in a table
        of 100 M keys, random-order probes miss the cache every time and cost three times as much."""
        keys, order = torch.sort(users * self.n_items + items)
        found = torch.searchsorted(self.positive_keys, keys).clamp_(max=len(self.positive_keys) - 1)
        positive = torch.empty_like(keys, dtype=torch.bool)
        positive[order] = self.positive_keys[found] == keys
        return positive

    def _draw(self, n: int) -> torch.Tensor:
        if self.weights is None:
            return torch.randint(self.n_items, (n,), device=self.device, generator=self.generator)
        return torch.multinomial(self.weights, n, replacement=True, generator=self.generator)


def positive_keys(split: Split) -> np.ndarray:
    """Sorted user * n_items + item of every training pair: what a sampler rejects (shareable via Ray)."""
    counts = np.bincount(split.train_users, minlength=split.n_users)
    if (counts >= split.n_items).any():
        raise DataError("a user has interacted with every item: no negative can be sampled for them")
    return np.sort(split.train_users.astype(np.int64) * split.n_items + split.train_items)


def _read_only_tensor(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """A tensor over `array`, without a copy on CPU: Ray's object store hands out read-only arrays,
    which torch warns about; the keys are only ever searched, never written."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.as_tensor(array, device=device)
