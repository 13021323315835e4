"""The recommender's training sections: `train`, `eval`, and `ray` (where training runs); `model` is in `model.py`."""

from __future__ import annotations

import dataclasses
from typing import Literal

from monorec.config.checks import at_least, positive
from monorec.errors import ConfigError


@dataclasses.dataclass
class TrainConfig:
    """Optimisation settings for BCE training on positives plus re-drawn sampled negatives.

    shuffle_window: positives shuffled together each epoch (`monorec.data.pairs`); it bounds an
    epoch's working memory, and covers all of ML-1M, so small datasets get a full shuffle.
    sparse_embeddings: MF / NCF embedding tables get row-wise (sparse) gradients and a lazy Adam
    that moves only the rows a batch touched. Off, every step updates every row of both tables,
    which dominates training past a few hundred thousand users (benchmarks/bench_scale.py).
    Lazy Adam differs from Adam (untouched rows keep their moments), so it is opt-in.
    optimizer: `adam` (the paper's) or `sgd`, plain mini-batch SGD as the MF notebook's numpy
    training (its per-pair step 0.05 at batch 256 is lr 12.8 here, where the loss is the batch
    mean). pair_l2: an L2 penalty on each pair's own parameters (the batch's user and item
    embeddings and biases, once per occurrence), the notebook's regularisation; weight_decay
    instead shrinks every row at every step.
    """

    epochs: int = 10
    batch_size: int = 256
    shuffle_window: int = 1 << 20
    lr: float = 1e-3
    weight_decay: float = 0.0
    negative_sampling: Literal["uniform", "popularity"] = "uniform"
    seed: int = 0
    device: str = "auto"
    sparse_embeddings: bool = False
    optimizer: Literal["adam", "sgd"] = "adam"
    pair_l2: float = 0.0

    def __post_init__(self) -> None:
        if self.sparse_embeddings and self.weight_decay > 0:
            raise ConfigError("train.sparse_embeddings needs train.weight_decay 0 (lazy Adam has no weight decay)")
        if self.sparse_embeddings and self.optimizer != "adam":
            raise ConfigError("train.sparse_embeddings needs train.optimizer adam (it is a lazy Adam)")
        at_least("train.pair_l2", self.pair_l2, 0)
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
    s3://... on a multi-node cluster; `monorec.distributed.storage_path`). `placement` is Ray's
    placement strategy for the workers: PACK fills a node first (gradients stay on one machine),
    SPREAD or STRICT_SPREAD puts them on different nodes (one worker per node).
    """

    num_workers: int = 0
    use_gpu: bool = False
    max_failures: int = 2
    storage_path: str | None = None  # None: MONOREC_STORAGE, else <output dir>/ray (single node only)
    placement: Literal["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"] = "PACK"

    def __post_init__(self) -> None:
        at_least("ray.num_workers", self.num_workers, 0)
        at_least("ray.max_failures", self.max_failures, 0)


@dataclasses.dataclass
class EvalConfig:
    """Ranking evaluation: cut-off K, and the memory one tile of users x all items may use.

    Evaluation, fidelity and interpretation score users (or encode items) a tile at a time;
    `tile_mb` bounds a tile's memory, so a catalogue of millions of items costs more time,
    never more memory. Results do not depend on it. `max_users` caps the test users the
    recommender's ranking metrics are computed on at a seeded sample of that many (None: all):
    at a million users, ranking every one against the catalogue is most of a run's evaluation,
    and 100,000 users already put a metric's standard error far below its differences.
    """

    k: int = 10
    tile_mb: float = 512.0
    max_users: int | None = None

    def __post_init__(self) -> None:
        at_least("eval.k", self.k, 1)
        positive("eval.tile_mb", self.tile_mb)
        if self.max_users is not None:
            at_least("eval.max_users", self.max_users, 1)
