"""Recommender training: BCE on every training positive plus as many fresh negatives per epoch.

An epoch walks the positives in shuffle windows (`monorec.data.pairs`); each window draws one
negative per positive (so each user gets as many negatives as positives), shuffles the 2n
pairs on the device, and walks them in mini-batches; no DataLoader, since per-batch indexing
would dominate on CPU. The loop itself (checkpoints, resume, data parallelism, progress) is
`monorec.training.fit`; the positives come from memory here, or from Ray Data on a cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from monorec.config import TrainConfig
from monorec.data.pairs import InMemoryPairs, PairSource, shuffled_batches
from monorec.data.sampling import NegativeSampler
from monorec.data.split import Split
from monorec.devices import fused_adam, resolve_device
from monorec.parallel import DataParallel
from monorec.recommenders.sparse_adam import IndexedSparseAdam
from monorec.storage import Stateful
from monorec.training import FitOptions, TrainResult, fit

CHECKPOINT = "checkpoint.pt"


class RecommenderTask:
    """One epoch = every training positive once, each with a freshly drawn negative."""

    name = "recommender"
    l2_in_loss: ClassVar[bool] = False  # True: `train.weight_decay` weighs an L2 term of the loss, not Adam's

    def __init__(
        self,
        model: nn.Module,
        pairs: PairSource,
        sampler: NegativeSampler,
        config: TrainConfig,
        device: torch.device,
    ) -> None:
        self.module, self.pairs, self.sampler, self.device = model, pairs, sampler, device
        self.batch_size, self.weight_decay, self.pair_l2 = config.batch_size, config.weight_decay, config.pair_l2
        self.epoch_rng = torch.Generator().manual_seed(config.seed)
        self.shuffle = torch.Generator(device=device)

    def checkpointed(self) -> dict[str, Stateful]:
        return {"epoch_rng": self.epoch_rng}

    def batches(self, parallel: DataParallel) -> Iterator[tuple[int, tuple[torch.Tensor, ...]]]:
        step = parallel.local_batch_size(self.batch_size)
        for positives, items, negatives in self.windows(parallel):
            users = torch.cat([positives, positives])
            items = torch.cat([items, negatives])
            labels = torch.cat([torch.ones(len(positives)), torch.zeros(len(positives))]).to(self.device)
            yield from shuffled_batches((users, items, labels), step, self.shuffle)

    def windows(self, parallel: DataParallel) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """One epoch as shuffle windows of (user, positive item, fresh negative item) triplets."""
        # Each epoch's negatives and shuffles come from a seed drawn from the checkpointed epoch
        # generator (the same on every rank), offset by the rank: data-parallel ranks never draw
        # the same negatives, and a resumed run draws exactly what the uninterrupted one would.
        seed = int(torch.randint(2**62, (), generator=self.epoch_rng))
        self.sampler.generator.manual_seed(seed + 2 * parallel.rank)
        self.shuffle.manual_seed(seed + 2 * parallel.rank + 1)
        for users, items in self.pairs.windows():
            yield users, items, self.sampler.sample(users)

    def loss(self, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        users, items, labels = batch
        loss = F.binary_cross_entropy_with_logits(self.module(users, items), labels)
        if self.pair_l2:
            rows = self.module.pair_parameters(users, items)
            loss = loss + self.pair_l2 / 2 * sum(row.pow(2).sum() for row in rows) / len(users)
        return {"loss": loss}

    def validate(self) -> dict[str, float]:
        return {}

    def end_epoch(self, history: list[dict], epochs: int) -> bool:
        return False  # every epoch runs


def train_recommender(
    model: nn.Module,
    split: Split,
    config: TrainConfig,
    options: FitOptions = FitOptions(),
    task_type: type[RecommenderTask] = RecommenderTask,
) -> TrainResult:
    """Train `model` in place on the split's pairs held in memory (checkpoints and resume as `fit`)."""
    device, parallel = resolve_device(config.device), options.parallel
    pairs = InMemoryPairs(split.train_users, split.train_items, config.shuffle_window, config.seed, device, parallel)
    sampler = NegativeSampler.from_split(split, config.negative_sampling, device, seed=config.seed)
    return fit_recommender(model, pairs, sampler, config, options, task_type)


def fit_recommender(
    model: nn.Module,
    pairs: PairSource,
    sampler: NegativeSampler,
    config: TrainConfig,
    options: FitOptions = FitOptions(),
    task_type: type[RecommenderTask] = RecommenderTask,
) -> TrainResult:
    """Train `model` in place on any pair source (memory, or a Ray Data shard on a Train worker)."""
    device = resolve_device(config.device)
    model.to(device)
    decay = 0.0 if task_type.l2_in_loss else config.weight_decay
    if config.sparse_embeddings:
        optimizer = RowwiseAdam(model, config.lr)
    elif config.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, weight_decay=decay)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=decay, **fused_adam(device))
    task = task_type(model, pairs, sampler, config, device)
    return fit(task, optimizer, config.epochs, options, CHECKPOINT)


class RowwiseAdam:
    """Lazy Adam on the embedding tables (only the rows in the batch move), Adam on the rest.

    With dense gradients every step reads and writes every row of both tables and their Adam
    moments, whatever the batch: at 500k users that, not the batch, is the cost of a step. The
    tables' update is `IndexedSparseAdam` (SparseAdam's, bit for bit); the biases' is torch's
    fused Adam on every device, twice as fast on CPU as the loop Adam that dense runs use there,
    and equal to it up to rounding (about 1e-9 after 50 steps).
    """

    def __init__(self, model: nn.Module, lr: float) -> None:
        tables = [model.user_embedding, model.item_embedding]
        for table in tables:
            table.sparse = True
        table_ids = {id(table.weight) for table in tables}
        rest = [p for p in model.parameters() if id(p) not in table_ids]
        self.parts = [IndexedSparseAdam([t.weight for t in tables], lr=lr)]
        if rest:
            self.parts.append(torch.optim.Adam(rest, lr=lr, fused=True))  # biases: one kernel, 2x faster on CPU

    def zero_grad(self, set_to_none: bool = True) -> None:
        for part in self.parts:
            part.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for part in self.parts:
            part.step()

    def state_dict(self) -> dict:
        return {str(i): part.state_dict() for i, part in enumerate(self.parts)}

    def load_state_dict(self, state: dict) -> None:
        for i, part in enumerate(self.parts):
            part.load_state_dict(state[str(i)])
