"""`embeddings`: user and item tables trained elsewhere, read from files and scored by a dot product."""

from __future__ import annotations

import dataclasses

from monorec.errors import ConfigError
from monorec.kinds.traits import KindTraits


@dataclasses.dataclass
class EmbeddingFiles:
    """`model.embeddings`: the files to read.

    Each of `users` and `items` is a parquet file with an `id` column, one column per factor
    (or one list column `embedding`) and optionally a `bias` column; or a .npy matrix with its
    ids in `user_ids` / `item_ids` (.npy or a text file, one id per line) and optional biases
    in `item_biases` (.npy). Ids must match the interactions' exactly (docs/method.md §1).
    """

    users: str = ""
    items: str = ""
    user_ids: str | None = None
    item_ids: str | None = None
    item_biases: str | None = None

    def __post_init__(self) -> None:
        if not self.users or not self.items:
            raise ConfigError("model.embeddings needs both `users` and `items` files")


KIND = KindTraits(
    name="embeddings",
    origin="loaded",
    display="factors",
    code="monorec.recommenders.embedding_files:SPEC",
    settings=EmbeddingFiles,
)
