"""Training pairs in shuffle windows: one epoch order, read from memory or streamed by Ray Data.

The pairs are laid out once in a seeded random order; an epoch walks them in windows of
`shuffle_window` pairs, and the training task shuffles each window afresh every epoch (a
shuffle buffer, as Ray Data's `local_shuffle_buffer_size` is). An epoch's temporaries
(negatives, permutations, gathered batches) therefore cost one window of memory, not the whole
table, and a Ray Train worker that streams its shard of the same layout from parquet sees
exactly the windows that one process sees: with one worker, the same model.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np
import torch

from monorec.errors import DataError
from monorec.parallel import DataParallel

Window = tuple[torch.Tensor, torch.Tensor]  # (users, items) positives on the training device


class PairSource(Protocol):
    def windows(self) -> Iterator[Window]:
        """One epoch of this process's positives, a window at a time."""
        ...


def shuffled_batches(
    columns: tuple[torch.Tensor, ...], batch_size: int, generator: torch.Generator
) -> Iterator[tuple[int, tuple[torch.Tensor, ...]]]:
    """A window's rows in a fresh random order, as (batch size, batch) mini-batches of every column.

    One permutation on the device and one gather per batch: no DataLoader, since per-example
    indexing would dominate on CPU. Every model monorec trains walks its windows this way.
    """
    order = torch.randperm(len(columns[0]), device=columns[0].device, generator=generator)
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        yield len(batch), tuple(column[batch] for column in columns)


def shuffled_layout(
    users: np.ndarray, items: np.ndarray, seed: int, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The pairs (those at `rows`, default all) in the seeded random order every epoch walks (in
    memory, or written for Ray Data), as int32: at 100 M pairs a copy of the selected pairs, or
    int64 columns, would cost gigabytes; windows widen to int64 as they are read. The order and
    the columns stay int32 throughout, with no int64 copy on the way."""
    if len(users) > np.iinfo(np.int32).max:  # indices and rows below 2^31: int32 holds them exactly
        raise DataError(f"{len(users):,} training pairs: int32 pair layouts hold at most 2^31 - 1")
    order = np.arange(len(users) if rows is None else len(rows), dtype=np.int32)
    np.random.default_rng(seed).shuffle(order)  # Generator.permutation's order, in half its memory
    if rows is not None:
        order = rows[order]
    return _gather_int32(users, order), _gather_int32(items, order)


def _gather_int32(column: np.ndarray, order: np.ndarray, chunk: int = 1 << 22) -> np.ndarray:
    """column[order] as int32, a chunk at a time: a cast of the whole gather at once would hold an
    int64 copy of it first (0.75 GiB at 100 M pairs)."""
    gathered = np.empty(len(order), dtype=np.int32)
    for start in range(0, len(order), chunk):
        gathered[start : start + chunk] = column[order[start : start + chunk]]
    return gathered


class InMemoryPairs:
    """Every pair on the device; under data parallelism each process takes a strided share of each window."""

    def __init__(
        self,
        users: np.ndarray,
        items: np.ndarray,
        window: int,
        seed: int,
        device: torch.device,
        parallel: DataParallel = DataParallel(),
        rows: np.ndarray | None = None,
    ) -> None:
        users, items = shuffled_layout(users, items, seed, rows)
        self.users = torch.as_tensor(users, device=device)
        self.items = torch.as_tensor(items, device=device)
        self.window, self.parallel = window, parallel

    def windows(self) -> Iterator[Window]:
        for start in range(0, len(self.users), self.window):
            span = torch.arange(start, min(start + self.window, len(self.users)), device=self.users.device)
            mine = self.parallel.shard(span)
            yield self.users[mine].long(), self.items[mine].long()
