"""`lightgcn`: embeddings smoothed over the interaction graph, trained by monorec with BPR (He et al., 2020)."""

from __future__ import annotations

import dataclasses

from monorec.errors import ConfigError
from monorec.kinds.traits import KindTraits


@dataclasses.dataclass
class LightGCNSettings:
    """`model.lightgcn`: how many times the embeddings propagate over the normalised graph (the paper's 3)."""

    layers: int = 3

    def __post_init__(self) -> None:
        if self.layers < 1:
            raise ConfigError(f"model.lightgcn.layers must be >= 1, got {self.layers}")


KIND = KindTraits(
    name="lightgcn",
    origin="monorec",
    display="LightGCN",
    code="monorec.recommenders.lightgcn:SPEC",
    sized=True,
    settings=LightGCNSettings,
    flat=True,  # `model.layers` before
)
