"""The HTTP contract of the core's types lives in serve/: plain dataclasses in, strict bodies over HTTP.

In milliseconds, without a service: the request and response models read `Intervention` and `Target`
(nested in an intervention too) as JSON Schema does, and a body read over HTTP is the very object
the Python API builds.
"""

import dataclasses
import math

import pytest
from pydantic import ValidationError

from monorec.interventions import Intervention, Target
from serve.schemas import CalibrationOut, RecommendIn, RecommendOut

TARGET = {"measure": "long_tail_share", "at_least": 0.3}
OUTPUT = {"strength": 0.5, "validation_effect": 0.3, "validation_users": 3, "user_effect": 0.2}
LIST = {"items": [], "calibration": [], "explanation": ""}


@pytest.mark.parametrize("cls", [Intervention, Target])
def test_the_core_types_carry_no_http_knowledge(cls):
    assert dataclasses.is_dataclass(cls) and cls.__mro__[1:] == (object,)
    assert not [name for name in vars(cls) if "pydantic" in name]


def test_a_body_over_http_is_the_object_the_python_api_builds():
    body = {"user_id": 1, "interventions": [{"neuron": 1, "target": {**TARGET, "k": 10.0}}]}
    (read,) = RecommendIn.model_validate(body).interventions
    assert read == Intervention(1, target=Target("long_tail_share", 10, at_least=0.3))
    assert type(read) is Intervention and type(read.target) is Target


@pytest.mark.parametrize(
    ("edit", "error"),
    [
        ({"neuron": 1, "strength": "1.5"}, "float_type"),
        ({"neuron": True}, "string_type"),  # not 1: a boolean is no integer in JSON
        ({"neuron": 1, "op": "scale", "strength": math.nan}, "finite_number"),
        ({"neuron": 1, "surprise": 1}, "unexpected_keyword_argument"),
        ({"neuron": 1, "target": {**TARGET, "k": "10"}}, "value_error"),  # the target nested in an edit too
        ({"neuron": 1, "target": {**TARGET, "at_least": math.inf}}, "finite_number"),
        ({"neuron": 1, "target": {**TARGET, "surprise": 1}}, "unexpected_keyword_argument"),
        ({"neuron": 1, "tower": "user", "item_ids": [3]}, "value_error"),  # `__post_init__`: the domain check
    ],
)
def test_bodies_the_document_forbids_are_refused_in_requests_and_responses(edit, error):
    with pytest.raises(ValidationError) as request:
        RecommendIn.model_validate({"user_id": 1, "interventions": [edit]})
    with pytest.raises(ValidationError) as response:
        RecommendOut.model_validate({**LIST, "interventions_applied": [edit]})
    assert error in {e["type"] for e in request.value.errors()} & {e["type"] for e in response.value.errors()}


@pytest.mark.parametrize(
    ("key", "value", "error"),
    [
        ("k", "10", "value_error"),
        ("at_least", math.nan, "finite_number"),
        ("surprise", 1, "unexpected_keyword_argument"),
    ],
)
def test_a_target_alone_is_as_strict(key, value, error):
    with pytest.raises(ValidationError) as response:
        CalibrationOut.model_validate({"target": {**TARGET, key: value}, **OUTPUT})
    assert [e["type"] for e in response.value.errors()] == [error]
    assert CalibrationOut.model_validate({"target": TARGET, **OUTPUT}).target == Target("long_tail_share", at_least=0.3)
