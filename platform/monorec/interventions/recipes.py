"""The three case studies of docs/method.md §5, each with its effect and its collateral change.

Every recipe compares each user's top-K list before and after one intervention (training items
are never recommended) and reports the collateral change as the RBO between the two lists
restricted to the items the intervention did not target: 1.0 means the rest of the list kept
its order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from monorec.data.split import Split
from monorec.evaluation.fidelity import rbo
from monorec.evaluation.ranking import mask_training_items
from monorec.interventions.steering import Intervention, Steerer
from monorec.results import FilteringResult, PopularityResult, PromotionResult

NEG_INF = float("-inf")


def masked_scores(
    steerer: Steerer, split: Split, users: torch.Tensor, interventions: Sequence[Intervention] = ()
) -> torch.Tensor:
    """Scores after `interventions`, with each user's training items at -inf so they are never recommended."""
    indptr, items = (torch.as_tensor(a, device=users.device) for a in split.train_csr())
    return mask_training_items(steerer.scores(users, interventions).float(), users, indptr, items)


def _share(scores: torch.Tensor, item_mask: torch.Tensor, k: int) -> float:
    return item_mask[scores.topk(k, dim=1).indices].float().mean().item()


def _collateral_rbo(before: torch.Tensor, after: torch.Tensor, untouched: torch.Tensor, k: int) -> float:
    lists = [s.masked_fill(~untouched, NEG_INF).topk(k, dim=1).indices for s in (before, after)]
    return rbo(*lists).mean().item()


def filtering(
    steerer: Steerer,
    split: Split,
    users: torch.Tensor,
    neuron: int | str,
    concept_items: torch.Tensor,
    concept: str,
    k: int = 10,
) -> FilteringResult:
    """Suppress a concept neuron in the users' codes: the concept's share of their top-K before/after."""
    before = masked_scores(steerer, split, users)
    after = masked_scores(steerer, split, users, [Intervention("user", neuron, "suppress")])
    return FilteringResult(
        concept=concept,
        neurons=steerer.neurons(neuron),
        users=len(users),
        k=k,
        share_before=_share(before, concept_items, k),
        share_after=_share(after, concept_items, k),
        collateral_rbo=_collateral_rbo(before, after, ~concept_items, k),
    )


def promotion(
    steerer: Steerer,
    split: Split,
    users: torch.Tensor,
    item: int,
    neuron: int | str,
    concept: str,
    item_name: str,
    audiences: list[str],
    value: float | None = None,
    k: int = 30,
) -> PromotionResult:
    """Raise one item's concept neuron(s) (to `value`, default twice the largest item activation).

    `item` is an item index. Users who trained on the item are left out (it is never
    recommended to them).
    """
    neurons = steerer.neurons(neuron)
    if value is None:
        value = 2 * steerer.item_codes.codes[:, neurons].max().item()
    before = masked_scores(steerer, split, users)
    keep = torch.isfinite(before[:, item])
    users, before = users[keep], before[keep]
    item_id = steerer.item_ids[item]
    after = masked_scores(steerer, split, users, [Intervention("item", neuron, "set", value, (item_id,))])
    rank_before = 1 + (before > before[:, item : item + 1]).sum(1)
    rank_after = 1 + (after > after[:, item : item + 1]).sum(1)
    untouched = torch.ones(before.shape[1], dtype=torch.bool, device=before.device)
    untouched[item] = False
    return PromotionResult(
        concept=concept,
        item=item_name,
        audiences=audiences,
        neurons=neurons,
        value=value,
        users=len(users),
        k=k,
        median_rank_before=float(rank_before.float().median()),
        median_rank_after=float(rank_after.float().median()),
        in_top_before=(rank_before <= k).float().mean().item(),
        in_top_after=(rank_after <= k).float().mean().item(),
        collateral_rbo=_collateral_rbo(before, after, untouched, k),
    )


def popularity_control(
    steerer: Steerer,
    split: Split,
    users: torch.Tensor,
    neuron: int | str,
    item_percentile: np.ndarray,
    k: int = 10,
    head_percentile: float = 20.0,
) -> PopularityResult:
    """Suppress the popularity neuron: long-tail share (items outside the `head_percentile`% most
    popular) and mean popularity percentile of the top-K, before/after."""
    percentile = torch.as_tensor(item_percentile, dtype=torch.float32, device=users.device)
    long_tail = percentile >= head_percentile
    before = masked_scores(steerer, split, users)
    after = masked_scores(steerer, split, users, [Intervention("user", neuron, "suppress")])
    return PopularityResult(
        neurons=steerer.neurons(neuron),
        users=len(users),
        k=k,
        long_tail_share_before=_share(before, long_tail, k),
        long_tail_share_after=_share(after, long_tail, k),
        mean_percentile_before=percentile[before.topk(k, dim=1).indices].mean().item(),
        mean_percentile_after=percentile[after.topk(k, dim=1).indices].mean().item(),
        collateral_rbo=_collateral_rbo(before, after, long_tail, k),
    )
