"""A dataset's shape before training, and a warning when most items are too sparse to learn.

An item seen by one or two users gets an embedding that is mostly its random initialisation;
an SAE trained on such embeddings finds fewer clean concepts (on a bring-your-own ratings file
with mostly 1-2 ratings per item, half as many genre neurons at purity@10 >= 0.8 as with a
10-rating item filter). The profile is printed before training so the user learns this before
spending the time, with the setting that fixes it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from monorec.data.dataset import InteractionData

SPARSE_BELOW = 5  # interactions under which an item's or user's embedding is mostly noise
SPARSE_ITEMS_WARNING = 0.5  # warn when more than this share of items is that sparse


@dataclasses.dataclass(frozen=True)
class DataProfile:
    users: int
    items: int
    interactions: int
    density: float
    sparse_item_share: float  # items with fewer than SPARSE_BELOW interactions
    sparse_user_share: float

    @classmethod
    def of(cls, data: InteractionData) -> DataProfile:
        items = np.bincount(data.interactions["item"].to_numpy(), minlength=data.n_items)
        users = np.bincount(data.interactions["user"].to_numpy(), minlength=data.n_users)
        return cls(
            users=data.n_users,
            items=data.n_items,
            interactions=data.n_interactions,
            density=data.n_interactions / max(data.n_users * data.n_items, 1),
            sparse_item_share=float((items < SPARSE_BELOW).mean()),
            sparse_user_share=float((users < SPARSE_BELOW).mean()),
        )

    def describe(self) -> str:
        return (
            f"{self.users:,} users, {self.items:,} items, {self.interactions:,} interactions, "
            f"density {self.density:.2e}; under {SPARSE_BELOW} interactions: "
            f"{self.sparse_item_share:.0%} of items, {self.sparse_user_share:.0%} of users"
        )

    def warning(self) -> str | None:
        """What to do when most items are too sparse for stable embeddings (None when they are not)."""
        if self.sparse_item_share <= SPARSE_ITEMS_WARNING:
            return None
        return (
            f"{self.sparse_item_share:.0%} of items have fewer than {SPARSE_BELOW} interactions: their embeddings "
            f"are mostly noise and the SAE will find fewer clean concepts. Consider data.min_users_per_item: "
            f"{SPARSE_BELOW} (or more), which keeps only items with at least that many users"
        )
