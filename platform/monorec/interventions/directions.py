"""Concept directions: every neuron that carries a concept, weighted by how strongly (docs/method.md §5).

A concept is rarely one neuron. A direction weights each neuron j by Cohen's d of its item codes
between the items with the concept and those without,

    d_j = (mean_j[concept items] - mean_j[other items]) / pooled sd_j,

keeps the neurons with d_j >= `MIN_EFFECT` (Cohen's "medium" effect; the single largest-d neuron
when none reaches it) and divides by the largest d, so the strongest neuron gets weight 1: an
edit at strength s moves it exactly as the same edit on that neuron alone would, and each other
neuron by its share of the effect (PopSteer, arXiv 2508.17297, picks popularity neurons by
Cohen's d the same way). `POPULARITY` is the direction of the head items (the 20% most popular)
against the long tail.

`LinearProbe` is the SAE-free baseline (concept activation vectors): a class-balanced logistic
regression on the item embeddings, whose unit weight vector is a one-neuron dictionary
(`ProbeDictionary`) that the steering code edits like an SAE's: suppress(1) removes each
vector's component along it (directional ablation), boost adds its largest projection.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import torch

from monorec.data.dataset import concept_matrix
from monorec.sae.model import Encoded

MIN_EFFECT = 0.5
POPULARITY = "popularity"  # the direction's name; datasets have no concept by that name
HEAD_PERCENTILE = 20.0  # the head: the 20% most popular items (popularity_percentile < 20); the rest is the long tail
PROBE_RIDGE = 1e-3
PROBE_STEPS = 200


@dataclasses.dataclass(frozen=True)
class Direction:
    """Neurons and their weights (the largest is 1): what a concept-addressed edit moves."""

    neurons: tuple[int, ...]
    weights: tuple[float, ...]


def cohens_d(codes: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
    """(m,) Cohen's d of each column of `codes` between rows in `members` and the rest (0 where both are flat)."""
    inside, outside = codes[members].double(), codes[~members].double()
    n1, n0 = len(inside), len(outside)
    if n1 < 2 or n0 < 2:
        return torch.zeros(codes.shape[1], dtype=torch.float64, device=codes.device)
    pooled = ((n1 - 1) * inside.var(0) + (n0 - 1) * outside.var(0)) / (n1 + n0 - 2)
    difference = inside.mean(0) - outside.mean(0)
    return torch.where(pooled > 0, difference / pooled.clamp(min=1e-24).sqrt(), torch.zeros_like(difference))


def direction(codes: torch.Tensor, members: torch.Tensor, min_effect: float = MIN_EFFECT) -> Direction:
    """The concept direction of `members` (bool per row of `codes`): module docstring."""
    effect = cohens_d(codes, members)
    largest = float(effect.max())
    if largest <= 0:
        return Direction((int(effect.argmax()),), (1.0,))
    kept = torch.nonzero(effect >= min(min_effect, largest)).squeeze(1)
    return Direction(tuple(int(j) for j in kept), tuple(float(effect[j] / largest) for j in kept))


def head_items(popularity_percentile: np.ndarray) -> np.ndarray:
    """Bool per item: in the head (the 20% most popular), the rest being the long tail."""
    return np.asarray(popularity_percentile) < HEAD_PERCENTILE


def item_directions(item_codes: torch.Tensor, items: pd.DataFrame) -> dict[str, Direction]:
    """Every concept's direction and the popularity direction, from an item table's tags and popularity."""
    matrix, names = concept_matrix(items["concepts"])
    device = item_codes.device
    directions = {
        name: direction(item_codes, torch.as_tensor(matrix[:, j], device=device)) for j, name in enumerate(names)
    }
    head = torch.as_tensor(head_items(items["popularity_percentile"].to_numpy()), device=device)
    directions[POPULARITY] = direction(item_codes, head)
    return directions


@dataclasses.dataclass(frozen=True)
class LinearProbe:
    """A logistic regression of a concept on item embeddings: p(concept | e) = sigmoid(e · w + b)."""

    weight: torch.Tensor  # (d,)
    bias: float

    @classmethod
    def fit(cls, embeddings: torch.Tensor, labels: torch.Tensor) -> LinearProbe:
        """Class-balanced (positives and negatives weigh the same in total), L2 `PROBE_RIDGE`, by L-BFGS.

        Features are standardised for the optimiser; the weight returned is for raw embeddings.
        """
        x = embeddings.detach().double()
        mean, scale = x.mean(0), x.std(0).clamp(min=1e-12)
        x = (x - mean) / scale
        y = labels.double()
        sample_weight = torch.where(y > 0, 0.5 / y.sum().clamp(min=1), 0.5 / (1 - y).sum().clamp(min=1))
        w = torch.zeros(x.shape[1], dtype=torch.float64, device=x.device, requires_grad=True)
        b = torch.zeros((), dtype=torch.float64, device=x.device, requires_grad=True)
        optimiser = torch.optim.LBFGS([w, b], max_iter=PROBE_STEPS, line_search_fn="strong_wolfe")

        def loss() -> torch.Tensor:
            optimiser.zero_grad()
            logits = x @ w + b
            value = (
                sample_weight * torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="none")
            ).sum()
            value = value + PROBE_RIDGE * w.pow(2).sum()
            value.backward()
            return value

        optimiser.step(loss)
        with torch.no_grad():
            raw = w / scale
            return cls(raw.float(), float(b - (raw * mean).sum()))

    def probability(self, embeddings: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(embeddings @ self.weight.to(embeddings.device) + self.bias)

    def dictionary(self) -> ProbeDictionary:
        return ProbeDictionary(self.weight / self.weight.norm().clamp(min=1e-12))


class ProbeDictionary:
    """A one-neuron dictionary along a unit vector v: code = e · v, decoded change = Δcode · v.

    It offers what `Steerer` reads from an SAE (`n_latents`, `encode`, `decoder_weight`), so
    the probe's direction is steered, calibrated and measured by the same code as the SAE's.
    """

    n_latents = 1

    def __init__(self, unit: torch.Tensor) -> None:
        self.unit = unit

    def encode(self, embeddings: torch.Tensor) -> Encoded:
        ones = torch.ones(len(embeddings), 1, device=embeddings.device)
        return Encoded((embeddings @ self.unit.to(embeddings.device))[:, None], 0 * ones, ones)

    def decoder_weight(self) -> torch.Tensor:
        return self.unit[:, None]
