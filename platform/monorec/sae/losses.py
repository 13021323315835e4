"""The SAE's loss terms, each a small function (docs/method.md §3).

    L_total = alpha * L_emb + beta * L_pred + lambda1 * L1 + lambda2 * KL

L_pred is the paper's contribution: the frozen recommender scores the original and the
reconstructed embeddings of observed (user, item) pairs, and the SAE is penalised for changing
the score. Scores are compared as pre-sigmoid logits for both MF (biases included, as the
method prescribes) and NCF (the method allows logits or probabilities; logits keep gradients
alive where the sigmoid saturates). The recommender must be frozen (requires_grad False), so
gradients reach the SAE only.

The paper's notebooks differ in three ways, each a setting of `SAETrainConfig` (off by
default): batches min-max normalised column-wise before encoding, with the targets scored on
the normalised embeddings (`minmax_batches`); scores compared over a users x items cross
matrix of the batch (`pred_cross`); BCE between the two sigmoid outputs (`pred_loss: bce`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from monorec.config import SAETrainConfig
from monorec.recommenders.base import TwoTowerRecommender

RATE_EPS = 1e-6


def embedding_mse(original: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    """Mean squared error per coordinate."""
    return (original - reconstructed).pow(2).mean()


Score = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (user embeddings, item embeddings) -> logits


def pair_scorer(recommender: TwoTowerRecommender, users: torch.Tensor, items: torch.Tensor, cross: int = 0) -> Score:
    """The frozen model's logits of a batch: its matched pairs, or (`cross` n > 0) the n x n matrix of
    its first n users against its first n items (the notebooks' MF loss scores every batch user
    against every batch item, so the SAE is also held to pairs nobody interacted with)."""
    if not cross:
        return lambda user_emb, item_emb: recommender.logits(users, items, user_emb, item_emb)
    n_users, n_items = min(cross, len(users)), min(cross, len(items))
    return lambda user_emb, item_emb: recommender.cross_logits(
        users[:n_users], items[:n_items], user_emb[:n_users], item_emb[:n_items]
    )


def prediction_mse(
    score: Score, user_emb: torch.Tensor, item_emb: torch.Tensor, user_hat: torch.Tensor, item_hat: torch.Tensor
) -> torch.Tensor:
    """Mean squared difference of the frozen model's logits: original vs reconstructed embeddings."""
    with torch.no_grad():
        target = score(user_emb, item_emb)
    return (score(user_hat, item_hat) - target).pow(2).mean()


def prediction_bce(
    score: Score, user_emb: torch.Tensor, item_emb: torch.Tensor, user_hat: torch.Tensor, item_hat: torch.Tensor
) -> torch.Tensor:
    """BCE of the reconstructed scores' probabilities against the original ones as soft targets (the
    NCF notebook's). Its minimum is the targets' entropy, not 0: only its gradient matters."""
    with torch.no_grad():
        target = torch.sigmoid(score(user_emb, item_emb))
    return F.binary_cross_entropy_with_logits(score(user_hat, item_hat), target)


PREDICTION_LOSSES = {"mse_logits": prediction_mse, "bce": prediction_bce}


def minmax_columns(embeddings: torch.Tensor) -> torch.Tensor:
    """Each column scaled to [0, 1] over the batch (the notebooks' `normalize_matrix`; a constant column becomes 0)."""
    low, high = embeddings.min(0).values, embeddings.max(0).values
    return torch.nan_to_num((embeddings - low) / (high - low), nan=0.0, posinf=0.0, neginf=0.0)


def l1_sparsity(codes: torch.Tensor) -> torch.Tensor:
    """Mean L1 norm of the codes."""
    return codes.abs().sum(-1).mean()


def kl_sparsity(codes: torch.Tensor, rho: float) -> torch.Tensor:
    """sum_j KL(rho || rho_hat_j), rho_hat_j = neuron j's mean activation over `codes`, clamped into (0, 1).

    Called once for the batch's user codes and once for its item codes, and the two summed, as
    the paper's notebooks do: pooling both sides into one mean would halve the pressure on a
    neuron that fires on one side only. The clamp keeps the term finite for dead (rho_hat = 0)
    and saturated (rho_hat >= 1) neurons; the latter get no gradient from this term (ReLU codes
    are unbounded, so a neuron's mean can exceed 1, and L1 or L_emb must bring it down).
    """
    rate = codes.mean(0).clamp(RATE_EPS, 1 - RATE_EPS)
    return (rho * torch.log(rho / rate) + (1 - rho) * torch.log((1 - rho) / (1 - rate))).sum()


def total_loss(terms: dict[str, torch.Tensor], weights: SAETrainConfig) -> torch.Tensor:
    """Weighted sum of the named terms `emb`, `pred`, `l1` and `kl`."""
    return (
        weights.alpha * terms["emb"]
        + weights.beta * terms["pred"]
        + weights.lambda1 * terms["l1"]
        + weights.lambda2 * terms["kl"]
    )


def sae_loss_terms(
    sae: torch.nn.Module,
    recommender: TwoTowerRecommender,
    users: torch.Tensor,
    items: torch.Tensor,
    user_emb: torch.Tensor,
    item_emb: torch.Tensor,
    config: SAETrainConfig,
) -> dict[str, torch.Tensor]:
    """Every term for a batch of observed pairs; reconstruction terms are summed over Matryoshka prefixes."""
    if config.minmax_batches:
        user_emb, item_emb = minmax_columns(user_emb), minmax_columns(item_emb)
    score, compare = pair_scorer(recommender, users, items, config.pred_cross), PREDICTION_LOSSES[config.pred_loss]
    encoded_users, encoded_items = sae.encode(user_emb), sae.encode(item_emb)
    emb = pred = torch.zeros((), device=user_emb.device)
    for n_latents in sae.prefixes:
        user_hat, item_hat = sae.decode(encoded_users, n_latents), sae.decode(encoded_items, n_latents)
        emb = emb + embedding_mse(user_emb, user_hat) + embedding_mse(item_emb, item_hat)
        pred = pred + compare(score, user_emb, item_emb, user_hat, item_hat)
    return {
        "emb": emb,
        "pred": pred,
        "l1": l1_sparsity(encoded_users.codes) + l1_sparsity(encoded_items.codes),
        "kl": kl_sparsity(encoded_users.codes, config.rho) + kl_sparsity(encoded_items.codes, config.rho),
    }
