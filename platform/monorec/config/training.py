"""The recommender's sections: `model`, `train`, `eval`, and `ray` (where training runs)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from monorec.config.checks import at_least, positive


@dataclasses.dataclass
class ModelConfig:
    """The two-tower recommender: MF (dot product + biases) or NCF (MLP over the concatenation)."""

    kind: Literal["mf", "ncf"] = "mf"
    embedding_dim: int = 20
    hidden: list[int] = dataclasses.field(default_factory=lambda: [64, 32, 16])

    def __post_init__(self) -> None:
        at_least("model.embedding_dim", self.embedding_dim, 1)
        for size in self.hidden:
            at_least("model.hidden[]", size, 1)


@dataclasses.dataclass
class TrainConfig:
    """Optimisation settings for BCE training on positives plus re-drawn sampled negatives.

    shuffle_window: positives shuffled together each epoch (`monorec.data.pairs`); it bounds an
    epoch's working memory, and covers all of ML-1M, so small datasets get a full shuffle.
    """

    epochs: int = 10
    batch_size: int = 256
    shuffle_window: int = 1 << 20
    lr: float = 1e-3
    weight_decay: float = 0.0
    negative_sampling: Literal["uniform", "popularity"] = "uniform"
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        at_least("train.epochs", self.epochs, 0)
        at_least("train.batch_size", self.batch_size, 1)
        at_least("train.shuffle_window", self.shuffle_window, 1)
        positive("train.lr", self.lr)
        at_least("train.weight_decay", self.weight_decay, 0)


@dataclasses.dataclass
class RayConfig:
    """Where recommender and SAE training run: this process, or Ray Train workers.

    num_workers > 0 trains under Ray Train with that many data-parallel workers (GPUs when
    use_gpu), retrying a failed run up to max_failures times from its last checkpoint; 0 trains
    in this process without Ray. Run state goes to `storage_path` (shared storage such as
    s3://... on a multi-node cluster; `monorec.distributed.storage_path`).
    """

    num_workers: int = 0
    use_gpu: bool = False
    max_failures: int = 2
    storage_path: str | None = None  # None: MONOREC_STORAGE, else <output dir>/ray (single node only)

    def __post_init__(self) -> None:
        at_least("ray.num_workers", self.num_workers, 0)
        at_least("ray.max_failures", self.max_failures, 0)


@dataclasses.dataclass
class EvalConfig:
    """Ranking evaluation: cut-off K, and the memory one tile of users x all items may use.

    Evaluation, fidelity and interpretation score users (or encode items) a tile at a time;
    `tile_mb` bounds a tile's memory, so a catalogue of millions of items costs more time,
    never more memory. Results do not depend on it.
    """

    k: int = 10
    tile_mb: float = 512.0

    def __post_init__(self) -> None:
        at_least("eval.k", self.k, 1)
        positive("eval.tile_mb", self.tile_mb)
