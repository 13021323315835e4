"""Data parallelism for the core training loops, without any dependency on Ray.

Every process shuffles with the same seed, takes every `world_size`-th example of the epoch
(its shard), averages gradients with an all-reduce after each backward pass (gloo on CPU,
NCCL on GPU: whatever process group the launcher set up) and sums its loss statistics. With
one process all of this is a no-op, so a single-worker run equals the plain core run.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class DataParallel:
    rank: int = 0
    world_size: int = 1

    @classmethod
    def from_process_group(cls) -> DataParallel:
        """This process's place in the initialised default process group (or a single process)."""
        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size())
        return cls()

    @property
    def is_main(self) -> bool:
        """Rank 0 writes checkpoints and reports metrics."""
        return self.rank == 0

    def shard(self, order: torch.Tensor) -> torch.Tensor:
        """This process's examples; every shard has the same length so all ranks step together."""
        usable = len(order) - len(order) % self.world_size
        return order[self.rank : usable : self.world_size]

    def local_batch_size(self, global_batch_size: int) -> int:
        """Per-process batch so that the averaged gradient is that of the configured global batch."""
        return max(1, global_batch_size // self.world_size)

    def average_gradients(self, module: torch.nn.Module) -> None:
        if self.world_size == 1:
            return
        for parameter in module.parameters():
            if parameter.grad is not None:
                dist.all_reduce(parameter.grad)
                parameter.grad /= self.world_size

    def from_main(self, value: T) -> T:
        """Rank 0's `value` on every rank (what only rank 0 measured, e.g. validation, that all ranks decide on)."""
        if self.world_size == 1:
            return value
        holder = [value]
        dist.broadcast_object_list(holder, src=0)
        return holder[0]

    def sum(self, value: torch.Tensor) -> torch.Tensor:
        if self.world_size > 1:
            dist.all_reduce(value)
        return value
