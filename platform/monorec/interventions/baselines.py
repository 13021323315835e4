"""Steering without an SAE, on the same users and curves: what metadata and popularity counts can do.

Each baseline is a score-level re-ranking of the model's own (masked) scores, swept over its
parameter, so its effect-versus-collateral curve can be set beside the SAE's. They need what the
SAE does not: item metadata (which items carry the concept) or popularity counts.

    metadata filter     score - gamma * [item carries the concept]
    popularity penalty  score - gamma * log(1 + training interactions of the item)
    score offset        score + delta on the promoted item
"""

from __future__ import annotations

import torch

from monorec.interventions.effects import Lists
from monorec.results import Curve

FILTER_GAMMAS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 1e9)
PENALTY_GAMMAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
OFFSETS = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0)


def metadata_filter(lists: Lists, concept_items: torch.Tensor) -> Curve:
    penalty = concept_items.float()[None, :]
    points = [lists.measure(lists.before - gamma * penalty, gamma) for gamma in FILTER_GAMMAS]
    return Curve("baseline: metadata filter", "gamma", points)


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
