"""Recommender training: BCE on every training positive plus as many fresh negatives per epoch.

An epoch draws one negative per positive (so each user gets as many negatives as positives),
shuffles the 2n pairs on the device, and walks them in contiguous mini-batches; no DataLoader,
since the whole epoch fits in device memory and per-batch indexing would dominate on CPU.
The loop itself (checkpoints, resume, data parallelism, progress) is `monorec.training.fit`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
import torch.nn.functional as F

from monorec.config import TrainConfig
from monorec.data.sampling import NegativeSampler
from monorec.data.split import Split
from monorec.devices import resolve_device
from monorec.parallel import DataParallel
from monorec.recommenders.base import TwoTowerRecommender
from monorec.training import EpochCallback, TrainResult, fit

CHECKPOINT = "checkpoint.pt"


class RecommenderTask:
    """One epoch = every training positive once, each with a freshly drawn negative."""

    name = "recommender"

    def __init__(self, model: TwoTowerRecommender, split: Split, config: TrainConfig, device: torch.device) -> None:
        self.module, self.device, self.batch_size = model, device, config.batch_size
        self.sampler = NegativeSampler(split, config.negative_sampling, device, seed=config.seed)
        self.shuffle = torch.Generator(device=device).manual_seed(config.seed + 1)
        self.users = torch.as_tensor(split.train_users, device=device)
        self.items = torch.as_tensor(split.train_items, device=device)
        ones = torch.ones_like(self.users, dtype=torch.float32)
        self.labels = torch.cat([ones, torch.zeros_like(ones)])

    def random_state(self) -> dict[str, torch.Generator]:
        return {"sampler_rng": self.sampler.generator, "shuffle_rng": self.shuffle}

    def batches(self, parallel: DataParallel) -> Iterator[tuple[int, tuple[torch.Tensor, ...]]]:
        users = torch.cat([self.users, self.users])
        items = torch.cat([self.items, self.sampler.sample(self.users)])
        order = parallel.shard(torch.randperm(len(users), device=self.device, generator=self.shuffle))
        users, items, labels = users[order], items[order], self.labels[order]
        step = parallel.local_batch_size(self.batch_size)
        for start in range(0, len(order), step):
            batch = slice(start, start + step)
            yield len(labels[batch]), (users[batch], items[batch], labels[batch])

    def loss(self, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        users, items, labels = batch
        return {"loss": F.binary_cross_entropy_with_logits(self.module(users, items), labels)}

    def validate(self) -> dict[str, float]:
        return {}


def train_recommender(
    model: TwoTowerRecommender,
    split: Split,
    config: TrainConfig,
    checkpoint_dir: Path | None = None,
    fingerprint: str = "",
    on_epoch: EpochCallback | None = None,
    parallel: DataParallel = DataParallel(),
) -> TrainResult:
    """Train `model` in place (checkpointing into `checkpoint_dir`, resuming a run of the same fingerprint)."""
    device = resolve_device(config.device)
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    task = RecommenderTask(model, split, config, device)
    checkpoint = checkpoint_dir / CHECKPOINT if checkpoint_dir is not None else None
    return fit(task, optimizer, config.epochs, checkpoint, fingerprint, on_epoch, parallel)
