"""The SAE's user folds and its frozen recommender: what is trained on, and what is never touched."""

import dataclasses

import numpy as np
import torch
from sae_fixtures import SAE_TRAIN, planted

from monorec.config import ModelConfig, SAEConfig
from monorec.data import split_users
from monorec.parallel import DataParallel
from monorec.recommenders import build_recommender
from monorec.sae import SparseAutoencoder, train_sae
from monorec.sae.training import SAETask, in_memory_inputs, sae_folds


def test_folds_are_disjoint_seeded_and_cover_every_user(synthetic):
    _, _, split = synthetic
    folds = split_users(split, 0.1, 0.1, seed=3)
    assert len(folds.validation) == len(folds.report) == round(0.1 * len(split.test_users))
    assert not set(folds.validation) & set(folds.report)
    assert not (set(folds.validation) | set(folds.report)) & set(folds.train)
    assert sorted({*folds.train, *folds.validation, *folds.report}) == list(range(split.n_users))
    assert set(folds.report) <= set(split.test_users)  # report users have held-out positives
    again, other = split_users(split, 0.1, 0.1, seed=3), split_users(split, 0.1, 0.1, seed=4)
    assert np.array_equal(folds.report, again.report) and not np.array_equal(folds.report, other.report)


def test_sae_trains_on_the_train_fold_only():
    _, _, split, model = planted()
    pairs, validation = in_memory_inputs(split, SAE_TRAIN, torch.device("cpu"))
    task = SAETask(
        SparseAutoencoder(16, SAEConfig(n_latents=24)), model, pairs, validation, SAE_TRAIN, torch.device("cpu")
    )
    trained = {int(u) for _, (users, _) in task.batches(DataParallel()) for u in users}
    folds = sae_folds(split, SAE_TRAIN)
    assert trained == set(folds.train) - _users_without_training_pairs(split, folds.train)
    assert not trained & (set(folds.validation) | set(folds.report))
    assert set(task.validation_users.tolist()) == set(folds.validation)
    # Their seen items are all the validation check needs: the same CSR rows as the full split's.
    indptr, items = split.train_csr()
    seen_indptr, seen_items = validation.seen.train_csr()
    for user in folds.validation[:5]:
        assert np.array_equal(
            seen_items[seen_indptr[user] : seen_indptr[user + 1]], items[indptr[user] : indptr[user + 1]]
        )


def test_held_out_folds_are_capped_and_the_rest_train(synthetic):
    _, _, split = synthetic
    folds = split_users(split, 0.1, 0.1, seed=3, max_fold_users=7)
    assert len(folds.validation) == len(folds.report) == 7
    assert len(folds.train) == split.n_users - 14


def test_an_unfrozen_recommender_comes_out_bit_identical():
    """Even handed a model that still requires gradients, SAE training never changes its weights."""
    _, _, split, frozen = planted()
    model = build_recommender(ModelConfig(embedding_dim=16), split.n_users, split.n_items)
    model.load_state_dict(frozen.state_dict())
    model.requires_grad_(True).train()
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    sae = SparseAutoencoder(16, SAEConfig(n_latents=24))
    train_sae(sae, model, split, dataclasses.replace(SAE_TRAIN, epochs=2, beta=1.0))
    assert all(torch.equal(before[name], tensor) for name, tensor in model.state_dict().items())
    assert all(parameter.grad is None for parameter in model.parameters())


def _users_without_training_pairs(split, users) -> set:
    return set(users) - set(split.train_users.tolist())


def test_the_sae_pairs_and_validation_masks_are_np_isin_without_its_sort(synthetic):
    """The lookup-table selections (`user_mask`) pick exactly np.isin's pairs, in the layout a copy of
    the selected pairs would get: the windows the SAE trains on are unchanged."""
    from monorec.data.pairs import shuffled_layout

    _, _, split = synthetic
    folds = split_users(split, 0.1, 0.1, seed=3)
    selected = np.isin(split.train_users, folds.train)
    rows = folds.train_rows(split)
    assert np.array_equal(rows, np.flatnonzero(selected)) and 0 < len(rows) < len(split.train_users)
    from_rows = shuffled_layout(split.train_users, split.train_items, 7, rows)
    from_copies = shuffled_layout(split.train_users[selected], split.train_items[selected], 7)
    assert all(np.array_equal(a, b) and a.dtype == np.int32 for a, b in zip(from_rows, from_copies))
    order = np.random.default_rng(7).permutation(len(rows))  # the layout every earlier run trained on
    assert np.array_equal(from_rows[0], split.train_users[selected][order])
    seen = split.seen_by(folds.validation)
    in_validation = np.isin(split.train_users, folds.validation)
    assert np.array_equal(seen.train_users, split.train_users[in_validation])
    assert np.array_equal(seen.train_items, split.train_items[in_validation])
