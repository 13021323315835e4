"""One training loop for every model monorec trains: the recommender and the SAE.

A task supplies only what differs between models: one epoch of batches and the loss of a
batch (plus, optionally, measures taken after each epoch). The loop owns everything else:
epochs, the optimizer step, data parallelism (sharded epochs, gradient all-reduce), progress
lines, a checkpoint after every epoch and resuming from it. So both models crash, resume and
scale out the same way, and a fix to the loop fixes both.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

import torch
from torch import nn

from monorec.parallel import DataParallel
from monorec.results import TrainingSummary
from monorec.storage import Stateful, restore_training_state, save_training_state

log = logging.getLogger(__name__)

EpochCallback = Callable[[dict], None]


class TrainingTask(Protocol):
    """What one model's training supplies to `fit`."""

    name: str  # in progress lines: "recommender", "sae"
    module: nn.Module
    device: torch.device

    def checkpointed(self) -> dict[str, Stateful]:
        """What a checkpoint keeps beside the module and optimizer: the generators an epoch draws
        from (so a resumed run draws the same), and any other state the task keeps."""
        ...

    def batches(self, parallel: DataParallel) -> Iterable[tuple[int, object]]:
        """One epoch of this process's shard, as (batch size, batch) pairs."""
        ...

    def loss(self, batch: object) -> dict[str, torch.Tensor]:
        """`loss` (what is minimised) and any other terms to report, each a mean over the batch."""
        ...

    def validate(self) -> dict[str, float]:
        """Measures taken after each epoch on the main process (empty if none)."""
        ...

    def end_epoch(self, history: list[dict], epochs: int) -> bool:
        """True: training ends now, before `epochs` (early stopping; `history` holds every epoch so far).

        Called after each epoch, before its checkpoint, and on resuming. A task that keeps its best
        epoch puts that epoch's weights back into the module when it ends training or at the last epoch.
        """
        ...


@dataclasses.dataclass(frozen=True)
class FitOptions:
    """How one training run is driven, whatever the model: the same for the recommender and the SAE.

    checkpoint_dir: where the per-epoch checkpoint goes (None: no checkpoint, no resume).
    fingerprint: the run's config hash; a checkpoint with another one is never resumed.
    on_epoch: called with each epoch's stats on every rank (Ray Train and Tune report from it).
    parallel: this process's place among data-parallel workers (one process by default).
    """

    checkpoint_dir: Path | None = None
    fingerprint: str = ""
    on_epoch: EpochCallback | None = None
    parallel: DataParallel = DataParallel()

    def checkpoint(self, name: str) -> Path | None:
        return self.checkpoint_dir / name if self.checkpoint_dir is not None else None


@dataclasses.dataclass
class TrainResult:
    epochs: int
    train_seconds: float
    samples_per_second: float
    final_loss: float
    device: str
    history: list[dict]

    def summary(self) -> TrainingSummary:
        return TrainingSummary(self.epochs, self.train_seconds, self.samples_per_second, self.final_loss, self.device)

    @classmethod
    def untrained(cls) -> TrainResult:
        """The result of a model loaded as it is: no epochs."""
        return cls.from_history([], "cpu")

    @classmethod
    def from_history(cls, history: list[dict], device: str) -> TrainResult:
        seconds = sum(h["seconds"] for h in history)
        samples = sum(h["samples"] for h in history)
        return cls(
            epochs=len(history),
            train_seconds=seconds,
            samples_per_second=samples / seconds if seconds else 0.0,
            final_loss=history[-1]["loss"] if history else float("nan"),
            device=device,
            history=history,
        )


def fit(
    task: TrainingTask, optimizer: torch.optim.Optimizer, epochs: int, options: FitOptions, checkpoint_name: str
) -> TrainResult:
    """Train `task.module` in place for `epochs`, resuming from its checkpoint when it is this run's.

    `options.fingerprint` (a config hash) guards against resuming a different run. Under data
    parallelism each process trains on its shard and only rank 0 writes the checkpoint;
    `options.on_epoch(stats)` runs on every rank after the checkpoint is written.
    """
    checkpoint, fingerprint, parallel = options.checkpoint(checkpoint_name), options.fingerprint, options.parallel
    stateful: dict[str, Stateful] = {task.name: task.module, "optimizer": optimizer, **task.checkpointed()}
    history = restore_training_state(checkpoint, fingerprint, stateful)
    if history and task.end_epoch(history, epochs):  # a resumed run that had already stopped early
        epochs = len(history)
    task.module.train()
    for epoch in range(len(history), epochs):
        started = time.perf_counter()
        sums: dict[str, torch.Tensor] = {}
        local_samples = 0
        for size, batch in task.batches(parallel):
            terms = task.loss(batch)
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            parallel.average_gradients(task.module)
            optimizer.step()
            for name, value in terms.items():
                sums[name] = sums.get(name, torch.zeros((), device=task.device)) + value.detach() * size
            local_samples += size
        seconds = time.perf_counter() - started
        samples = local_samples * parallel.world_size
        stats = {"epoch": epoch + 1, "seconds": seconds, "samples": samples}
        stats.update({name: parallel.sum(total).item() / samples for name, total in sums.items()})
        validation = None
        if parallel.is_main:  # every rank holds the same weights: measure once
            task.module.eval()
            validation = task.validate()
            task.module.train()
        stats.update(parallel.from_main(validation) or {})  # every rank decides on it alike (`end_epoch`)
        history.append(stats)
        log.info("%s epoch %d/%d  %s", task.name, epoch + 1, epochs, _progress(stats))
        stop = task.end_epoch(history, epochs)
        if checkpoint is not None and parallel.is_main:
            save_training_state(checkpoint, stateful, history, fingerprint)
        if options.on_epoch is not None:
            options.on_epoch(stats)
        if stop:
            log.info("%s: stopped after epoch %d (no better validation for the last epochs)", task.name, epoch + 1)
            break
    task.module.eval()
    return TrainResult.from_history(history, str(task.device))


def _progress(stats: dict) -> str:
    """`loss 0.41 (emb 0.02 pred 0.10)  dead_ratio 0.00 rbo@20 0.71  1.52s  650000 samples/s`."""
    bookkeeping = {"epoch", "seconds", "samples", "loss"}
    terms = [f"{k} {v:.4f}" for k, v in stats.items() if k not in bookkeeping]
    rate = stats["samples"] / stats["seconds"] if stats["seconds"] else 0.0
    detail = f" ({' '.join(terms)})" if terms else ""
    return f"loss {stats.get('loss', float('nan')):.4f}{detail}  {stats['seconds']:.2f}s  {rate:.0f} samples/s"
