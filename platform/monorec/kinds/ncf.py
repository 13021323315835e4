"""`ncf`, the paper's second model: sigmoid(MLP([e_u ; e_i])), trained by monorec with BCE."""

from __future__ import annotations

import dataclasses

from monorec.errors import ConfigError
from monorec.kinds.traits import KindTraits


@dataclasses.dataclass
class NCFSettings:
    """`model.ncf`: the sizes of the MLP's hidden layers over [e_u ; e_i], ReLU between (the paper's 64-32-16)."""

    hidden: list[int] = dataclasses.field(default_factory=lambda: [64, 32, 16])

    def __post_init__(self) -> None:
        for size in self.hidden:
            if size < 1:
                raise ConfigError(f"model.ncf.hidden[] must be >= 1, got {size}")


KIND = KindTraits(
    name="ncf",
    origin="monorec",
    display="NCF",
    code="monorec.recommenders.ncf:SPEC",
    paper=True,
    ray_train=True,
    sparse_embeddings=True,
    settings=NCFSettings,
    flat=True,  # `model.hidden` before
    in_every_hash=True,  # `model.hidden` was in every kind's hash
)
