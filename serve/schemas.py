"""Request and response bodies of the HTTP API; anything outside them is a 422, never a 500."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from monorec.interventions import Intervention, Target

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


class CalibrationOut(BaseModel):
    """A calibrated intervention: the strength found for its target and the effect it had."""

    neuron: StrictInt | str | None = Field(
        None, description="the neuron or label edited (None for a concept direction)"
    )
    concept: str | None = Field(None, description="the concept direction edited (None for a neuron)")
    target: Target
    strength: float = Field(description="the smallest strength meeting the target on the validation users")
    validation_effect: float = Field(description="the target's measure on the validation users at that strength")
    validation_users: int
    user_effect: float = Field(description="the target's measure on this user's list")


class RecommendOut(BaseModel):
    items: list[ItemOut]
    interventions_applied: list[Intervention]
    calibration: list[CalibrationOut]
    explanation: str
