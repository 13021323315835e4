"""What an intervention does to a set of users' lists: its effect, its collateral, its cost in quality.

Every steering number goes through `Lists.measure`: given the users' masked scores before
(the model's own) and after an intervention, it returns one `Steered` point, so the SAE's
curves, the baselines' curves and the calibrated result are measured the same way:

    effect          the study's measure over the users (concept share, item reach, long-tail share)
    collateral_rbo  RBO between each top-k before and after over the items the study does not target
                    (1 = the rest of the list kept its order)
    ndcg            NDCG@10 of the users' held-out positives after the intervention

`at_effect` reads a curve at a given effect, so that two methods compare at equal effect.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from collections.abc import Callable, Sequence

import numpy as np
import torch

from monorec.data.split import Split
from monorec.evaluation.fidelity import rbo
from monorec.evaluation.ranking import expected_ranks, metrics_from_ranks
from monorec.interventions.controls import Control
from monorec.results import Curve, Steered

NEG_INF = float("-inf")
EffectFn = Callable[[torch.Tensor], torch.Tensor]  # masked scores (B, n_items) -> per-user effect (B,)


def concept_share(concept_items: torch.Tensor, k: int) -> EffectFn:
    """Share of each user's top-k carrying the concept."""
    return lambda scores: concept_items[scores.topk(k, dim=1).indices].float().mean(1)


def item_reach(item: int, k: int) -> EffectFn:
    """1 where the item is in the user's top-k (its rank: 1 + items scored strictly higher)."""
    return lambda scores: ((scores > scores[:, item : item + 1]).sum(1) < k).float()


def long_tail_share(long_tail: torch.Tensor, k: int) -> EffectFn:
    """Share of each user's top-k outside the most popular items."""
    return concept_share(long_tail, k)


@dataclasses.dataclass(frozen=True)
class Lists:
    """One study's users, their unedited masked scores, and what the study measures on them."""

    users: torch.Tensor
    before: torch.Tensor  # (B, n_items), training items at -inf
    effect: EffectFn
    untouched: torch.Tensor  # (n_items,) items whose order is the collateral
    k: int
    split: Split
    ndcg_k: int = 10

    def measure(self, after: torch.Tensor, strength: float) -> Steered:
        return Steered(
            strength=strength,
            effect=self.effect(after).mean().item(),
            collateral_rbo=rbo(self.before_top, self.untouched_top(after)).mean().item(),
            ndcg=heldout_ndcg(after, self.split, self.users, self.ndcg_k),
        )

    def untouched_top(self, scores: torch.Tensor) -> torch.Tensor:
        """(B, k) each user's top-k of the untouched items."""
        return scores.masked_fill(~self.untouched, NEG_INF).topk(self.k, dim=1).indices

    @functools.cached_property
    def before_top(self) -> torch.Tensor:
        """The unedited lists' `untouched_top`: once per study, not once per strength measured."""
        return self.untouched_top(self.before)

    def subset(self, rows: torch.Tensor) -> Lists:
        return dataclasses.replace(self, users=self.users[rows], before=self.before[rows])

    def unedited(self, users: torch.Tensor) -> torch.Tensor:
        """The unedited scores of these lists' users (a control's base): the very rows every method is measured
        against, not scores recomputed for another batch, whose float rounding could differ."""
        if users is self.users or torch.equal(users, self.users):
            return self.before
        row = {int(user): index for index, user in enumerate(self.users.tolist())}
        return self.before[torch.as_tensor([row[int(user)] for user in users.tolist()], device=self.before.device)]

    def trace(self, control: Control, grid: Sequence[float]) -> list[Steered]:
        """The control's dose-response on these users: one measured point per strength of `grid`."""
        return [self.measure(control.scores(self.users, strength), strength) for strength in grid]


def heldout_ndcg(masked_scores: torch.Tensor, split: Split, users: torch.Tensor, k: int = 10) -> float:
    """Mean NDCG@k of the users' held-out positives under these scores (training items already masked)."""
    rows = np.searchsorted(split.test_users, users.cpu().numpy())
    targets = torch.as_tensor(split.test_items[rows], device=masked_scores.device)
    ranks = expected_ranks(masked_scores, masked_scores.gather(1, targets))
    n_candidates = torch.isfinite(masked_scores).sum(1).float()
    return metrics_from_ranks(ranks, n_candidates, k)["ndcg"].mean().item()


def at_effect(curve: Curve, effect: float) -> Steered | None:
    """The curve's first point at `effect`, interpolated between the two points that bracket it (None: never)."""
    for first, second in itertools.pairwise(curve.points):
        low, high = sorted((first.effect, second.effect))
        if low <= effect <= high:
            w = 0.0 if high == low else (effect - first.effect) / (second.effect - first.effect)
            outside = None
            if first.outside is not None and second.outside is not None:
                outside = first.outside + w * (second.outside - first.outside)
            return Steered(
                strength=first.strength + w * (second.strength - first.strength),
                effect=effect,
                collateral_rbo=first.collateral_rbo + w * (second.collateral_rbo - first.collateral_rbo),
                ndcg=first.ndcg + w * (second.ndcg - first.ndcg),
                outside=outside,
            )
    return None
