"""What a calibrated intervention must reach, measured on the validation users (docs/method.md §5).

concept_share    the concept's share of the top-k is at most `at_most`
                 (over the validation users whose top-k holds the concept at all)
item_reach       the item is in the top-k of at least `at_least` of the audience
                 (validation users whose most frequent concept is one of `audience`, or all)
long_tail_share  the long-tail share of the top-k is at least `at_least` (over every
                 validation user; long tail = items outside the 20% most popular)

Each measure is a count over list slots (a share of `users x k` slots, a reach of `users` lists),
so a target is met by counts: round(measure x slots) against bound x slots, the bound read as
the decimal it was written as. A float32 mean never decides it: 50 of 500 slots meet "at most
0.1" although their float32 mean, 0.10000000149, exceeds 0.1.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from typing import Literal

from monorec.errors import InvalidRequestError

Measure = Literal["concept_share", "item_reach", "long_tail_share"]
MAX_K = 1000
PER_LIST = ("item_reach",)  # measures of one count per user's list; the others count each of its k slots


def slots(measure: str, users: int, k: int) -> int:
    """How many slots a mean of `measure` over `users` lists of `k` items averages."""
    return users if measure in PER_LIST else users * k


def within(value: float, bound: float, lower_is_better: bool, slots: int) -> bool:
    """Whether a mean measure over `slots` meets its bound, compared as counts (module docstring)."""
    count, limit = round(value * slots), Fraction(repr(bound)) * slots
    return count <= limit if lower_is_better else count >= limit


@dataclasses.dataclass(frozen=True)
class Target:
    measure: Measure
    k: int = 10
    at_most: float | None = None
    at_least: float | None = None
    concept: str | None = None
    item_id: int | str | None = None
    audience: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.k <= MAX_K:
            raise InvalidRequestError(f"target k must be in 1..{MAX_K}, got {self.k}")
        bounds = [b for b in (self.at_most, self.at_least) if b is not None]
        if len(bounds) != 1:
            raise InvalidRequestError("a target needs exactly one of at_most and at_least")
        if not 0 <= bounds[0] <= 1:
            raise InvalidRequestError(f"a target's bound is a share in [0, 1], got {bounds[0]}")
        direction = "at_most" if self.measure == "concept_share" else "at_least"
        if getattr(self, direction) is None:
            raise InvalidRequestError(f"a {self.measure} target takes {direction}, not the other bound")
        if self.measure == "concept_share" and not self.concept:
            raise InvalidRequestError("a concept_share target names its concept")
        if self.measure == "item_reach" and self.item_id is None:
            raise InvalidRequestError("an item_reach target names its item_id")

    @property
    def bound(self) -> float:
        return self.at_most if self.at_most is not None else float(self.at_least or 0.0)

    @property
    def lower_is_better(self) -> bool:
        return self.at_most is not None

    def met(self, value: float, users: int) -> bool:
        """Whether the measure's mean `value` over `users` validation users meets the target (counts)."""
        return within(value, self.bound, self.lower_is_better, slots(self.measure, users, self.k))
