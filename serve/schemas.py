"""Request and response bodies of the HTTP API; anything outside them is a 422, never a 500."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from monorec.serving import MAX_HISTORY
from serve.contract import HttpIntervention, HttpTarget, Strict

MAX_INTERVENTIONS = 16
Id = int | str  # an integer (10.0 counts, as in JSON Schema) or a string, never coerced
HISTORY = (
    "the items of a user the model never saw (dataset item ids, oldest first): their embedding is folded in "
    "against the frozen model, and these items leave the list. Order matters for a sequential model "
    "(SASRec), which reads the list as it is, repeats included; other kinds fit the set of its items "
    "(repeats count once). Give this or user_id, not both."
)


class WhoIn(Strict, BaseModel):
    """A known user (`user_id`) or one given by their history (`history`): exactly one.

    No coercion (`"k": "10"`, `"exclude_seen": 0` break the schema, so they are 422): `Strict`.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {
                    "required": ["user_id"],
                    "properties": {"user_id": {"not": {"type": "null"}}, "history": {"type": "null"}},
                },
                {"required": ["history"], "properties": {"history": {"type": "array"}, "user_id": {"type": "null"}}},
            ]
        },
    )

    user_id: Id | None = Field(None, description="a user of the training data. Give this or history, not both.")
    history: list[Id] | None = Field(None, min_length=1, max_length=MAX_HISTORY, description=HISTORY)

    @model_validator(mode="after")
    def exactly_one_user(self) -> WhoIn:
        if (self.user_id is None) == (self.history is None):
            raise ValueError("give exactly one of user_id and history")
        return self


class RecommendIn(WhoIn):
    k: int = Field(10, ge=1, le=1000)
    exclude_seen: bool = True
    interventions: list[HttpIntervention] = Field(default_factory=list, max_length=MAX_INTERVENTIONS)


class ExplainIn(WhoIn):
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
    target: HttpTarget
    strength: float = Field(description="the smallest strength meeting the target on the validation users")
    validation_effect: float = Field(description="the target's measure on the validation users at that strength")
    validation_users: int
    user_effect: float = Field(description="the target's measure on this user's list")


class RecommendOut(BaseModel):
    items: list[ItemOut]
    interventions_applied: list[HttpIntervention]
    calibration: list[CalibrationOut]
    explanation: str


class NeuronOut(BaseModel):
    neuron: int
    label: str | None
    confidence: float
    frequency: float
    top_items: list[str]


class ContributionOut(BaseModel):
    neuron: int
    label: str | None
    confidence: float
    contribution: float = Field(description="the logit's drop when the neuron is removed from both codes")


class ExplainOut(BaseModel):
    user_id: Id | None
    item_id: Id
    neurons: list[ContributionOut]


class ActivationOut(BaseModel):
    neuron: int
    label: str | None
    confidence: float
    activation: float


class ProfileOut(BaseModel):
    user_id: str
    neurons: list[ActivationOut]


class HealthOut(BaseModel):
    status: str
    model: str
    version: str
    bundle_digest: str
    dataset: str
    neurons: int


class ErrorOut(BaseModel):
    """Every error but a malformed body: what went wrong, in one line."""

    error: str


class ProblemOut(BaseModel):
    loc: list[str]
    msg: str


class ValidationErrorOut(BaseModel):
    """422: the body breaks the schema; where (at most 8 places) and how, without echoing it."""

    error: str
    detail: list[ProblemOut]


ERRORS = {
    400: ("the body is not UTF-8 JSON", ErrorOut),
    401: ("missing or wrong bearer token", ErrorOut),
    404: ("an unknown user, item (every unknown history item, up to 10), neuron, label or concept", ErrorOut),
    409: (
        "valid, but this model cannot do it: a target no strength reaches, or scores pushed out of the finite range",
        ErrorOut,
    ),
    413: ("a body over 64 KiB", ErrorOut),
    422: ("the body breaks the schema", ValidationErrorOut),
}


def responses(*codes: int) -> dict:
    """OpenAPI `responses` for these error codes, each with its body schema."""
    return {code: {"description": ERRORS[code][0], "model": ERRORS[code][1]} for code in codes}
