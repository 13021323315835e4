"""Config files: YAML plus `--set key=value` overrides, read into the typed sections.

Every setting lives in a dataclass with a default, so a YAML file only states what differs.
Unknown keys and wrong types fail early with a message naming the dotted key, because a typo
in a config should never silently fall back to a default.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

import yaml

from monorec.config.model import upgrade_key, upgrade_keys
from monorec.errors import ConfigError
from monorec.typed import from_dict

T = TypeVar("T")


def load_config(cls: type[T], path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> T:
    """Read a YAML config file (or only defaults when `path` is None) and apply overrides.

    A file may start from another with `base: other.yaml` (relative to the file): the base is
    read first and this file's values are merged over it, section by section. Old keys, in the
    file or an override, are read as their new ones with a note (`upgrade_keys`).
    """
    values = _read_yaml(Path(path)) if path is not None else {}
    return from_dict(cls, apply_overrides(values, list(overrides)))


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """Apply `a.b.c=value` strings (value parsed as YAML) to a nested dict, returning a new dict.

    An old key (`model.hidden`) sets its new one (`model.ncf.hidden`), with a note (`upgrade_key`).
    """
    result = json.loads(json.dumps(values))
    for override in overrides:
        dotted, sep, raw = override.partition("=")
        if not sep or not dotted.strip():
            raise ConfigError(f"--set expects key=value, got {override!r}")
        *parents, leaf = upgrade_key(dotted.strip()).split(".")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {dotted}: '{part}' is not a section")
        try:
            node[leaf] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            raise ConfigError(f"--set {dotted}: {raw!r} is not a valid YAML value") from None
    return result


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    if path.resolve() in seen:
        raise ConfigError(f"config files include each other: {' -> '.join(map(str, (*seen, path)))}")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of config sections")
    values = upgrade_keys(values)
    base = values.pop("base", None)
    if base is None:
        return values
    return _merge(_read_yaml(path.parent / base, (*seen, path.resolve())), values)


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        nested = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merge(merged[key], value) if nested else value
    return merged
