"""Each difference from the paper's notebooks, as a setting, against hand-computed values (docs/method.md §3)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from monorec.config import ModelConfig, SAEConfig, SAETrainConfig, TrainConfig
from monorec.data.split import Split
from monorec.errors import ConfigError
from monorec.evaluation.fidelity import masked_items
from monorec.recommenders import MatrixFactorization, TwoTowerRecommender, build_recommender
from monorec.recommenders.training import RecommenderTask
from monorec.reproduction.ablation import bias_share
from monorec.sae.losses import minmax_columns, pair_scorer, prediction_bce, sae_loss_terms
from monorec.sae.model import SparseAutoencoder
from monorec.sae.scan import scan


def _mf(n: int = 3, dim: int = 2) -> MatrixFactorization:
    torch.manual_seed(0)
    model = MatrixFactorization(n_users=n, n_items=n, embedding_dim=dim)
    with torch.no_grad():
        model.user_bias.copy_(torch.arange(n) * 0.5)
        model.item_bias.copy_(torch.arange(n) * -1.0)
    return model.requires_grad_(False)


def test_minmax_columns_scales_each_column_over_the_batch():
    batch = torch.tensor([[0.0, 2.0, 5.0], [1.0, 4.0, 5.0], [2.0, 6.0, 5.0]])
    expected = torch.tensor([[0.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1.0, 1.0, 0.0]])  # a constant column becomes 0
    assert torch.equal(minmax_columns(batch), expected)


def test_minmax_batches_reconstruct_and_score_the_normalised_embeddings():
    model, sae = _mf(), SparseAutoencoder(2, SAEConfig(n_latents=4))
    index = torch.arange(3)
    user_emb, item_emb = model.user_embeddings(index), model.item_embeddings(index)
    with torch.no_grad():
        terms = sae_loss_terms(sae, model, index, index, user_emb, item_emb, SAETrainConfig(minmax_batches=True))
        users, items = minmax_columns(user_emb), minmax_columns(item_emb)
        expected = (sae(users)[0] - users).pow(2).mean() + (sae(items)[0] - items).pow(2).mean()
        target = model.logits(index, index, users, items)
        pred = (model.logits(index, index, sae(users)[0], sae(items)[0]) - target).pow(2).mean()
        raw = sae_loss_terms(sae, model, index, index, user_emb, item_emb, SAETrainConfig())
    assert terms["emb"].item() == pytest.approx(expected.item()) and terms["pred"].item() == pytest.approx(pred.item())
    assert terms["emb"].item() != pytest.approx(raw["emb"].item())


def test_cross_matrix_compares_every_batch_user_with_every_batch_item():
    model, sae = _mf(), SparseAutoencoder(2, SAEConfig(n_latents=4))
    users, items = torch.tensor([0, 1, 2]), torch.tensor([2, 0, 1])
    user_emb, item_emb = model.user_embeddings(users), model.item_embeddings(items)
    with torch.no_grad():
        terms = sae_loss_terms(sae, model, users, items, user_emb, item_emb, SAETrainConfig(pred_cross=2))
        user_hat, item_hat = sae(user_emb)[0], sae(item_emb)[0]
        diffs = [
            model.logits(users[u : u + 1], items[i : i + 1], user_hat[u : u + 1], item_hat[i : i + 1])
            - model.logits(users[u : u + 1], items[i : i + 1], user_emb[u : u + 1], item_emb[i : i + 1])
            for u in range(2)
            for i in range(2)
        ]
        matched = sae_loss_terms(sae, model, users, items, user_emb, item_emb, SAETrainConfig())
    assert terms["pred"].item() == pytest.approx(torch.cat(diffs).pow(2).mean().item())
    assert terms["pred"].item() != pytest.approx(matched["pred"].item())
    generic = TwoTowerRecommender.cross_logits(model, users, items, user_emb, item_emb)  # pair by pair
    assert torch.allclose(model.cross_logits(users, items, user_emb, item_emb), generic)


def test_bce_prediction_is_minimal_and_flat_where_the_reconstruction_is_exact():
    model = _mf()
    index = torch.arange(3)
    user_emb, item_emb = model.user_embeddings(index), model.item_embeddings(index)
    user_hat = user_emb.clone().requires_grad_(True)
    loss = prediction_bce(pair_scorer(model, index, index), user_emb, item_emb, user_hat, item_emb)
    loss.backward()
    p = torch.sigmoid(model.logits(index, index, user_emb, item_emb))
    entropy = F.binary_cross_entropy(p, p)
    assert loss.item() == pytest.approx(entropy.item(), rel=1e-5)
    assert user_hat.grad.abs().max().item() < 1e-6


def test_an_sae_without_normalisation_encodes_the_raw_embeddings():
    sae = SparseAutoencoder(2, SAEConfig(n_latents=3, normalize=False))
    with torch.no_grad():
        sae.pre_bias.copy_(torch.tensor([0.5, -0.5]))
        sae.latent_bias.copy_(torch.tensor([0.1, 0.0, -0.1]))
    x = torch.tensor([[2.0, 1.0], [-1.0, 3.0]])
    encoded = sae.encode(x)
    expected = torch.relu((x - sae.pre_bias) @ sae.encoder.T + sae.latent_bias)
    assert torch.allclose(encoded.codes, expected)
    assert torch.allclose(sae.decode(encoded), expected @ sae.encoder + sae.pre_bias)


def test_frozen_matrices_need_an_untied_sae_and_get_no_gradient():
    with pytest.raises(ConfigError, match=r"sae\.tied false"):
        SAEConfig(frozen="encoder")
    sae = SparseAutoencoder(2, SAEConfig(n_latents=3, tied=False, frozen="encoder"))
    sae(torch.randn(4, 2))[0].pow(2).sum().backward()
    assert sae.encoder.grad is None and sae.decoder.grad is not None and sae.latent_bias.grad is not None


def test_notebook_masking_removes_every_known_positive_or_nothing():
    split = Split(
        n_users=2,
        n_items=5,
        train_users=np.array([0, 0, 1]),
        train_items=np.array([1, 3, 0]),
        test_users=np.array([0, 1]),
        test_items=np.array([[4], [2]]),
        test_negatives=np.array([[0], [1]]),
    )
    indptr, items = masked_items(split, "positives")
    assert [sorted(items[indptr[u] : indptr[u + 1]]) for u in range(2)] == [[1, 3, 4], [0, 2]]
    indptr, items = masked_items(split, "train")
    assert [sorted(items[indptr[u] : indptr[u + 1]]) for u in range(2)] == [[1, 3], [0]]
    indptr, items = masked_items(split, "none")
    assert len(items) == 0 and indptr.tolist() == [0, 0, 0]


def test_pair_l2_weighs_each_pairs_embeddings_and_biases_once_per_occurrence():
    model = _mf().requires_grad_(True)
    users, items, labels = torch.tensor([0, 0, 2]), torch.tensor([1, 2, 2]), torch.tensor([1.0, 0.0, 1.0])
    config = TrainConfig(pair_l2=0.1, device="cpu")
    task = RecommenderTask.__new__(RecommenderTask)  # only the loss is under test
    task.module, task.pair_l2 = model, config.pair_l2
    loss = task.loss((users, items, labels))["loss"]
    bce = F.binary_cross_entropy_with_logits(model(users, items), labels)
    squares = sum(
        (
            model.user_embedding.weight[u].pow(2).sum()
            + model.item_embedding.weight[i].pow(2).sum()
            + model.user_bias[u] ** 2
            + model.item_bias[i] ** 2
        )
        for u, i in zip(users.tolist(), items.tolist())
    )
    assert loss.item() == pytest.approx((bce + 0.1 / 2 * squares / 3).item(), rel=1e-6)


def test_sgd_excludes_the_lazy_adam_and_pair_l2_is_checked():
    with pytest.raises(ConfigError, match="optimizer adam"):
        TrainConfig(optimizer="sgd", sparse_embeddings=True)
    with pytest.raises(ConfigError, match="pair_l2"):
        TrainConfig(pair_l2=-1.0)


def test_scan_means_are_over_every_activation_whatever_the_chunks():
    codes = torch.tensor([[0.0, 1.0], [2.0, 0.0], [0.5, 0.5]])
    top = scan(lambda chunk: chunk, codes, depth=1, chunk_size=2)
    assert top.mean().tolist() == pytest.approx([2.5 / 3, 1.5 / 3]) and top.active.tolist() == [2, 2]
    assert torch.equal(top.total, scan(lambda chunk: chunk, codes, depth=1, chunk_size=3).total)


def test_bias_share_is_one_when_the_embeddings_carry_nothing_and_none_without_biases():
    model = _mf()
    with torch.no_grad():
        model.user_embedding.weight.zero_()
    assert bias_share(model, torch.arange(3)) == pytest.approx(1.0)
    assert bias_share(build_recommender(ModelConfig("ncf", embedding_dim=4), 3, 3), torch.arange(3)) is None
