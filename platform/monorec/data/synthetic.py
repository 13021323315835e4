"""A seeded synthetic dataset with planted structure, returned together with its ground truth.

Items belong to one or two latent genres with known labels, each user prefers a few genres,
item popularity is Zipf-skewed and items carry a decade. A user's interactions are drawn
without replacement with probability proportional to popularity x (genre_affinity if the item
has one of the user's genres, else 1). Tests check that models and the SAE recover this.

Memory and time are proportional to the interactions, never to users x items, so the same
generator writes 100 M interactions to parquet (`write_synthetic`) as easily as it builds a
test fixture (`make_synthetic`). Sampling without replacement is done exactly, as sequential
draws: independent draws from the target distribution, keeping each user's first k distinct
items (`monorec.data.distinct`). A draw picks the popularity-only part of the mixture or the
preferred-genre part (a genre by its mass, an item of it by popularity, accepted with
probability 1 / the number of the user's genres the item has, so that items in two of them
are not counted twice).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from monorec.config import SyntheticConfig
from monorec.data.dataset import InteractionData, build_dataset
from monorec.data.distinct import sample_distinct
from monorec.errors import DataError

GENRES = ("Horror", "Comedy", "Romance", "Sci-Fi", "Western", "Documentary", "Musical", "Animation", "Thriller", "War")
DECADES = (1960, 1970, 1980, 1990, 2000, 2010)
SECOND_GENRE_SHARE = 0.3
USERS_PER_CHUNK = 20_000  # fixed, so the data of a seed never depends on how it is written
CONCEPTS_SEP = "|"


@dataclasses.dataclass(frozen=True)
class SyntheticTruth:
    """Ground truth, aligned with the dataset's user and item indices."""

    genre_names: list[str]
    item_genres: np.ndarray  # (n_items, n_genres) bool
    user_genres: np.ndarray  # (n_users, n_genres) bool
    item_weight: np.ndarray  # (n_items,) latent popularity used for sampling
    item_decade: np.ndarray  # (n_items,) int


@dataclasses.dataclass(frozen=True)
class _Catalogue:
    """Items with their genres and weights, arranged for inverse-CDF draws per genre."""

    names: list[str]
    primary: np.ndarray  # (n_items,) genre index
    second: np.ndarray  # (n_items,) genre index, -1 for none
    weight: np.ndarray  # (n_items,)
    decade: np.ndarray  # (n_items,)
    year: np.ndarray  # (n_items,) a year within the decade
    genre_mass: np.ndarray  # (n_genres,) total weight of each genre's items
    by_genre: np.ndarray  # item indices grouped by genre (an item in two genres appears twice)
    by_genre_cumulative: np.ndarray  # cumulative weight along `by_genre`
    genre_start_mass: np.ndarray  # (n_genres,) cumulative weight before each genre's block

    @property
    def item_genres(self) -> np.ndarray:
        matrix = np.zeros((len(self.primary), len(self.names)), dtype=bool)
        matrix[np.arange(len(self.primary)), self.primary] = True
        has_second = self.second >= 0
        matrix[np.flatnonzero(has_second), self.second[has_second]] = True
        return matrix


def _catalogue(o: SyntheticConfig, rng: np.random.Generator) -> _Catalogue:
    names = [GENRES[g] if g < len(GENRES) else f"Genre {g}" for g in range(o.n_genres)]
    primary = rng.integers(0, o.n_genres, o.n_items)
    second = np.where(rng.random(o.n_items) < SECOND_GENRE_SHARE, rng.integers(0, o.n_genres, o.n_items), -1)
    second[second == primary] = -1
    weight = 1.0 / rng.permutation(np.arange(1, o.n_items + 1)) ** o.popularity_exponent
    decade = rng.choice(DECADES, o.n_items)
    year = decade + rng.integers(0, 10, o.n_items)
    has_second = second >= 0
    genre_of = np.concatenate([primary, second[has_second]])
    item_of = np.concatenate([np.arange(o.n_items), np.flatnonzero(has_second)])
    order = np.argsort(genre_of, kind="stable")
    by_genre, block_genre = item_of[order], genre_of[order]
    genre_mass = np.bincount(genre_of, weights=weight[item_of], minlength=o.n_genres)
    cumulative = np.cumsum(weight[by_genre])
    starts = np.searchsorted(block_genre, np.arange(o.n_genres))
    start_mass = np.where(starts > 0, cumulative[np.maximum(starts - 1, 0)], 0.0)
    return _Catalogue(names, primary, second, weight, decade, year, genre_mass, by_genre, cumulative, start_mass)


def _user_genres(o: SyntheticConfig, rng: np.random.Generator, n_users: int) -> np.ndarray:
    """(n_users, genres_per_user) each user's preferred genres."""
    return np.argsort(rng.random((n_users, o.n_genres)), axis=1)[:, : o.genres_per_user]


def _draw(cat: _Catalogue, preferred: np.ndarray, affinity: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """(len(preferred), n) independent draws per user from the target distribution; -1 = rejected."""
    users = len(preferred)
    total = cat.weight.sum()
    # The genre branch is entered in proportion to the preferred genres' summed mass G; its
    # acceptance step keeps M / G of it (M: their items' mass, each item once), so accepted draws
    # come from it with weight (affinity - 1) M against W for the popularity part: the target.
    summed = cat.genre_mass[preferred].sum(1)
    from_genre = rng.random((users, n)) < (affinity - 1) * summed[:, None] / (total + (affinity - 1) * summed[:, None])
    anywhere = np.searchsorted(np.cumsum(cat.weight), rng.random((users, n)) * total).clip(max=len(cat.weight) - 1)
    masses = np.cumsum(cat.genre_mass[preferred], axis=1)  # (users, g)
    pick = (rng.random((users, n, 1)) * masses[:, None, -1:] >= masses[:, None, :]).sum(-1)
    genre = np.take_along_axis(preferred, pick, axis=1)
    position = cat.genre_start_mass[genre] + rng.random((users, n)) * cat.genre_mass[genre]
    in_genre = cat.by_genre[np.searchsorted(cat.by_genre_cumulative, position).clip(max=len(cat.by_genre) - 1)]
    shared_genres = (cat.primary[in_genre][:, :, None] == preferred[:, None, :]).any(-1).astype(np.int8) + (
        cat.second[in_genre][:, :, None] == preferred[:, None, :]
    ).any(-1)
    accepted = rng.random((users, n)) * np.maximum(shared_genres, 1) < 1
    return np.where(from_genre, np.where(accepted, in_genre, -1), anywhere)


def _sample(cat: _Catalogue, preferred: np.ndarray, o: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    """(users, k) items per user, sampled without replacement; exact (see the module docstring)."""
    return sample_distinct(
        len(preferred),
        o.interactions_per_user,
        lambda rows, n: _draw(cat, preferred[rows], o.genre_affinity, n, rng),
        lambda rows: _gumbel_top_k(cat, preferred[rows], o, rng),
    )


def _gumbel_top_k(cat: _Catalogue, preferred: np.ndarray, o: SyntheticConfig, rng: np.random.Generator) -> np.ndarray:
    """The same distribution by Gumbel top-k over every item: for the few users whose k nearly exhausts it."""
    matches = (cat.primary[None, :, None] == preferred[:, None, :]).any(-1) | (
        cat.second[None, :, None] == preferred[:, None, :]
    ).any(-1)
    log_p = np.log(cat.weight)[None, :] + np.where(matches, np.log(o.genre_affinity), 0.0)
    gumbel = -np.log(-np.log(rng.random(log_p.shape)))
    return np.argpartition(-(log_p + gumbel), o.interactions_per_user - 1, axis=1)[:, : o.interactions_per_user]


def _check(o: SyntheticConfig) -> None:
    if o.interactions_per_user > o.n_items or o.genres_per_user > o.n_genres or o.n_genres < 1:
        raise DataError(f"synthetic options are inconsistent: {o}")


def synthetic_chunks(o: SyntheticConfig) -> tuple[_Catalogue, np.ndarray, Iterator[pd.DataFrame]]:
    """The catalogue, every user's preferred genres, and the interactions as frames of a few thousand users."""
    _check(o)
    rng = np.random.default_rng(o.seed)
    cat = _catalogue(o, rng)
    preferred = _user_genres(o, rng, o.n_users)

    def chunks() -> Iterator[pd.DataFrame]:
        for index, start in enumerate(range(0, o.n_users, USERS_PER_CHUNK)):
            block = preferred[start : start + USERS_PER_CHUNK]
            items = _sample(cat, block, o, np.random.default_rng([o.seed, index]))
            users = np.repeat(np.arange(start + 1, start + len(block) + 1, dtype=np.int32), items.shape[1])
            yield pd.DataFrame({"user_id": users, "item_id": (items.ravel() + 1).astype(np.int32)})

    return cat, preferred, chunks()


def _item_table(cat: _Catalogue) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "name": [f"{cat.names[g]} item {i + 1}" for i, g in enumerate(cat.primary)],
            "concepts": [[cat.names[j] for j in np.flatnonzero(row)] for row in cat.item_genres],
            "year": cat.year,
        },
        index=pd.Index(np.arange(1, len(cat.primary) + 1), name="item_id"),
    )


def _truth(cat: _Catalogue, preferred: np.ndarray, rows: np.ndarray) -> SyntheticTruth:
    user_genres = np.zeros((len(preferred), len(cat.names)), dtype=bool)
    np.put_along_axis(user_genres, preferred, True, axis=1)
    return SyntheticTruth(cat.names, cat.item_genres[rows], user_genres, cat.weight[rows], cat.decade[rows])


def make_synthetic(options: SyntheticConfig | None = None) -> tuple[InteractionData, SyntheticTruth]:
    """The dataset in memory, with its ground truth aligned to the dataset's indices."""
    o = options or SyntheticConfig()
    cat, preferred, chunks = synthetic_chunks(o)
    interactions = pd.concat(list(chunks), ignore_index=True)
    data = build_dataset("synthetic", interactions, _item_table(cat), checksum=f"synthetic-{o.seed}")
    rows = data.item_ids.to_numpy() - 1  # items never drawn are absent from the dataset
    return data, _truth(cat, preferred, rows)


def write_synthetic(options: SyntheticConfig, folder: Path) -> tuple[Path, Path]:
    """Stream the dataset to `folder`/interactions.parquet and items.parquet (concepts `|`-joined).

    The files are what a user brings (`data.dataset: generic`), so the whole loading path is
    exercised; memory stays at one chunk of users however many interactions are written.
    """
    cat, _, chunks = synthetic_chunks(options)
    folder.mkdir(parents=True, exist_ok=True)
    interactions, items = folder / "interactions.parquet", folder / "items.parquet"
    schema = pa.schema([("user_id", pa.int32()), ("item_id", pa.int32())])
    with pq.ParquetWriter(interactions, schema) as writer:
        for frame in chunks:
            writer.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False))
    table = _item_table(cat)
    table["concepts"] = [CONCEPTS_SEP.join(c) for c in table["concepts"]]
    table.reset_index().to_parquet(items, index=False)
    return interactions, items
