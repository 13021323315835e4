"""Steering without an SAE, on the same users and curves: what metadata and popularity counts can do.

Each baseline is a score-level re-ranking of the model's own (masked) scores, swept over its
parameter, so its effect-versus-collateral curve can be set beside the SAE's. They need what the
SAE does not: item metadata (which items carry the concept) or popularity counts.

    metadata filter     score - gamma * [item carries the concept] (its tags as known, or also the
                        items a linear probe infers to carry it)
    popularity penalty  score - gamma * log(1 + training interactions of the item)
    smooth xQuAD        the personalised re-ranking of Abdollahpouri, Burke & Mobasher, "Managing
                        popularity bias in recommender systems with personalized re-ranking"
                        (FLAIRS-32, 2019): greedily, each of the top-k positions takes the item of
                        the user's top-`XQUAD_POOL` maximising
                            (1 - lambda) r(i) + lambda * sum_g P(g|u) [i in g] (1 - |S ∩ g| / |S|)
                        over the groups g = head, long tail; r = scores min-max scaled over the
                        pool, P(g|u) = the group's share of the user's training items, S = the
                        items already placed (the coverage term is 1 while S is empty)
    score offset        score + delta on the promoted item
"""

from __future__ import annotations

import torch

from monorec.interventions.effects import Lists
from monorec.results import Curve

FILTER_GAMMAS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 1e9)
FULL_REMOVAL = FILTER_GAMMAS[-1]
XQUAD_LAMBDAS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
XQUAD_POOL = 100
PENALTY_GAMMAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
OFFSETS = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0)


def metadata_filter(lists: Lists, concept_items: torch.Tensor, tags: str = "") -> Curve:
    """`tags` says which tags the filter knows, when not all of them ("visible tags")."""
    penalty = concept_items.float()[None, :]
    points = [lists.measure(lists.before - gamma * penalty, gamma) for gamma in FILTER_GAMMAS]
    return Curve(f"baseline: metadata filter{f' ({tags})' if tags else ''}", "gamma", points)


def popularity_penalty(lists: Lists, item_counts: torch.Tensor) -> Curve:
    penalty = torch.log1p(item_counts.float())[None, :]
    points = [lists.measure(lists.before - gamma * penalty, gamma) for gamma in PENALTY_GAMMAS]
    return Curve("baseline: popularity penalty", "gamma", points)


def score_offset(lists: Lists, item: int) -> Curve:
    points = []
    for delta in OFFSETS:
        after = lists.before.clone()
        after[:, item] += delta
        points.append(lists.measure(after, delta))
    return Curve("baseline: score offset", "offset", points)


def xquad(lists: Lists, long_tail: torch.Tensor, tail_affinity: torch.Tensor) -> Curve:
    """Smooth xQuAD (module docstring) over `XQUAD_LAMBDAS`; `tail_affinity` is P(long tail | u) per user."""
    points = [
        lists.measure(xquad_scores(lists.before, long_tail, tail_affinity, lam, lists.k), lam) for lam in XQUAD_LAMBDAS
    ]
    return Curve("baseline: smooth xQuAD", "lambda", points)


def xquad_scores(
    scores: torch.Tensor, long_tail: torch.Tensor, tail_affinity: torch.Tensor, lam: float, k: int
) -> torch.Tensor:
    """The scores with the re-ranked top-k placed above every other item (whose order is kept)."""
    pool = scores.topk(min(XQUAD_POOL, scores.shape[1]), dim=1)
    low, high = pool.values.min(1, keepdim=True).values, pool.values.max(1, keepdim=True).values
    finite_low = torch.where(torch.isfinite(low), low, high)
    relevance = torch.nan_to_num((pool.values - finite_low) / (high - finite_low).clamp(min=1e-12), nan=0.0, neginf=0.0)
    in_tail = long_tail[pool.indices].float()  # (B, pool)
    affinity = torch.stack([1 - tail_affinity, tail_affinity], 1).float()  # (B, 2): head, tail
    placed = torch.zeros(len(scores), 2, device=scores.device)  # items placed per group
    free = torch.isfinite(pool.values)  # seen items (masked to -inf) are never placed
    chosen = []
    for position in range(k):
        coverage = 1 - placed / position if position else torch.ones_like(placed)
        group_gain = (affinity * coverage)[:, 0:1] * (1 - in_tail) + (affinity * coverage)[:, 1:2] * in_tail
        value = ((1 - lam) * relevance + lam * group_gain).masked_fill(~free, float("-inf"))
        pick = value.argmax(1)
        chosen.append(pool.indices.gather(1, pick[:, None]))
        free.scatter_(1, pick[:, None], False)
        tail = in_tail.gather(1, pick[:, None]).squeeze(1)
        placed += torch.stack([1 - tail, tail], 1)
    reranked = scores.clone()
    top = scores.max() if torch.isfinite(scores.max()) else torch.tensor(0.0)
    ladder = top + torch.arange(k, 0, -1, device=scores.device, dtype=scores.dtype)  # above every score, in order
    reranked.scatter_(1, torch.cat(chosen, 1), ladder.expand(len(scores), k))
    return reranked
