"""Leave-last-out: each user's timestamped interactions in time order, the last held out for test.

The protocol of sequential recommenders (SASRec and its peers; docs/method.md §1b): per user, the
last interaction is the test item, the one before it the validation item, the rest training. At
test time the input sequence includes the validation item, and every item the user has not
interacted with is a candidate (full ranking). So the split's training pairs, grouped by user in
time order, end with the validation item; a sequential model's own training leaves it out and
checks itself on it (`recommenders.sasrec`).

Order: a stable sort by timestamp, so rows of one user in the same second keep the file's order,
the rule peers use (RePlay, RecBole). Ties are common (`tie_shares`): the rule decides many users'
test items, and the results page says how many.

Rows without a timestamp (a third of our ML-1M copy, `../shared/data/PROVENANCE.md`) have no
place in a sequence: they are never inputs or targets, but the user has seen them, so they leave
the user's candidates (`Split.seen_*`). Items with no timestamped row at all leave the catalogue
(`timestamped_catalogue`), since no model could ever be given or asked for them.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from monorec.data.dataset import InteractionData, build_dataset
from monorec.data.split import Split, sample_unseen
from monorec.errors import DataError
from monorec.results import TieShares

SEQUENCE_PARTS = 2  # validation and test items held out of each tested user's sequence


def timestamps_of(data: InteractionData) -> np.ndarray:
    """(n_interactions,) timestamps, NaN where unknown; a one-line error when the data has none."""
    if "timestamp" not in data.interactions or data.interactions["timestamp"].isna().all():
        raise DataError(
            f"{data.name} has no timestamps, and data.split leave_last_out orders each user's history in "
            "time (for your own data, name the column in data.generic.timestamp_col)"
        )
    return data.interactions["timestamp"].to_numpy(np.float64)


def timestamped_catalogue(data: InteractionData) -> InteractionData:
    """`data` without the items that have no timestamped row (re-indexed); `data` itself when every row has one.

    Data with rows lacking a timestamp is a subset as a sequence: its name says so
    (`ml1m_timestamped`), so that no page or bundle calls it by the whole dataset's name.
    """
    timed = ~np.isnan(timestamps_of(data))
    if timed.all():
        return data
    name = f"{data.name}_timestamped"
    items = data.interactions["item"].to_numpy()
    keep_items = np.zeros(data.n_items, dtype=bool)
    keep_items[items[timed]] = True
    if keep_items.all():
        return dataclasses.replace(data, name=name)
    rows = keep_items[items]
    frame = data.interactions[rows]
    interactions = pd.DataFrame(
        {
            "user_id": data.user_ids[frame["user"].to_numpy()],
            "item_id": data.item_ids[frame["item"].to_numpy()],
            "timestamp": frame["timestamp"].to_numpy(),
        }
    )
    table = data.items.set_index("item_id")[["name", "concepts", "year"]]
    users = data.users.set_axis(data.user_ids) if not data.users.empty else None
    return build_dataset(name, interactions, table, users, data.checksum + "-timestamped")


def time_order(data: InteractionData) -> np.ndarray:
    """Row indices of the timestamped interactions, grouped by user, each user's in time order.

    Stable: rows of one user with the same timestamp keep the order they have in the file.
    """
    timestamps = timestamps_of(data)
    users = data.interactions["user"].to_numpy()
    timed = np.flatnonzero(~np.isnan(timestamps))
    return timed[np.lexsort((timestamps[timed], users[timed]))]  # lexsort is stable


def leave_last_out(
    data: InteractionData, test_negatives: int = 5, min_train_positives: int = 1, seed: int = 0
) -> Split:
    """The leave-last-out split: users with at least `min_train_positives` + 2 timestamped rows are tested.

    Shorter sequences stay whole in training. `test_negatives` distinct unseen items per test user
    serve the sampled metrics, as in the random split.
    """
    order = time_order(data)
    users = data.interactions["user"].to_numpy().astype(np.int64)
    items = data.interactions["item"].to_numpy().astype(np.int64)
    seq_users, seq_items = users[order], items[order]
    counts = np.bincount(seq_users, minlength=data.n_users)
    ends = np.cumsum(counts)
    unseen = data.n_items - np.bincount(users, minlength=data.n_users)
    tested = np.flatnonzero((counts >= min_train_positives + SEQUENCE_PARTS) & (unseen >= test_negatives))
    if len(tested) == 0:
        raise DataError(
            f"{data.name}: no user has the {min_train_positives + SEQUENCE_PARTS} timestamped rows a test needs"
        )
    is_test = np.zeros(len(order), dtype=bool)
    is_test[ends[tested] - 1] = True
    seen = np.ones(len(users), dtype=bool)
    seen[order] = False
    rng = np.random.default_rng(seed)
    negatives = sample_unseen(users, items, tested, data.n_items, test_negatives, rng)
    return Split(
        data.n_users,
        data.n_items,
        seq_users[~is_test],
        seq_items[~is_test],
        tested,
        seq_items[ends[tested] - 1][:, None],
        negatives,
        ordered=True,
        validation_items=seq_items[ends[tested] - 2],
        seen_users=users[seen],
        seen_items=items[seen],
    )


def tie_shares(data: InteractionData, split: Split) -> TieShares:
    """The shares of `TieShares` for a leave-last-out split of `data`."""
    order = time_order(data)
    users = data.interactions["user"].to_numpy()[order]
    stamps = timestamps_of(data)[order]
    same_as_next = (users[1:] == users[:-1]) & (stamps[1:] == stamps[:-1])
    tied = np.zeros(len(order), dtype=bool)
    tied[1:] |= same_as_next
    tied[:-1] |= same_as_next
    ends = np.cumsum(np.bincount(users, minlength=data.n_users))[split.test_users]
    return TieShares(rows=float(tied.mean()), last_two=float(same_as_next[ends - 2].mean()))
