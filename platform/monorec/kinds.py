"""The model kinds monorec knows, and what each one needs decided without building it.

This module is torch-free on purpose: the config layer reads it to check `model.kind`, Ray
placement and the hash, and sits below `recommenders/`. How each kind is built, trained,
loaded and restored is its `KindSpec` in `monorec.recommenders.registry`, which is keyed by
these names; a test checks the two agree, and that no other module compares a kind's name.

Adding a kind: its traits here, one module under `recommenders/` and one registry entry.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from monorec.errors import ConfigError

Origin = Literal["monorec", "implicit", "loaded"]


@dataclasses.dataclass(frozen=True)
class KindTraits:
    """What the config, the pipeline and the results page need to know about one model kind.

    origin: who produces the model (monorec's own training, the `implicit` library, or files
        and modules loaded as they are).
    display: its name on the results page.
    extra: the pip extra its code needs (`monorec[<extra>]`), or None for the core.
    paper: one of the paper's own models (MF, NCF); the page compares every other kind with MF.
    ray_train: trains under Ray Train (`ray.num_workers > 0`) and with `train.sparse_embeddings`.
    sized: its results-page cell carries `model.embedding_dim` (`ml1m_als64`), since several
        widths are compared; the paper's models and loaded models do not.
    source: for a loaded kind, the `model` section naming what to load (set exactly for it).
    own_settings: `model` settings only this kind uses; left out of the hash of every other kind.
    """

    name: str
    origin: Origin
    display: str
    extra: str | None = None
    paper: bool = False
    ray_train: bool = False
    sized: bool = False
    source: str | None = None
    own_settings: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.source is not None:
            object.__setattr__(self, "own_settings", self.own_settings | {self.source})

    @property
    def stage(self) -> str:
        """The pipeline stage that produces it: `train recommender` or `load recommender`."""
        return "load recommender" if self.origin == "loaded" else "train recommender"


KINDS: dict[str, KindTraits] = {
    traits.name: traits
    for traits in (
        KindTraits("mf", "monorec", "MF", paper=True, ray_train=True),
        KindTraits("ncf", "monorec", "NCF", paper=True, ray_train=True),
        KindTraits("lightgcn", "monorec", "LightGCN", sized=True, own_settings=frozenset({"layers"})),
        KindTraits("als", "implicit", "ALS", extra="implicit", sized=True),
        KindTraits("bpr", "implicit", "BPR", extra="implicit", sized=True),
        KindTraits("embeddings", "loaded", "factors", source="embeddings"),
        KindTraits("module", "loaded", "custom towers", source="module"),
    )
}
KIND_NAMES: tuple[str, ...] = tuple(KINDS)
REFERENCE_KIND = "mf"  # the paper's main model: the results page measures every other kind against it
ModelKind = Literal[KIND_NAMES]  # type: ignore[valid-type]  # `typed` checks a YAML value against these
OPTIONAL_SETTINGS: frozenset[str] = frozenset().union(*(traits.own_settings for traits in KINDS.values()))


def kind_traits(name: str) -> KindTraits:
    """The traits of `name`, or a one-line error listing the kinds there are."""
    try:
        return KINDS[name]
    except KeyError:
        raise ConfigError(f"unknown model.kind {name!r}: one of {', '.join(KIND_NAMES)}") from None
