"""Semantic checks shared by the config sections: each names the dotted key it rejects.

Types are checked when a file is read (`monorec.typed`); these checks run in each section's
`__post_init__`, so every way of building a config (a file, `--set`, `dataclasses.replace` in a
search) rejects a negative loss weight or an impossible dictionary before any work starts.
"""

from __future__ import annotations

from monorec.errors import ConfigError


def at_least(key: str, value: float, low: float) -> None:
    if value < low:
        raise ConfigError(f"{key} must be >= {low:g}, got {value}")


def positive(key: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{key} must be > 0, got {value}")


def within(key: str, value: float, low: float, high: float, *, open_interval: bool = False) -> None:
    inside = low < value < high if open_interval else low <= value <= high
    if not inside:
        bounds = f"({low:g}, {high:g})" if open_interval else f"[{low:g}, {high:g}]"
        raise ConfigError(f"{key} must be in {bounds}, got {value}")
