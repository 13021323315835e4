import numpy as np
import pandas as pd
import pytest
import torch

from monorec.data import NegativeSampler, build_dataset, split_dataset


def test_split_sizes_and_disjointness(synthetic):
    data, _, split = synthetic
    assert split.test_items.shape == (data.n_users, 5) and split.test_negatives.shape == (data.n_users, 5)
    assert len(split.train_users) + split.test_items.size == data.n_interactions
    positives = set(zip(data.interactions["user"], data.interactions["item"]))
    train = set(zip(split.train_users, split.train_items))
    test = {(u, i) for u, row in zip(split.test_users, split.test_items) for i in row}
    assert not train & test and train | test == positives
    for user, negatives in zip(split.test_users, split.test_negatives):
        assert len(set(negatives)) == 5 and not any((user, i) in positives for i in negatives)


def test_split_is_seeded_and_keeps_small_users_in_training():
    items = {1: range(12), 2: range(20, 29), 3: range(20)}  # user 2 has fewer than 5 held out + 5 kept
    frame = pd.DataFrame([(u, i) for u, row in items.items() for i in row], columns=["user_id", "item_id"])
    data = build_dataset("tiny", frame)
    split = split_dataset(data, holdout=5, test_negatives=5, min_train_positives=5, seed=7)
    assert list(data.user_ids[split.test_users]) == [1, 3]
    assert (split.train_users == data.user_ids.get_loc(2)).sum() == 9
    again = split_dataset(data, seed=7)
    other = split_dataset(data, seed=8)
    assert np.array_equal(split.test_items, again.test_items) and not np.array_equal(split.test_items, other.test_items)


@pytest.mark.parametrize("distribution", ["uniform", "popularity"])
def test_negative_sampler_never_returns_a_positive(synthetic, distribution):
    _, _, split = synthetic
    sampler = NegativeSampler.from_split(split, distribution, seed=0)
    users = torch.as_tensor(np.repeat(split.train_users, 20))
    negatives = sampler.sample(users)
    assert negatives.shape == users.shape
    assert not sampler.is_positive(users, negatives).any()
    positives = set(zip(split.train_users.tolist(), split.train_items.tolist()))
    assert not any(pair in positives for pair in zip(users[:5000].tolist(), negatives[:5000].tolist()))
    # Re-drawn each call (each epoch), seeded per sampler.
    assert not torch.equal(negatives, sampler.sample(users))
    assert torch.equal(NegativeSampler.from_split(split, distribution, seed=0).sample(users), negatives)


def test_popularity_sampling_follows_count_power(synthetic):
    _, _, split = synthetic
    users = torch.as_tensor(np.repeat(split.train_users, 30))
    uniform = np.bincount(NegativeSampler.from_split(split, "uniform").sample(users).numpy(), minlength=split.n_items)
    popular = np.bincount(
        NegativeSampler.from_split(split, "popularity").sample(users).numpy(), minlength=split.n_items
    )
    counts = split.item_counts()
    top, tail = np.argsort(-counts)[:20], np.argsort(counts)[:100]
    assert popular[top].sum() > 2 * uniform[top].sum()
    assert popular[tail].sum() < uniform[tail].sum()


def test_user_csr_is_the_lexsort_order_of_the_pairs():
    from monorec.data.split import user_csr

    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 50, 2000), rng.integers(0, 30, 2000)  # duplicates and empty users too
    indptr, sorted_items = user_csr(users, items, 60)
    order = np.lexsort((items, users))
    assert np.array_equal(sorted_items, items[order]) and sorted_items.dtype == items.dtype
    assert np.array_equal(np.diff(indptr), np.bincount(users, minlength=60)) and indptr[-1] == len(items)
