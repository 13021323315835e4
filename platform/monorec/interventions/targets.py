"""What a calibrated intervention must reach, measured on the validation users (docs/method.md §5).

concept_share    the concept's share of the top-k is at most `at_most`
                 (over the validation users whose top-k holds the concept at all)
item_reach       the item is in the top-k of at least `at_least` of the audience
                 (validation users whose most frequent concept is one of `audience`, or all)
long_tail_share  the long-tail share of the top-k is at least `at_least` (over every
                 validation user; long tail = items outside the 20% most popular)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import ClassVar, Literal

from monorec.errors import InvalidRequestError
from monorec.typed import StrictOverHttp

Measure = Literal["concept_share", "item_reach", "long_tail_share"]
MAX_K = 1000


@dataclasses.dataclass(frozen=True)
class Target(StrictOverHttp):
    __pydantic_config__: ClassVar[dict[str, object]] = {"extra": "forbid", "allow_inf_nan": False}

    measure: Measure
    k: int = 10
    at_most: float | None = None
    at_least: float | None = None
    concept: str | None = None
    item_id: int | str | None = None
    audience: tuple[str, ...] = ()

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: object, handler: Callable) -> dict:
        """The HTTP schema says what `__post_init__` checks: per measure, its one bound and what it names."""
        schema = handler(core_schema)
        fields = handler.resolve_ref_schema(schema)
        fields["properties"]["k"] |= {"minimum": 1, "maximum": MAX_K}
        share = {"type": "number", "minimum": 0, "maximum": 1}
        fields["oneOf"] = [
            _measure("concept_share", at_most=share, concept={"type": "string", "minLength": 1}),
            _measure("item_reach", at_least=share, item_id={"type": ["integer", "string"]}),
            _measure("long_tail_share", at_least=share),
        ]
        return schema

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

    def met(self, value: float) -> bool:
        return value <= self.bound if self.lower_is_better else value >= self.bound


def _measure(name: str, **needed: dict) -> dict:
    """One measure's shape: the fields it needs (non-null), the other bound absent or null."""
    other = "at_least" if "at_most" in needed else "at_most"
    properties = {"measure": {"const": name}, other: {"type": "null"}, **needed}
    return {"properties": properties, "required": ["measure", *needed]}
