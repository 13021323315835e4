"""Calibration: the smallest strength that meets a target on the validation users (docs/method.md §5).

`Calibrator` knows the validation users (held out of SAE training), how to mask their seen
items, and the item metadata a target refers to (concepts, popularity). Given an intervention
with a `Target` instead of a strength, it finds the smallest strength in [0, `max_strength`]
whose mean effect over the target's population meets the bound: it scans doubling strengths
(1/8, 1/4, ... up to the largest) for the first that meets it, then bisects between it and the
one before; if none does, the target is unreachable. Between two grid points the effect is
assumed to grow with the strength (the dose-response curves show where it does). Results are
cached per (edit, target), so a service pays for a target once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from monorec.data.dataset import concept_matrix
from monorec.errors import ConflictError, InvalidRequestError, UnknownIdError
from monorec.evaluation.ranking import mask_training_items
from monorec.ids import quote
from monorec.interventions.directions import head_items
from monorec.interventions.effects import EffectFn, concept_share, item_reach, long_tail_share
from monorec.interventions.steering import Intervention, Steerer
from monorec.interventions.targets import Target

Mask = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (scores, users) -> scores with seen items at -inf
SEARCH_CEILING = {"suppress": 16.0, "boost": 32.0}  # the largest strength calibration tries, per operation
BISECTION_STEPS = 12


class UnreachableTargetError(ConflictError):
    """No strength up to the largest tried meets the target (the service answers 409)."""


@dataclasses.dataclass(frozen=True)
class Calibrated:
    strength: float | None  # None: unreachable
    effect: float  # on the population, at `strength` (or at the largest strength tried)
    users: int


@dataclasses.dataclass
class Calibrator:
    """Finds strengths for targets on the validation users of one (recommender, SAE) pair."""

    steerer: Steerer
    mask: Mask
    validation_users: torch.Tensor
    concept_matrix: np.ndarray  # (n_items, n_concepts) bool
    concept_names: list[str]
    popularity_percentile: np.ndarray
    dominant_concept: np.ndarray  # per validation user, index into concept_names (-1: none)
    cache: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def build(
        cls,
        steerer: Steerer,
        indptr: np.ndarray,
        train_items: np.ndarray,
        validation_users: np.ndarray,
        item_table: pd.DataFrame,
    ) -> Calibrator:
        """From the training CSR, the validation users and an item table (`concepts`, `popularity_percentile`)."""
        matrix, names = concept_matrix(item_table["concepts"])
        device = steerer.user_codes.codes.device
        indptr_t, items_t = torch.as_tensor(indptr, device=device), torch.as_tensor(train_items, device=device)

        def mask(scores: torch.Tensor, users: torch.Tensor) -> torch.Tensor:
            return mask_training_items(scores.float(), users, indptr_t, items_t)

        return cls(
            steerer=steerer,
            mask=mask,
            validation_users=torch.as_tensor(validation_users, device=device),
            concept_matrix=matrix,
            concept_names=names,
            popularity_percentile=item_table["popularity_percentile"].to_numpy(),
            dominant_concept=dominant_concepts(indptr, train_items, validation_users, matrix),
        )

    def calibrate(self, intervention: Intervention, users: torch.Tensor | None = None) -> Calibrated:
        """The smallest strength meeting `intervention.target` on `users` (default: the target's population)."""
        target = intervention.target
        if target is None:
            raise InvalidRequestError("calibration needs an intervention with a target")
        return self.calibrate_together([intervention], target, users)

    def calibrate_together(
        self, edits: list[Intervention], target: Target, users: torch.Tensor | None = None
    ) -> Calibrated:
        """The smallest strength that, applied to every edit at once, meets `target` on `users`."""
        key = _key(edits, target, users)
        if key not in self.cache:
            population = self.population(target) if users is None else users
            self.cache[key] = self._search(edits, target, population)
        return self.cache[key]

    def known(self, intervention: Intervention) -> bool:
        """Whether resolving it is free: it has no target, or its strength was found before."""
        target = intervention.target
        return target is None or _key([intervention], target, None) in self.cache

    def resolve(self, intervention: Intervention) -> tuple[Intervention, Calibrated | None]:
        """The intervention at its calibrated strength (409 if unreachable); unchanged without a target."""
        if intervention.target is None:
            return intervention, None
        found = self.calibrate(intervention)
        if found.strength is None:
            target = intervention.target
            raise UnreachableTargetError(
                f"target unreachable: at the largest {intervention.op} strength tried "
                f"({SEARCH_CEILING[intervention.op]:g}) the {target.measure} is {found.effect:.3f} over "
                f"{found.users} validation users (target {'<=' if target.lower_is_better else '>='} {target.bound:g})"
            )
        return intervention.at(found.strength), found

    def effect_fn(self, target: Target) -> EffectFn:
        """The per-user measure a target bounds."""
        device = self.validation_users.device
        if target.measure == "concept_share":
            column = self._concept(target.concept or "")
            return concept_share(torch.as_tensor(self.concept_matrix[:, column], device=device), target.k)
        if target.measure == "item_reach":
            return item_reach(self.steerer.items([target.item_id])[0], target.k)
        long_tail = torch.as_tensor(~head_items(self.popularity_percentile), device=device)
        return long_tail_share(long_tail, target.k)

    def population(self, target: Target) -> torch.Tensor:
        """The validation users a target is measured on (module docstring)."""
        users = self.validation_users
        if target.measure == "concept_share":
            before = self.mask(self.steerer.scores(users), users)
            return users[self.effect_fn(target)(before) > 0]
        if target.measure == "item_reach":
            item = self.steerer.items([target.item_id])[0]
            unseen = torch.isfinite(self.mask(self.steerer.scores(users), users)[:, item])
            if target.audience:
                wanted = [self._concept(name) for name in target.audience]
                unseen &= torch.as_tensor(np.isin(self.dominant_concept, wanted), device=users.device)
            return users[unseen]
        return users

    def _concept(self, name: str) -> int:
        if name not in self.concept_names:
            raise UnknownIdError(f"unknown concept {quote(name)} in the target")
        return self.concept_names.index(name)

    def _search(self, edits: list[Intervention], target: Target, users: torch.Tensor) -> Calibrated:
        if len(users) == 0:
            raise UnreachableTargetError(f"no validation user to measure the {target.measure} target on")
        effect = self.effect_fn(target)

        def mean_effect(strength: float) -> float:
            scores = self.steerer.scores(users, [edit.at(strength) for edit in edits])
            return effect(self.mask(scores, users)).mean().item()

        start = mean_effect(0.0)
        if target.met(start, len(users)):
            return Calibrated(0.0, start, len(users))
        grid = strength_grid(max(SEARCH_CEILING[edit.op] for edit in edits))
        low = 0.0
        for high in grid:  # the first grid strength that meets it, then bisect below it
            if target.met(mean_effect(high), len(users)):
                for _ in range(BISECTION_STEPS):
                    middle = (low + high) / 2
                    low, high = (low, middle) if target.met(mean_effect(middle), len(users)) else (middle, high)
                return Calibrated(high, mean_effect(high), len(users))
            low = high
        return Calibrated(None, mean_effect(grid[-1]), len(users))


def _key(edits: list[Intervention], target: Target, users: torch.Tensor | None) -> tuple:
    """The cache key of a calibration: the edits without their strength, the target, the population."""
    return tuple(edit.at(0.0) for edit in edits), target, None if users is None else tuple(users.tolist())


def strength_grid(largest: float) -> list[float]:
    """Doubling strengths from 1/8 up to `largest`: coarse steps to find where a target is first met.

    Scanning up from small strengths, rather than bisecting [0, largest] at once, finds the
    smallest strength even where an effect overshoots and turns back at large strengths.
    """
    grid, strength = [], 0.125
    while strength < largest:
        grid.append(strength)
        strength *= 2
    return [*grid, largest]


def dominant_concepts(indptr: np.ndarray, items: np.ndarray, users: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Each user's most frequent concept over their training items (-1 when none carries one)."""
    counts = np.stack([matrix[items[indptr[u] : indptr[u + 1]]].sum(0) for u in users]) if len(users) else matrix[:0]
    return np.where(counts.max(1) > 0, counts.argmax(1), -1)
