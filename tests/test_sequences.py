"""Ordered data: ML-100K, the ML-1M timestamped subset and your own timestamps, split leave-last-out.

Each user's timestamped rows in time order (file order among ties); the last is the test item, the
one before it validation, the rest training; rows without a timestamp are seen but never in a
sequence, so they leave the candidates and nothing else.
"""

import numpy as np
import pandas as pd
import pytest
import torch

from monorec.config import DataConfig, GenericDataConfig
from monorec.data import build_dataset, load_dataset, load_split
from monorec.data.sequences import leave_last_out, tie_shares
from monorec.errors import DataError
from monorec.evaluation import evaluate_ranking

FRAME = pd.DataFrame(  # user a: b at t=1, then c and d tied at t=5 (c first in the file), e at t=9
    {
        "user_id": ["a", "a", "a", "a", "a", "z", "z", "z", "z"],
        "item_id": ["e", "c", "d", "b", "x", "b", "c", "d", "x"],
        "timestamp": [9.0, 5.0, 5.0, 1.0, np.nan, 1.0, 2.0, 3.0, 4.0],
    }
)


def _ids(data, split, user_id):
    """A user's training sequence, validation and test items, as item ids."""
    user = data.user_ids.get_loc(user_id)
    indptr, items = split.history_csr()
    row = int(np.searchsorted(split.test_users, user))
    sequence = [data.item_ids[i] for i in items[indptr[user] : indptr[user + 1]]]
    return sequence, data.item_ids[split.validation_items[row]], data.item_ids[split.test_items[row, 0]]


def test_leave_last_out_orders_by_time_keeps_file_order_among_ties_and_masks_untimed_rows():
    data = build_dataset("toy", FRAME)
    split = leave_last_out(data, test_negatives=0)
    sequence, validation, test = _ids(data, split, "a")
    assert (sequence, validation, test) == (["b", "c", "d"], "d", "e")  # d is validation: it follows c in the file
    z_sequence, z_validation, z_test = _ids(data, split, "z")
    assert (z_sequence, z_validation, z_test) == (["b", "c", "d"], "d", "x")
    seen = {(data.user_ids[u], data.item_ids[i]) for u, i in zip(split.seen_users, split.seen_items)}
    assert seen == {("a", "x")}  # the untimed row: never in a's sequence, but seen
    indptr, items = split.seen_csr()
    a = data.user_ids.get_loc("a")
    assert {data.item_ids[i] for i in items[indptr[a] : indptr[a + 1]]} == {"b", "c", "d", "x"}
    shares = tie_shares(data, split)
    assert shares.rows == pytest.approx(2 / 8) and shares.last_two == 0.0  # c, d tie; no user's last two do


def test_full_ranking_leaves_out_what_the_user_saw_without_a_timestamp():
    data = build_dataset("toy", FRAME)
    split = leave_last_out(data, test_negatives=0)
    x = data.item_ids.get_loc("x")

    def prefers_x(users: torch.Tensor) -> torch.Tensor:  # x first, then the test item e, then the rest
        scores = torch.zeros(len(users), data.n_items)
        scores[:, x] = 2.0
        scores[:, data.item_ids.get_loc("e")] = 1.0
        return scores

    a = np.array([data.user_ids.get_loc("a")])
    assert evaluate_ranking(prefers_x, split, k=1, users=a).full.hr == 1.0  # x, seen untimed, is no candidate


def test_without_timestamps_a_leave_last_out_split_stops_with_one_line():
    with pytest.raises(DataError, match=r"no timestamps.*data\.generic\.timestamp_col"):
        leave_last_out(build_dataset("toy", FRAME.drop(columns="timestamp")))


def test_your_own_file_is_ordered_by_its_timestamp_column(tmp_path):
    path = tmp_path / "events.csv"
    FRAME.rename(columns={"timestamp": "when"}).to_csv(path, index=False)
    generic = GenericDataConfig(
        interactions_path=str(path), user_col="user_id", item_col="item_id", timestamp_col="when"
    )
    config = DataConfig(
        dataset="generic", generic=generic, split="leave_last_out", test_negatives=0, min_train_positives=1
    )
    data, split = load_split(config)
    assert _ids(data, split, "a") == (["b", "c", "d"], "d", "e")
    assert data.name == "events_timestamped"  # a row lacks a timestamp: the sequences are a subset


@pytest.mark.real_data
def test_ml100k_has_every_timestamp_and_its_genres(data_dir):
    data, split = load_split(DataConfig(dataset="ml100k", data_dir=str(data_dir), split="leave_last_out"))
    assert (data.n_interactions, data.n_users, data.n_items, data.name) == (100_000, 943, 1_682, "ml100k")
    assert len(data.concept_names) == 19 and "Horror" in data.concept_names
    toy_story = data.items.set_index("item_id").loc[1]
    assert (toy_story["name"], toy_story["concepts"]) == ("Toy Story (1995)", ["Animation", "Children's", "Comedy"])
    assert len(split.test_users) == 943 and len(split.seen_users) == 0
    stamps = data.interactions.set_index(["user", "item"])["timestamp"]
    users = split.test_users
    test = stamps.loc[list(zip(users, split.test_items[:, 0]))].to_numpy()
    validation = stamps.loc[list(zip(users, split.validation_items))].to_numpy()
    latest = data.interactions.groupby("user")["timestamp"].max().loc[users].to_numpy()
    assert (test == latest).all() and (validation <= test).all()
    shares = tie_shares(data, split)
    assert round(shares.rows, 2) == 0.76 and round(shares.last_two, 2) == 0.44  # the issue's own counts


@pytest.mark.real_data
def test_the_ml1m_subset_is_its_timestamped_rows_named_as_such(data_dir):
    full = load_dataset(DataConfig(dataset="ml1m", data_dir=str(data_dir)))
    data, split = load_split(DataConfig(dataset="ml1m", data_dir=str(data_dir), split="leave_last_out"))
    assert data.name == "ml1m_timestamped" and (data.n_users, data.n_items) == (6_040, 3_623)
    in_sequences = len(split.train_users) + len(split.test_users)
    assert in_sequences == 681_991 == int(full.interactions["timestamp"].notna().sum())
    untimed = int(data.interactions["timestamp"].isna().sum())  # of the items left in the catalogue
    assert len(split.seen_users) == untimed and 0 < untimed < int(full.interactions["timestamp"].isna().sum())
    assert round(tie_shares(data, split).rows, 2) == 0.68


def test_what_a_remote_worker_gets_of_the_users_keeps_their_unordered_rows_masked():
    data = build_dataset("toy", FRAME)
    split = leave_last_out(data, test_negatives=0)
    a = data.user_ids.get_loc("a")
    shipped = split.seen_by(np.array([a]))
    indptr, items = shipped.seen_csr()
    assert {data.item_ids[i] for i in items[indptr[a] : indptr[a + 1]]} == {"b", "c", "d", "x"}
    assert shipped.ordered and len(shipped.test_users) == 0
