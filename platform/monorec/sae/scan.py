"""Each neuron's strongest items, found in chunks so that no (items x neurons) matrix is held.

Every item measure of docs/method.md §4 (purity, labels, popularity percentile, decade share,
MS) needs per neuron only its top-K items with their activations, its smallest and largest
activation over all items (MS's min-max scaling) and how many items it fires on. A scan keeps
a running top-K per neuron while it encodes the catalogue a chunk at a time, so interpreting
a catalogue of millions of items costs memory for one chunk, not for the whole matrix.
Ties are broken towards the lower item index, so the result does not depend on the chunk size.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch

Encoder = Callable[[torch.Tensor], torch.Tensor]  # embeddings (n, d) -> codes (n, m)


@dataclasses.dataclass(frozen=True)
class TopActivations:
    """Per neuron: its `depth` strongest items (descending) and summary statistics over all items."""

    values: torch.Tensor  # (m, depth) activations, descending
    indices: torch.Tensor  # (m, depth) item indices
    low: torch.Tensor  # (m,) smallest activation over all items
    high: torch.Tensor  # (m,) largest activation over all items
    active: torch.Tensor  # (m,) number of items with a positive activation
    total: torch.Tensor  # (m,) sum of the activations over all items, float64
    n_items: int

    def mean(self) -> torch.Tensor:
        """(m,) each neuron's mean activation over all items (KL's rho_hat, over the whole table).

        Unlike the top items and counts, it is a sum of every code, so chunk sizes move its last
        digits (the encoder's float32 products round differently in batches of other sizes)."""
        return self.total / self.n_items

    @property
    def n_neurons(self) -> int:
        return self.values.shape[0]

    def top(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(m, k) indices of each neuron's top-k items and whether each of them is active."""
        if k > self.values.shape[1] and self.values.shape[1] < self.n_items:
            raise ValueError(f"top-{k} asked of a scan that kept only the top {self.values.shape[1]}")
        return self.indices[:, :k], self.values[:, :k] > 0

    @classmethod
    def of(cls, activations: torch.Tensor, depth: int) -> TopActivations:
        """From an (items x neurons) matrix already in memory."""
        return scan(lambda chunk: chunk, activations, depth, chunk_size=max(len(activations), 1))


def scan(encode: Encoder, embeddings: torch.Tensor, depth: int, chunk_size: int = 65536) -> TopActivations:
    """Encode `embeddings` a chunk at a time, keeping each neuron's top-`depth` items and statistics."""
    values = indices = low = high = active = total = None
    with torch.no_grad():
        for start in range(0, len(embeddings), chunk_size):
            codes = encode(embeddings[start : start + chunk_size]).T  # (m, c)
            positions = torch.arange(start, start + codes.shape[1], device=codes.device).expand_as(codes)
            if values is None:
                values, indices = codes[:, :0], positions[:, :0]
                low, high = codes.min(1).values, codes.max(1).values
                active = torch.zeros(codes.shape[0], dtype=torch.int64, device=codes.device)
                total = torch.zeros(codes.shape[0], dtype=torch.float64, device=codes.device)
            else:
                low, high = torch.minimum(low, codes.min(1).values), torch.maximum(high, codes.max(1).values)
            active += (codes > 0).sum(1)
            total += codes.sum(1, dtype=torch.float64)
            if depth == 0:  # statistics only (e.g. users: how often each neuron fires)
                continue
            # Candidates stay in item order, so a stable sort breaks ties towards the lower index.
            values, order = torch.cat([values, codes], dim=1).sort(dim=1, descending=True, stable=True)
            indices = torch.cat([indices, positions], dim=1).gather(1, order)
            values, indices = values[:, :depth], indices[:, :depth]
    if values is None:
        raise ValueError("scan: no embeddings to encode")
    return TopActivations(values, indices, low, high, active, total, len(embeddings))
