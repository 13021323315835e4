"""`sasrec`: a causal transformer over the user's last items (Kang and McAuley, 2018), trained by monorec
with cross-entropy over every item (SASRec+, Klenitskiy and Vasilev, 2023). docs/method.md §1b."""

from __future__ import annotations

import dataclasses

from monorec.errors import ConfigError
from monorec.kinds.traits import KindTraits


@dataclasses.dataclass
class SASRecSettings:
    """`model.sasrec`: the encoder's shape and when its training stops.

    max_len: the last `max_len` items of a history are read (200, the peers' default on MovieLens).
    blocks, heads: self-attention blocks and heads per block (2 and 2: SASRec's own).
    dropout: on the inputs and inside every block (0.2).
    patience: training stops after this many epochs without a better validation NDCG@10, and the
        best epoch's weights are kept (`train.epochs` is then the most it runs).
    validation_users: validation NDCG@10 after each epoch is measured on at most this many users.
    """

    max_len: int = 200
    blocks: int = 2
    heads: int = 2
    dropout: float = 0.2
    patience: int = 5
    validation_users: int = 2048

    def __post_init__(self) -> None:
        for name in ("max_len", "blocks", "heads", "patience", "validation_users"):
            if getattr(self, name) < 1:
                raise ConfigError(f"model.sasrec.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.sasrec.dropout must be in [0, 1), got {self.dropout}")


KIND = KindTraits(
    name="sasrec",
    origin="monorec",
    display="SASRec",
    code="monorec.recommenders.sasrec:SPEC",
    ray_train=True,
    sized=True,
    sequential=True,
    settings=SASRecSettings,
)
