"""PopSteer's rule (Ahmadov and Mansoury, arXiv 2508.17297 / 2601.15122): popularity neurons read from synthetic users.

Synthetic users who met head items only, and as many who met long-tail items only, are placed by
the model's own user tower (one forward pass of a sequence model; fitted against the frozen items
for a two-tower one, `recommenders.fold_in`); the SAE encodes them, and each neuron gets Cohen's d
between the two groups. Their histories have real lengths (drawn from the users' training
histories, at most the group's size) and items drawn uniformly, without repeats, from the group.
The neurons with d >= `MIN_EFFECT`, weighted by d (the largest 1), form a direction that steering
addresses by name, `POPSTEER`, as it does `POPULARITY`: PopSteer's rule reads the user tower and
monorec's own reads the item codes (docs/method.md §5). Head and long tail are the page's
(`directions.head_items`); PopSteer cuts its own popular and unpopular groups.
"""

from __future__ import annotations

import numpy as np
import torch

from monorec.interventions.directions import Direction, direction
from monorec.recommenders.base import TwoTowerRecommender
from monorec.recommenders.fold_in import FoldIn, fold_in_many
from monorec.sae.model import SparseAutoencoder

POPSTEER = "popularity (PopSteer)"  # the direction's name; datasets have no concept by that name
SYNTHETIC_USERS = 500  # per group


def synthetic_histories(
    lengths: np.ndarray, pool: np.ndarray, count: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """`count` histories of items drawn from `pool` without repeats, each as long as a length drawn from `lengths`."""
    drawn = np.minimum(rng.choice(lengths, count), len(pool))
    return [rng.choice(pool, size, replace=False) for size in drawn]


def popsteer_direction(
    recommender: TwoTowerRecommender,
    sae: SparseAutoencoder,
    fold_in: FoldIn,
    history_lengths: np.ndarray,
    head: np.ndarray,
    seed: int = 0,
    users: int = SYNTHETIC_USERS,
) -> Direction:
    """The direction of PopSteer's popularity neurons: the module docstring.

    history_lengths: the real users' history lengths (zeros are ignored); head: bool per item.
    """
    rng = np.random.default_rng(seed)
    lengths = history_lengths[history_lengths > 0]
    groups = [synthetic_histories(lengths, np.flatnonzero(members), users, rng) for members in (head, ~head)]
    histories = [torch.as_tensor(history, dtype=torch.long) for group in groups for history in group]
    with torch.no_grad():
        placed = fold_in_many(fold_in, recommender, histories)
        codes = sae.encode(placed).codes
    is_head = torch.arange(len(placed), device=codes.device) < users
    return direction(codes, is_head)
