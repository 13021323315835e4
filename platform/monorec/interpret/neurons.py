"""Per-neuron interpretability measures over the items' SAE codes (docs/method.md §4).

A[i, j] is neuron j's activation on item i. A neuron's top-K items are the K items with the
highest activation; items on which it is inactive (A = 0) count as not carrying any concept,
so a neuron that fires on 3 items cannot reach purity@10 above 0.3. Every measure reads only
each neuron's top items and statistics (`TopActivations`, found by a chunked `scan`), never
the whole (items x neurons) matrix.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from monorec.devices import tensor_of
from monorec.interpret.concepts import Concepts
from monorec.results import ConceptNeuron
from monorec.sae.scan import TopActivations

MISS_PERCENTILE = 100.0  # an inactive top-k item: as far from popular as an item can be


def purity(top: TopActivations, concept_matrix: np.ndarray, k: int) -> np.ndarray:
    """(m, n_concepts) share of each neuron's top-k items that carry each concept."""
    indices, active = top.top(k)
    carried = tensor_of(concept_matrix, device=indices.device)[indices] & active[:, :, None]
    return (carried.float().sum(1) / k).cpu().numpy()


def best_neurons(purities: dict[int, np.ndarray], names: list[str]) -> dict[str, ConceptNeuron]:
    """Per concept, the neuron with the highest purity@K for the smallest K (ties: next K)."""
    ks = sorted(purities)
    keys = np.stack([purities[k] for k in reversed(ks)])  # lexsort: last key is primary
    result = {}
    for c, name in enumerate(names):
        neuron = int(np.lexsort(keys[:, :, c])[-1])
        result[name] = ConceptNeuron(neuron, {k: float(purities[k][neuron, c]) for k in ks})
    return result


@dataclasses.dataclass(frozen=True)
class NeuronLabel:
    label: str | None
    family: str | None
    precision: float
    recall: float
    confidence: float


def label_neurons(top: TopActivations, concepts: Concepts, k: int, threshold: float) -> list[NeuronLabel]:
    """Name each neuron by the concept that best explains its top-k items (RecSAE's dictionary idea).

    precision = share of the top-k items carrying the concept; recall = share of the concept's
    items that are among the top-k, relative to the most it could hold (min(k, |concept|));
    confidence = (precision - base rate) / (1 - base rate): how far the top-k items beat the
    concept's share in the catalogue, so common concepts (Drama) need a near-perfect top-k.
    A neuron whose best confidence is below `threshold` (or that is never active) is unlabelled.
    """
    precision = purity(top, concepts.matrix, k)
    base = concepts.matrix.mean(0)
    confidence = (precision - base) / np.clip(1 - base, 1e-9, None)
    capacity = np.minimum(k, concepts.matrix.sum(0)).clip(min=1)
    labels = []
    for j in range(top.n_neurons):
        c = int(np.argmax(confidence[j]))
        recall = precision[j, c] * k / capacity[c]
        if confidence[j, c] >= threshold:
            labels.append(
                NeuronLabel(concepts.names[c], concepts.families[c], precision[j, c], recall, confidence[j, c])
            )
        else:
            labels.append(NeuronLabel(None, None, precision[j, c], recall, max(confidence[j, c], 0.0)))
    return labels


def popularity_percentile(top: TopActivations, item_percentile: np.ndarray, k: int) -> np.ndarray:
    """(m,) mean popularity percentile (0 = most popular) of each neuron's top-k items.

    The mean is over all k: an item the neuron is inactive on counts as a miss, percentile 100,
    as purity counts it, so a neuron firing on three blockbusters does not pass for a popularity
    neuron (docs/method.md §4).
    """
    indices, active = top.top(k)
    values = torch.tensor(item_percentile, dtype=torch.float32, device=indices.device)[indices]
    return torch.where(active, values, torch.full_like(values, MISS_PERCENTILE)).mean(1).cpu().numpy()


def top_decade_share(top: TopActivations, decades: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(m,) share of each neuron's top-k items from its most frequent decade, and that decade (-1: none)."""
    indices, active = top.top(k)
    shares, modes = np.zeros(top.n_neurons), np.full(top.n_neurons, -1)
    for j, (row, on) in enumerate(zip(indices.cpu().numpy(), active.cpu().numpy())):
        known = decades[row[on]]
        known = known[known >= 0]
        if len(known):
            values, counts = np.unique(known, return_counts=True)
            shares[j], modes[j] = counts.max() / k, values[counts.argmax()]
    return shares, modes


def monosemanticity(top: TopActivations, item_vectors: np.ndarray, top_n: int = 30) -> np.ndarray:
    """(m,) MS_j (Pach et al. 2025) with s = cosine similarity of SAE-independent item vectors.

    For neuron j: a = min-max normalised activations over all items, restricted to its top_n
    items; MS_j = sum_{p != q} a_p a_q s(p, q) / sum_{p != q} a_p a_q. A neuron never active on an
    item gets 0, as in the paper's notebooks, so the mean over all neurons counts dead ones.
    """
    vectors = tensor_of(item_vectors, torch.float32, top.values.device)
    unit = vectors / vectors.norm(dim=1, keepdim=True).clamp(min=1e-12)
    low, high = top.low, top.high
    n = min(top_n, top.n_items)
    a = (top.values[:, :n] - low[:, None]) / (high - low).clamp(min=1e-12)[:, None]  # (m, n)
    indices = top.indices[:, :n]
    similarity = torch.einsum("mnd,mkd->mnk", unit[indices], unit[indices])
    weights = a[:, :, None] * a[:, None, :]
    off_diagonal = 1 - torch.eye(a.shape[1], device=a.device)
    score = (weights * similarity * off_diagonal).sum((1, 2)) / (weights * off_diagonal).sum((1, 2)).clamp(min=1e-12)
    return torch.where(high > 0, score, 0.0).cpu().numpy()
