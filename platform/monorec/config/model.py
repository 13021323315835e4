"""The `model` section: the kind, its embedding width, and each kind's own settings as `model.<kind>`.

    model:
      kind: ncf
      embedding_dim: 20
      ncf: {hidden: [64, 32, 16]}

A kind's own settings are the dataclass its declaration names (`monorec.kinds.<name>`), and the
section has one field per kind that has settings, made here from the declarations: adding a
kind never edits this file. Settings of a kind other than `model.kind` may be given (a base
file's, under `--set model.kind=...`) and are unused; the hash leaves them out (`model_identity`).
The flat keys of before (`model.hidden`, `model.layers`) still read (`upgrade_keys`).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from monorec.config.checks import at_least
from monorec.errors import ConfigError
from monorec.kinds import KINDS, KindTraits, kind_traits
from monorec.typed import to_dict

log = logging.getLogger(__name__)


@dataclasses.dataclass
class ModelChoice:
    """Which kind, and the width d of its embeddings; `ModelConfig` adds a section per kind with settings."""

    kind: str = "mf"
    embedding_dim: int = 20

    def __post_init__(self) -> None:
        traits = kind_traits(self.kind)  # an unknown kind: one line listing the kinds there are
        at_least("model.embedding_dim", self.embedding_dim, 1)
        if traits.settings is not None and getattr(self, self.kind, None) is None:
            traits.settings()  # a section the kind cannot do without (what a loaded kind loads) fails here

    @property
    def traits(self) -> KindTraits:
        return kind_traits(self.kind)

    @property
    def settings(self) -> Any:
        """This kind's own settings (`model.<kind>`): as given, else its defaults; None for a kind without any."""
        return self.settings_of(self.kind)

    def settings_of(self, kind: str) -> Any:
        """Kind `kind`'s settings in this section: as given, else its defaults (None if it has no settings)."""
        given, settings = getattr(self, kind, None), kind_traits(kind).settings
        return given if given is not None or settings is None else settings()


ModelConfig = dataclasses.make_dataclass(
    "ModelConfig",
    [
        (name, traits.settings | None, dataclasses.field(default=None))
        for name, traits in KINDS.items()
        if traits.settings
    ],
    bases=(ModelChoice,),
)
ModelConfig.__module__ = __name__  # pickled and named as if written here
ModelConfig.__doc__ = """The two-tower recommender: its kind, embedding width, and one section per kind with settings.

mf / ncf / lightgcn: trained by monorec (`train`: BCE with sampled negatives for MF and NCF,
    BPR for LightGCN); als / bpr: trained by `implicit`; embeddings: factor tables from files
    (`model.embeddings`); module: your own towers (`model.module`).
"""


def model_identity(model: ModelChoice) -> dict:
    """The `model` section as hashed: kind, width, its own settings and any kind's `in_every_hash` ones.

    A kind's settings are hashed as `model.<kind>`, or, for a `flat` kind, as the flat keys they
    were before kinds had sections; so the hashes of saved runs stay what they were.
    """
    values = {"kind": model.kind, "embedding_dim": model.embedding_dim}
    for name, traits in KINDS.items():
        if traits.settings is not None and (name == model.kind or traits.in_every_hash):
            settings = to_dict(model.settings_of(name))
            values.update(settings if traits.flat else {name: settings})
    return values


def upgrade_keys(values: dict) -> dict:
    """Config values with the old flat `model` keys moved into their kind's section, one note per key.

    `model.hidden` is read as `model.ncf.hidden` and `model.layers` as `model.lightgcn.layers`
    (each `flat` kind's settings), so that old config files, and the `config.json` of old runs
    and bundles, still read. A file giving both forms of one setting is an error.
    """
    model, kinds = values.get("model"), _old_keys()
    if not isinstance(model, dict) or not kinds.keys() & model.keys():
        return values
    model = dict(model)
    for key in sorted(kinds.keys() & model.keys()):
        kind = kinds[key]
        section = model.get(kind) or {}
        if not isinstance(section, dict):
            continue  # not a section: reading it says so
        if key in section:
            raise ConfigError(f"model.{key} and model.{kind}.{key} are the same setting: give only the second")
        model[kind] = {**section, key: model.pop(key)}
        _note(key, kind)
    return {**values, "model": model}


def upgrade_key(dotted: str) -> str:
    """A dotted key (`--set model.hidden=...`) as it is now: `model.ncf.hidden`, with a note; others as given."""
    section, _, key = dotted.partition(".")
    kind = _old_keys().get(key) if section == "model" else None
    if kind is None:
        return dotted
    _note(key, kind)
    return f"model.{kind}.{key}"


def _note(key: str, kind: str) -> None:
    log.warning("model.%s is an old key: read as model.%s.%s", key, kind, key)


def _old_keys() -> dict[str, str]:
    """Each flat `model` key of before, to its kind: {"hidden": "ncf", "layers": "lightgcn"}."""
    return {
        field.name: name
        for name, traits in KINDS.items()
        if traits.flat and traits.settings is not None
        for field in dataclasses.fields(traits.settings)
    }
