"""`module`: your own two-tower PyTorch module, loaded from a Python path and explained as it is."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from monorec.errors import ConfigError
from monorec.kinds.traits import KindTraits


@dataclasses.dataclass
class ModuleSource:
    """A PyTorch module to load: `path` is "file.py:ClassName" or "package.module:ClassName"; the class
    is built with `args` as keyword arguments and its weights are read from `weights` (.safetensors,
    or a .pt state dict loaded with weights_only=True: never pickle)."""

    section: ClassVar[str] = "model.module"  # where the settings are read from, for errors

    path: str = ""
    weights: str = ""
    args: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if ":" not in self.path or not self.weights:
            raise ConfigError(
                f"{self.section} needs `path` (file.py:ClassName or package.module:ClassName) and `weights`"
            )


@dataclasses.dataclass
class TorchModuleSpec(ModuleSource):
    """`model.module`: the module to load (`monorec.recommenders.custom`). Rows of its towers are in
    `user_ids` / `item_ids` order (files as in `EmbeddingFiles`), or in the dataset's index order when unset."""

    user_ids: str | None = None
    item_ids: str | None = None


KIND = KindTraits(
    name="module",
    origin="loaded",
    display="custom towers",
    code="monorec.recommenders.custom:SPEC",
    settings=TorchModuleSpec,
)
