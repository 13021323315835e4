"""The one in-memory form every dataset is converted to.

Users and items are dense integer indices (0..n-1) so that they can index embedding tables;
the original ids are kept both ways so that jobs, reports and the HTTP API speak the dataset's
own ids. The item table carries what interpretation needs: a name, multi-label concepts,
year/decade where known and popularity.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pandas as pd

from monorec.errors import DataError

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class InteractionData:
    """Positive user-item interactions plus id maps and an item table.

    interactions: columns `user`, `item` (int32 indices) and, when the source has them,
        `timestamp` (float seconds, NaN where unknown).
    user_ids / item_ids: original id of each index.
    items: one row per item index with item_id, name, concepts, year, decade, popularity and
        popularity_percentile; `popularity` is the interaction count and
        `popularity_percentile` is 0 for the most popular item and 100 for the least.
    users: optional per-user attributes (ML-1M: gender, age, occupation, zip), in index order.
    checksum: identifies the source files and parse options (the parquet cache key).
    """

    name: str
    interactions: pd.DataFrame
    user_ids: pd.Index
    item_ids: pd.Index
    items: pd.DataFrame
    users: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    checksum: str = ""

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def n_interactions(self) -> int:
        return len(self.interactions)

    @property
    def concept_names(self) -> list[str]:
        return sorted({c for concepts in self.items["concepts"] for c in concepts})

    def concept_matrix(self) -> tuple[np.ndarray, list[str]]:
        """Multi-hot (n_items x n_concepts) bool matrix and the concept name of each column."""
        return concept_matrix(self.items["concepts"])


def concept_matrix(item_concepts: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Multi-hot (items x concepts) bool matrix of a column of concept lists, and the sorted names."""
    names = sorted({c for concepts in item_concepts for c in concepts})
    column = {name: j for j, name in enumerate(names)}
    matrix = np.zeros((len(item_concepts), len(names)), dtype=bool)
    for row, concepts in enumerate(item_concepts):
        matrix[row, [column[c] for c in concepts]] = True
    return matrix, names


def build_dataset(
    name: str,
    interactions: pd.DataFrame,
    item_table: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
    checksum: str = "",
) -> InteractionData:
    """Index raw interactions with original ids into an InteractionData.

    interactions: columns `user_id`, `item_id` and optionally `timestamp`. Duplicate (user, item)
        pairs are dropped (first kept) with a count in the log. Vectorised throughout (no
        Python loop over rows), so tens of millions of interactions build in seconds.
    item_table: indexed by original item id, optional columns `name`, `concepts` (list of str),
        `year`. Items without interactions are dropped; interacted items missing from the table
        get their id as name and no concepts.
    users: optional per-user attributes indexed by original user id.
    checksum: identifies the source files and options (the parquet cache key).
    """
    if interactions.empty:
        raise DataError(f"{name}: no interactions to build a dataset from")
    user_codes, user_ids = pd.factorize(interactions["user_id"], sort=True)
    user_codes = user_codes.astype(np.int32)  # half the memory of factorize's int64, at 100 M rows 0.4 GiB each
    item_codes, item_ids = pd.factorize(interactions["item_id"], sort=True)
    item_codes = item_codes.astype(np.int32)
    keep = _first_occurrences(user_codes, item_codes, len(item_ids))
    if keep is not None:
        log.info("%s: dropped %d duplicate (user, item) interactions", name, len(interactions) - len(keep))
        user_codes, item_codes = user_codes[keep], item_codes[keep]
    frame = pd.DataFrame({"user": user_codes, "item": item_codes})
    if "timestamp" in interactions:
        timestamps = pd.to_numeric(interactions["timestamp"], errors="coerce").to_numpy(np.float64)
        frame["timestamp"] = timestamps if keep is None else timestamps[keep]
    items = _item_table(pd.Index(item_ids), frame["item"].to_numpy(), item_table)
    user_table = pd.DataFrame(index=pd.RangeIndex(len(user_ids)))
    if users is not None and not users.empty:
        user_table = users.reindex(user_ids).reset_index(drop=True)
    return InteractionData(name, frame, pd.Index(user_ids), pd.Index(item_ids), items, user_table, checksum)


def _first_occurrences(user_codes: np.ndarray, item_codes: np.ndarray, n_items: int) -> np.ndarray | None:
    """The rows to keep, the first occurrence of each (user, item) pair in file order; None: every row.

    Most datasets have no duplicates, which one in-place sort of the pair keys shows; only then
    does np.unique run, whose permutation and copies cost three times the keys' memory.
    """
    keys = user_codes.astype(np.int64) * n_items + item_codes
    keys.sort()
    if not (keys[1:] == keys[:-1]).any():
        return None
    keys = user_codes.astype(np.int64) * n_items + item_codes
    return np.sort(np.unique(keys, return_index=True)[1])


def _item_table(item_ids: pd.Index, item_codes: np.ndarray, table: pd.DataFrame | None) -> pd.DataFrame:
    table = pd.DataFrame(index=item_ids) if table is None else table.reindex(item_ids)
    names = table["name"] if "name" in table else pd.Series(pd.NA, index=item_ids)
    concepts = table["concepts"] if "concepts" in table else pd.Series(None, index=item_ids, dtype=object)
    years = table["year"] if "year" in table else pd.Series(pd.NA, index=item_ids)
    popularity = np.bincount(item_codes, minlength=len(item_ids))
    # Rank 0 = most popular; ties share the lower (better) rank so percentiles do not depend on id order.
    rank = pd.Series(-popularity).rank(method="min").to_numpy() - 1
    percentile = 100.0 * rank / max(len(item_ids) - 1, 1)
    year = pd.array(years.to_numpy(), dtype="Int64")
    return pd.DataFrame(
        {
            "item_id": item_ids,
            "name": [str(n) if isinstance(n, str) else str(i) for n, i in zip(names, item_ids)],
            "concepts": [sorted(c) if isinstance(c, (list, tuple, np.ndarray)) else [] for c in concepts],
            "year": year,
            "decade": (year // 10) * 10,
            "popularity": popularity.astype(np.int64),
            "popularity_percentile": percentile,
        }
    )


def k_core(interactions: pd.DataFrame, min_users_per_item: int, min_items_per_user: int) -> pd.DataFrame:
    """Iteratively drop items with too few users and users with too few items until both hold."""
    if min_users_per_item <= 1 and min_items_per_user <= 1:
        return interactions
    users = pd.factorize(interactions["user_id"])[0]
    items = pd.factorize(interactions["item_id"])[0]
    keep = np.ones(len(interactions), dtype=bool)
    while True:
        item_counts = np.bincount(items[keep], minlength=items.max() + 1)
        user_counts = np.bincount(users[keep], minlength=users.max() + 1)
        still = keep & (item_counts[items] >= min_users_per_item) & (user_counts[users] >= min_items_per_user)
        if not still.any():
            raise DataError(
                f"k-core filtering (min_users_per_item={min_users_per_item}, "
                f"min_items_per_user={min_items_per_user}) removed every interaction"
            )
        if still.sum() == keep.sum():
            return interactions[keep]
        keep = still
