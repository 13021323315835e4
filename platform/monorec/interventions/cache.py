"""A small least-recently-used cache bounded in bytes, for what an edit computes the same way every time.

An item-tower edit moves every item vector (or the listed ones) in the same way whichever user
asks: the edited item table depends on the edits alone. A service asked for the same edit many
times (a product's "less horror" switch) computes it once; the bound keeps the tables from filling
memory (`MAX_BYTES` by default: hundreds of ML-1M tables at d 20, a few of 100,000 items at d 64;
a table larger than the bound is computed every time, never kept).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

import torch

MAX_BYTES = 64 * 2**20


class TensorCache:
    """Tensors (or tuples of tensors and None) by key, the least recently used dropped past `max_bytes`.

    Thread-safe: a replica scores batches on worker threads. What it returns is shared: callers
    never write into it.
    """

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple] = OrderedDict()
        self._sizes: dict[Hashable, int] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], tuple]) -> tuple:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = compute()  # outside the lock: two threads may compute one key once each, never block each other
        size = sum(t.numel() * t.element_size() for t in value if isinstance(t, torch.Tensor))
        with self._lock:
            if size <= self.max_bytes:
                self._entries[key], self._sizes[key] = value, size
                self._entries.move_to_end(key)
                while sum(self._sizes.values()) > self.max_bytes:
                    dropped, _ = self._entries.popitem(last=False)
                    del self._sizes[dropped]
        return value

    def __len__(self) -> int:
        return len(self._entries)
