"""Request and response bodies of the HTTP API; anything outside them is a 422, never a 500."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

MAX_INTERVENTIONS = 16
MAX_ITEM_IDS = 100
Id = StrictInt | str


class InterventionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: Literal["user", "item"]
    neuron: StrictInt | str = Field(description="neuron id or label, e.g. 3 or 'Horror'")
    op: Literal["suppress", "set", "scale", "add"]
    value: float = Field(0.0, ge=-1e6, le=1e6, allow_inf_nan=False)
    item_ids: list[Id] = Field(default_factory=list, max_length=MAX_ITEM_IDS)


class RecommendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Id
    k: int = Field(10, ge=1, le=1000)
    exclude_seen: bool = True
    interventions: list[InterventionIn] = Field(default_factory=list, max_length=MAX_INTERVENTIONS)


class ExplainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Id
    item_id: Id
    top: int = Field(5, ge=1, le=100)


class ItemOut(BaseModel):
    item_id: Id
    name: str
    score: float
    rank: int


class RecommendOut(BaseModel):
    items: list[ItemOut]
    interventions_applied: list[InterventionIn]
    explanation: str
