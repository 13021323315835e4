"""The model kinds monorec knows: one torch-free declaration per kind, registered by name here.

A kind is two files. `kinds/<name>.py` declares it: its `KindTraits` (as `KIND`) and the
dataclass of its own settings, read from `model.<name>`; the config layer reads these to check
`model.kind`, Ray placement and the hash without importing torch. Its code under
`recommenders/` (the model and its `KindSpec`, which `KIND.code` names) is imported only when a
model of the kind is built, trained or loaded. Nothing outside these files decides by a kind's
name (`tests/test_kinds.py`).

Adding a kind: its declaration here, its code under `recommenders/`, its name in `DECLARED`
(the one registration line) and a config under `configs/`.
"""

from __future__ import annotations

import importlib

from monorec.errors import ConfigError
from monorec.kinds.traits import KindTraits, Origin

DECLARED = (
    "mf",
    "ncf",
    "lightgcn",
    "als",
    "bpr",
    "embeddings",
    "module",
    "sasrec",
    "sequence_module",
)  # `kinds/<name>.py`, in the page's order
REFERENCE_KIND = "mf"  # the paper's main model: the results page measures every other kind against it

KINDS: dict[str, KindTraits] = {}


def register(traits: KindTraits) -> KindTraits:
    """Make a kind known by its name: each declared kind, or one registered at run time (a test's).

    Registering the same traits again does nothing. A kind registered after `monorec.config` is
    imported gets no `model.<name>` section: the section's fields are made from the kinds known then.
    """
    known = KINDS.setdefault(traits.name, traits)
    if known != traits:
        raise ValueError(f"model.kind {traits.name} is registered already, with other traits")
    return traits


def kind_traits(name: str) -> KindTraits:
    """The traits of `name`, or a one-line error listing the kinds there are."""
    try:
        return KINDS[name]
    except KeyError:
        raise ConfigError(f"unknown model.kind {name!r}: one of {', '.join(KINDS)}") from None


for _declared in DECLARED:
    register(importlib.import_module(f"{__name__}.{_declared}").KIND)

__all__ = ["DECLARED", "KINDS", "REFERENCE_KIND", "KindTraits", "Origin", "kind_traits", "register"]
