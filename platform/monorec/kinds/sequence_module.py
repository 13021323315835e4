"""`sequence_module`: your own sequence model (a PyTorch module over padded item-id sequences), loaded as it is."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

from monorec.errors import ConfigError
from monorec.kinds.module import ModuleSource
from monorec.kinds.traits import KindTraits


@dataclasses.dataclass
class SequenceModuleSpec(ModuleSource):
    """`model.sequence_module`: the module to load (`monorec.recommenders.sequence_module`).

    Its rows of items are in `item_ids` order (a file as in `EmbeddingFiles`), or in the dataset's
    index order when unset; `encode` is given the last `max_len` items of each history in those
    rows' indices, left-padded with `padding`.
    """

    section: ClassVar[str] = "model.sequence_module"

    item_ids: str | None = None
    max_len: int = 200
    padding: int = -1

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_len < 1:
            raise ConfigError(f"model.sequence_module.max_len must be >= 1, got {self.max_len}")


KIND = KindTraits(
    name="sequence_module",
    origin="loaded",
    display="custom sequence model",
    code="monorec.recommenders.sequence_module:SPEC",
    sequential=True,
    settings=SequenceModuleSpec,
)
