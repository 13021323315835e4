"""Every way to steer one model's lists, the SAE's edits and the SAE-free methods, behind one calling shape.

A control is built once for a model (and what it needs: item counts, tags, a probe); given users
and a strength it returns their masked scores after it (training items stay at -inf), or, for a
re-ranker, their lists. So a study sweeps, calibrates and measures every method the same way,
and a service can apply any of them to a request.

    Edit                the SAE's edits, or the linear probe's direction (`directions.ProbeDictionary`):
                        codes edited at the strength, decoded, scored by the frozen model
    popularity penalty  score - gamma * log(1 + training interactions of the item)
    metadata filter     score - gamma * [item carries the concept] (its tags as known, or also the
                        items a linear probe infers to carry it)
    score offset        score + delta on one item
    SmoothXQuAD         the personalised re-ranking of Abdollahpouri, Burke & Mobasher, "Managing
                        popularity bias in recommender systems with personalized re-ranking"
                        (FLAIRS-32, 2019): greedily, each of the top-k positions takes the item of
                        the user's top-`depth` maximising
                            (1 - lambda) r(i) + lambda * sum_g P(g|u) [i in g] (1 - |S ∩ g| / |S|)
                        over the groups g = head, long tail; r = scores min-max scaled over the unseen
                        candidates, P(g|u) = the group's share of the user's training items, S = the
                        items already placed (the coverage term is 1 while S is empty)

The score-level controls start from a `Scorer`, the users' unedited masked scores: in a study,
the very rows its other methods are measured against.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np
import torch

from monorec.interventions.steering import Intervention, Steerer

Scorer = Callable[[torch.Tensor], torch.Tensor]  # users -> their masked scores (training items at -inf)
Mask = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (scores, users) -> scores with seen items at -inf
XQUAD_DEPTH = 100  # smooth xQuAD re-ranks each user's top-100 candidates


class Control(ABC):
    """Given users and a strength, their masked scores after the control (the model's own at strength 0)."""

    parameter: ClassVar[str]  # what the strength is called on a dose-response curve

    @abstractmethod
    def scores(self, users: torch.Tensor, strength: float) -> torch.Tensor: ...


class Edit(Control):
    """Edits of a dictionary's codes (an SAE's, or a probe's one direction) that share one strength."""

    parameter = "strength"

    def __init__(self, steerer: Steerer, mask: Mask, edits: Sequence[Intervention]) -> None:
        self.steerer, self.mask, self.edits = steerer, mask, list(edits)

    def scores(self, users: torch.Tensor, strength: float) -> torch.Tensor:
        return self.mask(self.steerer.scores(users, [edit.at(strength) for edit in self.edits]), users)


class ItemShift(Control):
    """score + strength * shift[item], the same shift for every user: a penalty, a filter or an offset."""

    def __init__(self, base: Scorer, shift: torch.Tensor, parameter: str) -> None:
        self.base, self.shift, self.parameter = base, shift, parameter

    def scores(self, users: torch.Tensor, strength: float) -> torch.Tensor:
        base = self.base(users)
        return base + strength * self.shift.to(base.device)[None, :]


def popularity_penalty(base: Scorer, item_counts: torch.Tensor) -> ItemShift:
    """score - gamma * log(1 + training interactions of the item)."""
    return ItemShift(base, -torch.log1p(item_counts.float()), "gamma")


def metadata_filter(base: Scorer, tagged: torch.Tensor) -> ItemShift:
    """score - gamma * [item tagged]: at a large gamma, the tagged items leave every list."""
    return ItemShift(base, -tagged.float(), "gamma")


def score_offset(base: Scorer, item: int, n_items: int) -> ItemShift:
    """score + delta on one item, for every user alike."""
    shift = torch.zeros(n_items)
    shift[item] = 1.0
    return ItemShift(base, shift, "offset")


class Reranker(Control):
    """A control that re-orders each user's top candidates: its output is a list, placed above every other item."""

    def __init__(self, base: Scorer, k: int) -> None:
        self.base, self.k = base, k

    @abstractmethod
    def lists(self, users: torch.Tensor, strength: float) -> torch.Tensor:
        """(len(users), k) item indices, best first."""

    def scores(self, users: torch.Tensor, strength: float) -> torch.Tensor:
        """The base scores with the re-ranked top-k placed above every other item (whose order is kept)."""
        base, top = self.base(users), self.lists(users, strength)
        reranked = base.clone()
        highest = base.max() if torch.isfinite(base.max()) else torch.tensor(0.0)
        ladder = highest + torch.arange(self.k, 0, -1, device=base.device, dtype=base.dtype)
        reranked.scatter_(1, top, ladder.expand(len(base), self.k))
        return reranked


class SmoothXQuAD(Reranker):
    """Smooth xQuAD over head and long tail (module docstring); the strength is lambda."""

    parameter = "lambda"

    def __init__(
        self,
        base: Scorer,
        long_tail: torch.Tensor,
        indptr: np.ndarray,
        train_items: np.ndarray,
        k: int,
        depth: int = XQUAD_DEPTH,
    ) -> None:
        super().__init__(base, k)
        self.long_tail, self.indptr, self.train_items, self.depth = long_tail, indptr, train_items, depth
        self._tail = long_tail.cpu().numpy()

    def tail_affinity(self, users: torch.Tensor) -> torch.Tensor:
        """P(long tail | u): the long-tail share of each user's training items."""
        rows = [self.train_items[self.indptr[u] : self.indptr[u + 1]] for u in users.cpu().numpy()]
        return torch.as_tensor(np.array([self._tail[items].mean() for items in rows]), device=users.device)

    def lists(self, users: torch.Tensor, strength: float) -> torch.Tensor:
        scores, lam = self.base(users), strength
        pool = scores.topk(min(self.depth, scores.shape[1]), dim=1)
        free = torch.isfinite(pool.values)  # seen items (masked to -inf) are never placed
        high = pool.values.max(1, keepdim=True).values
        low = pool.values.masked_fill(~free, float("inf")).min(1, keepdim=True).values  # over the finite ones
        relevance = ((pool.values - low) / (high - low).clamp(min=1e-12)).masked_fill(~free, 0.0)
        in_tail = self.long_tail[pool.indices].float()  # (B, depth)
        tail = self.tail_affinity(users)
        affinity = torch.stack([1 - tail, tail], 1).float()  # (B, 2): head, tail
        placed = torch.zeros(len(scores), 2, device=scores.device)  # items placed per group
        chosen = []
        for position in range(self.k):
            coverage = 1 - placed / position if position else torch.ones_like(placed)
            gain = (affinity * coverage)[:, 0:1] * (1 - in_tail) + (affinity * coverage)[:, 1:2] * in_tail
            value = ((1 - lam) * relevance + lam * gain).masked_fill(~free, float("-inf"))
            pick = value.argmax(1)
            chosen.append(pool.indices.gather(1, pick[:, None]))
            free.scatter_(1, pick[:, None], False)
            picked_tail = in_tail.gather(1, pick[:, None]).squeeze(1)
            placed += torch.stack([1 - picked_tail, picked_tail], 1)
        return torch.cat(chosen, 1)
