"""Request and response bodies of the HTTP API; anything outside them is a 422, never a 500."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from monorec.interventions import Intervention

MAX_INTERVENTIONS = 16
Id = StrictInt | str


class RecommendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Id
    k: int = Field(10, ge=1, le=1000)
    exclude_seen: bool = True
    interventions: list[Intervention] = Field(default_factory=list, max_length=MAX_INTERVENTIONS)


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
    interventions_applied: list[Intervention]
    explanation: str
