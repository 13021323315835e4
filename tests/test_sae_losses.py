"""Loss terms against hand-computed values, and the frozen-recommender guarantee."""

import math

import pytest
import torch

from monorec.config import SAEConfig, SAETrainConfig
from monorec.recommenders import MatrixFactorization
from monorec.sae.losses import (
    embedding_mse,
    kl_sparsity,
    l1_sparsity,
    pair_scorer,
    prediction_mse,
    sae_loss_terms,
    total_loss,
)
from monorec.sae.model import SparseAutoencoder


def _tiny_mf() -> MatrixFactorization:
    model = MatrixFactorization(n_users=2, n_items=2, embedding_dim=2)
    with torch.no_grad():
        model.global_bias.fill_(0.5)
        model.user_bias.copy_(torch.tensor([1.0, -1.0]))
        model.item_bias.copy_(torch.tensor([0.0, 2.0]))
    return model.requires_grad_(False)


def test_embedding_mse_and_l1_by_hand():
    assert embedding_mse(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 4.0]])).item() == pytest.approx(2.5)
    assert l1_sparsity(torch.tensor([[1.0, 0.0, 2.0], [0.0, 0.5, 0.0]])).item() == pytest.approx(1.75)


def test_prediction_mse_compares_logits_with_biases():
    model = _tiny_mf()
    users, items = torch.tensor([0, 1]), torch.tensor([1, 0])
    e_u, e_i = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[2.0, 1.0], [1.0, 3.0]])
    hat_u, hat_i = torch.tensor([[0.0, 0.0], [0.0, 1.0]]), torch.tensor([[2.0, 1.0], [1.0, 1.0]])
    # Original logits: 0.5+1+2+2 = 5.5 and 0.5-1+0+3 = 2.5; reconstructed: 3.5 and 0.5.
    score = pair_scorer(model, users, items)
    assert prediction_mse(score, e_u, e_i, hat_u, hat_i).item() == pytest.approx((2**2 + 2**2) / 2)


def test_kl_by_hand_and_finite_for_dead_and_saturated_neurons():
    codes = torch.tensor([[0.1, 0.0, 3.0], [0.3, 0.0, 5.0]])  # rates 0.2, 0 (dead), 4 (saturated)
    rho = 0.05
    expected_first = rho * math.log(rho / 0.2) + (1 - rho) * math.log((1 - rho) / 0.8)
    got = kl_sparsity(codes, rho)
    assert torch.isfinite(got)
    assert kl_sparsity(codes[:, :1], rho).item() == pytest.approx(expected_first, rel=1e-5)
    assert kl_sparsity(torch.full((4, 3), 0.05), rho).item() == pytest.approx(0.0, abs=1e-6)
    codes.requires_grad_(True)
    kl_sparsity(codes, rho).backward()
    assert torch.isfinite(codes.grad).all()


def test_total_loss_weights_each_term():
    terms = {"emb": torch.tensor(1.0), "pred": torch.tensor(2.0), "l1": torch.tensor(3.0), "kl": torch.tensor(4.0)}
    weights = SAETrainConfig(alpha=0.5, beta=0.25, lambda1=0.1, lambda2=2.0)
    assert total_loss(terms, weights).item() == pytest.approx(0.5 + 0.5 + 0.3 + 8.0)


def test_gradients_reach_the_sae_but_never_the_recommender():
    torch.manual_seed(0)  # before the model too: its embeddings must not depend on earlier tests
    model = _tiny_mf()
    before = {name: p.clone() for name, p in model.state_dict().items()}
    sae = SparseAutoencoder(2, SAEConfig(n_latents=4))
    optimizer = torch.optim.Adam(sae.parameters(), lr=0.1)
    users, items = torch.tensor([0, 1, 1]), torch.tensor([1, 0, 1])
    for step in range(3):
        terms = sae_loss_terms(
            sae, model, users, items, model.user_embeddings(users), model.item_embeddings(items), SAETrainConfig()
        )
        optimizer.zero_grad()
        total_loss(terms, SAETrainConfig(beta=1.0)).backward()
        if step == 0:  # before any step moves the (tiny) codes to zero
            assert sae.encoder.grad is not None and sae.encoder.grad.abs().sum() > 0
        optimizer.step()
    assert all(p.grad is None for p in model.parameters())
    assert all(torch.equal(before[name], p) for name, p in model.state_dict().items())


def test_kl_is_summed_over_users_and_items_not_pooled():
    """The notebooks compute KL on each side and add: pooling would average away a one-sided neuron."""
    users = torch.tensor([[0.5, 0.0], [0.7, 0.0]])  # neuron 0 fires on users only
    items = torch.tensor([[0.0, 0.05], [0.0, 0.05]])  # neuron 1 fires on items, at rho
    rho = 0.05
    model = _tiny_mf()
    sae = SparseAutoencoder(2, SAEConfig(n_latents=2))
    index = torch.tensor([0, 1])
    user_emb, item_emb = model.user_embeddings(index), model.item_embeddings(index)
    with torch.no_grad():
        terms = sae_loss_terms(sae, model, index, index, user_emb, item_emb, SAETrainConfig(rho=rho))
        expected = kl_sparsity(sae.encode(user_emb).codes, rho) + kl_sparsity(sae.encode(item_emb).codes, rho)
    assert terms["kl"].item() == pytest.approx(expected.item())
    per_side = kl_sparsity(users, rho) + kl_sparsity(items, rho)
    pooled = kl_sparsity(torch.cat([users, items]), rho)
    assert per_side.item() > pooled.item() + 0.1  # the one-sided neuron 0 is penalised harder per side


def test_kl_clamp_gives_no_gradient_to_saturated_neurons():
    """A neuron whose mean activation is >= 1 sits on the clamp: KL gives it no gradient, others get one."""
    codes = torch.tensor([[2.0, 0.3, 0.0], [4.0, 0.1, 0.0]], requires_grad=True)  # means 3, 0.2, 0 (dead)
    kl_sparsity(codes, 0.05).backward()
    assert torch.equal(codes.grad[:, 0], torch.zeros(2))  # saturated: clamped, zero gradient
    assert (codes.grad[:, 1] > 0).all()  # above rho: pushed down
    assert torch.equal(codes.grad[:, 2], torch.zeros(2))  # dead (mean 0 < eps): clamped too
