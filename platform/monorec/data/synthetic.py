"""A seeded synthetic dataset with planted structure, returned together with its ground truth.

Items belong to one or two latent genres with known labels, each user prefers a few genres,
item popularity is Zipf-skewed and items carry a decade. A user's interactions are drawn
without replacement with probability proportional to popularity x (genre_affinity if the item
has one of the user's genres, else 1). Tests check that models and the SAE recover this.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from monorec.config import SyntheticConfig
from monorec.data.dataset import InteractionData, build_dataset
from monorec.errors import DataError

GENRES = ("Horror", "Comedy", "Romance", "Sci-Fi", "Western", "Documentary", "Musical", "Animation", "Thriller", "War")
DECADES = (1960, 1970, 1980, 1990, 2000, 2010)
SECOND_GENRE_SHARE = 0.3


@dataclasses.dataclass(frozen=True)
class SyntheticTruth:
    """Ground truth, aligned with the dataset's user and item indices."""

    genre_names: list[str]
    item_genres: np.ndarray  # (n_items, n_genres) bool
    user_genres: np.ndarray  # (n_users, n_genres) bool
    item_weight: np.ndarray  # (n_items,) latent popularity used for sampling
    item_decade: np.ndarray  # (n_items,) int


def make_synthetic(options: SyntheticConfig | None = None) -> tuple[InteractionData, SyntheticTruth]:
    o = options or SyntheticConfig()
    if o.interactions_per_user > o.n_items or o.genres_per_user > o.n_genres or o.n_genres < 1:
        raise DataError(f"synthetic options are inconsistent: {o}")
    rng = np.random.default_rng(o.seed)
    names = [GENRES[g] if g < len(GENRES) else f"Genre {g}" for g in range(o.n_genres)]

    item_genres = np.zeros((o.n_items, o.n_genres), dtype=bool)
    item_genres[np.arange(o.n_items), rng.integers(0, o.n_genres, o.n_items)] = True
    second = rng.random(o.n_items) < SECOND_GENRE_SHARE
    item_genres[np.flatnonzero(second), rng.integers(0, o.n_genres, int(second.sum()))] = True
    item_weight = 1.0 / rng.permutation(np.arange(1, o.n_items + 1)) ** o.popularity_exponent
    item_decade = rng.choice(DECADES, o.n_items)

    user_genres = np.zeros((o.n_users, o.n_genres), dtype=bool)
    preferred = np.argsort(rng.random((o.n_users, o.n_genres)), axis=1)[:, : o.genres_per_user]
    np.put_along_axis(user_genres, preferred, True, axis=1)

    matches = (user_genres.astype(np.float64) @ item_genres.T.astype(np.float64)) > 0
    log_p = np.log(item_weight)[None, :] + np.where(matches, np.log(o.genre_affinity), 0.0)
    gumbel = -np.log(-np.log(rng.random((o.n_users, o.n_items))))  # Gumbel top-k = sampling w/o replacement
    chosen = np.argpartition(-(log_p + gumbel), o.interactions_per_user - 1, axis=1)[:, : o.interactions_per_user]

    interactions = pd.DataFrame(
        {"user_id": np.repeat(np.arange(1, o.n_users + 1), o.interactions_per_user), "item_id": chosen.ravel() + 1}
    )
    table = pd.DataFrame(
        {
            "name": [f"{names[np.flatnonzero(g)[0]]} item {i + 1}" for i, g in enumerate(item_genres)],
            "concepts": [[names[j] for j in np.flatnonzero(g)] for g in item_genres],
            "year": item_decade + rng.integers(0, 10, o.n_items),
        },
        index=pd.Index(np.arange(1, o.n_items + 1), name="item_id"),
    )
    data = build_dataset("synthetic", interactions, table, checksum=f"synthetic-{o.seed}")
    rows = data.item_ids.to_numpy() - 1  # items never drawn are absent from the dataset
    truth = SyntheticTruth(names, item_genres[rows], user_genres, item_weight[rows], item_decade[rows])
    return data, truth
