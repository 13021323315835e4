"""Training pairs for Ray Train workers through Ray Data: written once, each worker streams its shard.

The driver writes the pairs it would train on in memory, in the same seeded layout
(`monorec.data.pairs.shuffled_layout`), as parquet under the run's storage path (shared storage
on a multi-node cluster). Every worker then reads only its shard (`streaming_split`, which Ray
Train applies to `datasets`) in windows of `shuffle_window / workers` pairs, so no worker
materialises the whole table, and a single worker sees exactly the windows of the in-memory
path: the same model for the same seed. The file is read into Ray's object store once, up
front (`read_pairs`), so reading never competes with the workers for CPUs.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.fs
import pyarrow.parquet as pq
import ray.data
import ray.train
import torch

from monorec.data.pairs import Window, shuffled_layout

COLUMNS = ("user", "item")


def write_pairs(
    users: np.ndarray, items: np.ndarray, seed: int, folder: str, window: int, rows: np.ndarray | None = None
) -> str:
    """Write the pairs (those at `rows`, default all) in their epoch layout to `folder` (a local path or
    a URI); return the file's path."""
    users, items = shuffled_layout(users, items, seed, rows)
    filesystem, root = pyarrow.fs.FileSystem.from_uri(folder)
    filesystem.create_dir(root, recursive=True)
    path = f"{root.rstrip('/')}/pairs.parquet"
    table = pa.table({"user": users, "item": items})
    pq.write_table(table, path, filesystem=filesystem, row_group_size=max(window, 1))
    return path if "://" not in folder else f"{folder.rstrip('/')}/pairs.parquet"


def remove_pairs(folder: str) -> None:
    filesystem, root = pyarrow.fs.FileSystem.from_uri(folder)
    filesystem.delete_dir(root)


def read_pairs(path: str) -> ray.data.Dataset:
    """The pairs as a Ray Dataset, read into the object store (one copy, shared by the workers of a
    node, spilled to disk under pressure) before the workers start: read tasks then never wait
    for CPUs the training workers hold, which on a small cluster would stall the stream."""
    return ray.data.read_parquet(path, columns=list(COLUMNS)).materialize()


def ordered_ingest() -> ray.train.DataConfig:
    """Ray Train's default ingest, keeping the file's order: the windows are the in-memory path's."""
    options = ray.train.DataConfig.default_ingest_options()
    options.preserve_order = True
    return ray.train.DataConfig(execution_options=options)


class RayDataPairs:
    """This worker's shard of the pairs, streamed a window at a time onto its device."""

    def __init__(self, shard: ray.data.DataIterator, window: int, device: torch.device) -> None:
        self.shard, self.window, self.device = shard, window, device

    def windows(self) -> Iterator[Window]:
        batches = self.shard.iter_torch_batches(batch_size=self.window, dtypes=torch.int64, device=str(self.device))
        for batch in batches:
            yield batch["user"], batch["item"]
