"""The HTTP contract of the core's request types: their JSON Schema and how strictly bodies are read.

`Intervention` and `Target` are plain dataclasses that check themselves in `__post_init__` (the
Python API validates too). Over HTTP they are `HttpIntervention` and `HttpTarget`: the same classes,
validated without coercion, and with a JSON Schema that states what `__post_init__` checks, so a
client generated from the OpenAPI document sends only valid edits and every body the document calls
invalid is a 422.

Strictness is what JSON Schema means by a type: pydantic coerces by default (`0` to false, `"1.5"`
to 1.5, `"10"` to 10) and reads NaN and infinities, which would accept bodies the document calls
invalid. Numbers, booleans and strings take only their own JSON type (an integer still takes 10.0,
which JSON Schema counts as an integer), numbers are finite, and a dataclass takes no unknown key.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, GetPydanticSchema
from pydantic_core import CoreSchema

from monorec.interventions import Intervention, Target
from monorec.interventions.steering import CALIBRATED_OPS, MAX_ITEMS, STRENGTH_LIMIT
from monorec.interventions.targets import MAX_K

STRICT_SCALARS = frozenset({"float", "bool", "str"})


def strictly(source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
    """The core schema of `source` read as JSON Schema reads it (module docstring), with every type it names.

    The types it names are changed in place, through their definitions (`handler` resolves them):
    pydantic refers to a type by reference, and every place that reads it must read it the same
    way. Applying it twice changes nothing. Lists and tuples stay as they are (JSON has only arrays).
    """
    schema = handler(source)
    _tighten(schema, handler, set())
    return schema


class Strict:
    """Mixin for a request model: its fields, and the types they name, are read `strictly`."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: type, handler: GetCoreSchemaHandler) -> CoreSchema:
        return strictly(source, handler)


def _tighten(node: Any, handler: GetCoreSchemaHandler, seen: set[int]) -> None:
    if isinstance(node, list):
        for value in node:
            _tighten(value, handler, seen)
        return
    if not isinstance(node, dict) or id(node) in seen:
        return
    seen.add(id(node))
    kind = node.get("type")
    if kind == "definition-ref":
        _tighten(handler.resolve_ref_schema(node), handler, seen)
        return
    if kind in STRICT_SCALARS:
        node["strict"] = True
    if kind == "float":
        node["allow_inf_nan"] = False
    elif kind == "dataclass-args":
        node["extra_behavior"] = "forbid"
    elif kind == "int":  # strict would refuse 10.0 too: refuse only text and booleans, before the int check
        inner = dict(node)
        node.clear()
        node.update({"type": "function-before", "function": {"type": "no-info", "function": _no_text}, "schema": inner})
        return
    elif kind == "function-before" and node["function"].get("function") is _no_text:
        return  # an int tightened already
    for value in node.values():
        _tighten(value, handler, seen)


def _no_text(value: Any) -> Any:
    if isinstance(value, (bool, str, bytes)):
        raise ValueError("Input should be a valid integer")  # pydantic reports it as a validation error
    return value


def _target_fields(fields: dict) -> None:
    """A target's schema says what `Target.__post_init__` checks: per measure, its one bound and what it names."""
    fields["additionalProperties"] = False
    fields["properties"]["k"] |= {"minimum": 1, "maximum": MAX_K}
    share = {"type": "number", "minimum": 0, "maximum": 1}
    fields["oneOf"] = [
        _measure("concept_share", at_most=share, concept={"type": "string", "minLength": 1}),
        _measure("item_reach", at_least=share, item_id={"type": ["integer", "string"]}),
        _measure("long_tail_share", at_least=share),
    ]


def _measure(name: str, **needed: dict) -> dict:
    """One measure's shape: the fields it needs (non-null), the other bound absent or null."""
    other = "at_least" if "at_most" in needed else "at_most"
    properties = {"measure": {"const": name}, other: {"type": "null"}, **needed}
    return {"properties": properties, "required": ["measure", *needed]}


def _intervention_fields(fields: dict, handler: GetJsonSchemaHandler) -> None:
    """An intervention's schema says what `Intervention.__post_init__` checks, and its target's schema its own."""
    fields["additionalProperties"] = False
    fields["properties"]["strength"] = {
        "anyOf": [{"type": "number", "minimum": -STRENGTH_LIMIT, "maximum": STRENGTH_LIMIT}, {"type": "null"}],
        "default": None,
    }
    fields["properties"]["item_ids"] |= {"maxItems": MAX_ITEMS}
    target, _ = fields["properties"]["target"]["anyOf"]  # a reference to Target's schema, or null
    _target_fields(handler.resolve_ref_schema(target))
    given, absent = {"not": {"type": "null"}}, {"type": "null"}
    calibrated = {"enum": list(CALIBRATED_OPS)}
    fields["allOf"] = [
        {
            "oneOf": [  # a neuron (id or label) or a concept direction
                {"required": ["neuron"], "properties": {"neuron": given, "concept": absent}},
                {"required": ["concept"], "properties": {"concept": {"type": "string"}, "neuron": absent}},
            ]
        },
        {"not": {"required": ["strength", "target"], "properties": {"strength": given, "target": given}}},
        _unless("target", {"properties": {"op": calibrated}}),  # a target calibrates suppress or boost
        _unless("strength", {"not": {"required": ["op"], "properties": {"op": {"const": "set"}}}}, given=False),
        _unless(  # suppress and boost take a strength >= 0
            "strength", {"required": ["op"], "properties": {"op": {"enum": ["scale", "set"]}}}, minimum=0
        ),
        {  # item_ids name items of the item tower
            "anyOf": [
                {"properties": {"item_ids": {"maxItems": 0}}},
                {"required": ["tower"], "properties": {"tower": {"enum": ["item", "both"]}}},
            ]
        },
    ]


def _unless(field: str, otherwise: dict, given: bool = True, minimum: float | None = None) -> dict:
    """JSON Schema: `field` absent or null (or, with `minimum`, at least it), else `otherwise` holds.

    `given=False` turns it around: `field` present and non-null, else `otherwise` holds.
    """
    if not given:
        return {"anyOf": [{"required": [field], "properties": {field: {"type": "number"}}}, otherwise]}
    allowed = {"anyOf": [{"type": "null"}, {"minimum": minimum}]} if minimum is not None else {"type": "null"}
    return {"anyOf": [{"not": {"required": [field]}}, {"properties": {field: allowed}}, otherwise]}


def _target_schema(core: CoreSchema, handler: GetJsonSchemaHandler) -> dict:
    schema = handler(core)
    _target_fields(handler.resolve_ref_schema(schema))
    return schema


def _intervention_schema(core: CoreSchema, handler: GetJsonSchemaHandler) -> dict:
    schema = handler(core)
    _intervention_fields(handler.resolve_ref_schema(schema), handler)
    return schema


HttpTarget = Annotated[Target, GetPydanticSchema(strictly, _target_schema)]
HttpIntervention = Annotated[Intervention, GetPydanticSchema(strictly, _intervention_schema)]
