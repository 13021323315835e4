"""Dataclasses to and from plain JSON-like values, checked against their type hints.

Configs (YAML) and run results (`metrics.json`) are both typed dataclasses on the Python side
and nested dicts on disk. One converter serves both, so a typo in a config and a stale field
in a results file fail the same way: with the dotted key that is wrong and what was expected.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Literal, TypeVar, Union

from monorec.errors import ConfigError, MonorecError

T = TypeVar("T")


def from_dict(
    cls: type[T], values: Any, key: str = "", error: type[MonorecError] = ConfigError, noun: str = "config key"
) -> T:
    """Build dataclass `cls` from nested dicts, naming the dotted key of any unknown or bad value.

    `error` and `noun` say what is being read: a config (ConfigError, "config key") or a
    results file (DataError, "metrics key").
    """
    return _Converter(error, noun).dataclass(cls, values, key)


def to_dict(value: Any) -> dict:
    """A dataclass as nested plain dicts and lists (the JSON form `from_dict` reads back)."""
    return dataclasses.asdict(value)


class _Converter:
    def __init__(self, error: type[MonorecError], noun: str) -> None:
        self.error, self.noun = error, noun

    def dataclass(self, cls: type[T], values: Any, key: str) -> T:
        if not isinstance(values, dict):
            raise self.error(f"{key or cls.__name__}: expected a mapping, got {type(values).__name__}")
        hints = typing.get_type_hints(cls)
        fields = {f.name for f in dataclasses.fields(cls) if f.init}
        kwargs = {}
        for name, value in values.items():
            dotted = f"{key}.{name}" if key else str(name)
            if name not in fields:
                close = difflib.get_close_matches(str(name), fields, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise self.error(f"unknown {self.noun} '{dotted}'{hint}; known keys: {sorted(fields)}")
            kwargs[name] = self.value(hints[name], value, dotted)
        try:
            return cls(**kwargs)
        except TypeError as problem:  # a required field is missing
            raise self.error(f"{key or cls.__name__}: {problem}") from None

    def value(self, tp: Any, value: Any, key: str) -> Any:
        origin = typing.get_origin(tp)
        if dataclasses.is_dataclass(tp):
            return self.dataclass(tp, value, key)
        if origin in (Union, types.UnionType):
            return self.union(typing.get_args(tp), value, key)
        if origin is Literal:
            allowed = typing.get_args(tp)
            if value not in allowed:
                raise self.error(f"{self.noun} '{key}' must be one of {list(allowed)}, got {value!r}")
            return value
        if origin in (list, tuple):
            return self.sequence(tp, origin, value, key)
        if origin is dict:
            return self.mapping(tp, value, key)
        if tp is Any:
            return value
        return self.scalar(tp, value, key)

    def union(self, options: tuple, value: Any, key: str) -> Any:
        if value is None and type(None) in options:
            return None
        problems = []
        for option in (o for o in options if o is not type(None)):
            try:
                return self.value(option, value, key)
            except MonorecError as problem:
                problems.append(str(problem))
        raise self.error(problems[0])

    def sequence(self, tp: Any, origin: type, value: Any, key: str) -> Any:
        if not isinstance(value, (list, tuple)):
            raise self.error(f"{self.noun} '{key}' must be a list, got {value!r}")
        args = typing.get_args(tp)
        item_type = args[0] if args else Any
        items = [self.value(item_type, v, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items

    def mapping(self, tp: Any, value: Any, key: str) -> dict:
        if not isinstance(value, dict):
            raise self.error(f"{self.noun} '{key}' must be a mapping, got {value!r}")
        key_type, value_type = typing.get_args(tp)
        # JSON object keys are strings: `{"10": 0.9}` is read back as {10: 0.9} for dict[int, float].
        return {
            self.scalar(key_type, _json_key(k, key_type), f"{key}.{k}"): self.value(value_type, v, f"{key}.{k}")
            for k, v in value.items()
        }

    def scalar(self, tp: Any, value: Any, key: str) -> Any:
        if tp is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if tp in (int, float, str, bool) and type(value) is tp:
            return value
        raise self.error(f"{self.noun} '{key}' must be {getattr(tp, '__name__', tp)}, got {value!r}")


def _json_key(key: Any, key_type: Any) -> Any:
    if key_type is int and isinstance(key, str) and key.lstrip("-").isdecimal():
        return int(key)
    return key
