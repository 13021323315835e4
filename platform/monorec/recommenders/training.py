"""Recommender training: BCE on every training positive plus as many fresh negatives per epoch.

An epoch draws one negative per positive (so each user gets as many negatives as positives),
shuffles the 2n pairs on the device, and walks them in contiguous mini-batches; no DataLoader,
since the whole epoch fits in device memory and per-batch indexing would dominate on CPU.
A checkpoint (weights, optimizer and RNG states) is written atomically after every epoch, and
a run pointed at an existing checkpoint of the same fingerprint resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from monorec.config import TrainConfig
from monorec.data.sampling import NegativeSampler
from monorec.data.split import Split
from monorec.devices import resolve_device
from monorec.parallel import DataParallel
from monorec.recommenders.base import TwoTowerRecommender
from monorec.storage import restore_training_state, save_training_state

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"


@dataclasses.dataclass
class TrainResult:
    epochs: int
    train_seconds: float
    samples_per_second: float
    final_loss: float
    device: str
    history: list[dict]


def train_recommender(
    model: TwoTowerRecommender,
    split: Split,
    config: TrainConfig,
    checkpoint_dir: Path | None = None,
    fingerprint: str = "",
    on_epoch: Callable[[dict], None] | None = None,
    parallel: DataParallel = DataParallel(),
) -> TrainResult:
    """Train `model` in place. `fingerprint` (e.g. the config hash) guards against resuming a different run.

    Under data parallelism each process trains on its shard of every epoch and only rank 0
    writes the checkpoint; `on_epoch` runs on every rank after the checkpoint is written.
    """
    device = resolve_device(config.device)
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sampler = NegativeSampler(split, config.negative_sampling, device, seed=config.seed)
    shuffle = torch.Generator(device=device).manual_seed(config.seed + 1)
    users = torch.as_tensor(split.train_users, device=device)
    items = torch.as_tensor(split.train_items, device=device)
    labels = torch.cat([torch.ones_like(users, dtype=torch.float32), torch.zeros_like(users, dtype=torch.float32)])
    stateful = {"model": model, "optimizer": optimizer, "sampler_rng": sampler.generator, "shuffle_rng": shuffle}
    checkpoint = checkpoint_dir / CHECKPOINT if checkpoint_dir is not None else None
    history = restore_training_state(checkpoint, fingerprint, stateful)

    for epoch in range(len(history), config.epochs):
        started = time.perf_counter()
        pair_users = torch.cat([users, users])
        pair_items = torch.cat([items, sampler.sample(users)])
        order = parallel.shard(torch.randperm(len(pair_users), device=device, generator=shuffle))
        pair_users, pair_items, pair_labels = pair_users[order], pair_items[order], labels[order]
        loss_sum = torch.zeros((), device=device)
        batch_size = parallel.local_batch_size(config.batch_size)
        for start in range(0, len(order), batch_size):
            batch = slice(start, start + batch_size)
            loss = F.binary_cross_entropy_with_logits(model(pair_users[batch], pair_items[batch]), pair_labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            parallel.average_gradients(model)
            optimizer.step()
            loss_sum += loss.detach() * len(pair_labels[batch])
        seconds = time.perf_counter() - started
        samples = len(order) * parallel.world_size
        stats = {"epoch": epoch + 1, "loss": parallel.sum(loss_sum).item() / samples, "seconds": seconds, "samples": samples}
        history.append(stats)
        log.info(
            "epoch %d/%d  loss %.4f  %.2fs  %.0f samples/s",
            epoch + 1, config.epochs, stats["loss"], seconds, samples / seconds,
        )  # fmt: skip
        if checkpoint is not None and parallel.is_main:
            save_training_state(checkpoint, stateful, history, fingerprint)
        if on_epoch is not None:
            on_epoch(stats)

    model.eval()
    seconds = sum(h["seconds"] for h in history)
    samples = sum(h["samples"] for h in history)
    return TrainResult(
        epochs=len(history),
        train_seconds=seconds,
        samples_per_second=samples / seconds if seconds else 0.0,
        final_loss=history[-1]["loss"] if history else float("nan"),
        device=str(device),
        history=history,
    )
