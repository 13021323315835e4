"""What the paper's Kendall tau measures, shown with the function that measures fidelity on lists built for it."""

from __future__ import annotations

import numpy as np
import torch

from monorec.evaluation.fidelity import kendall_tau_ranks
from monorec.reproduction.format import dataset_of
from monorec.reproduction.prose import fill
from monorec.reproduction.records import Runs


def kendall_examples(depth: int = 29) -> dict[str, float]:
    """The paper's Kendall tau on lists built to show what it measures (depth-`depth` lists)."""
    first = torch.arange(depth)[None]
    half = depth // 2
    interleaved = torch.stack([first[0, : depth - half], first[0, : depth - half] + depth], 1).flatten()[:depth]
    cases = {
        "identical": first,
        "same items, reversed": first.flip(1),
        "disjoint": first + depth,
        "top half shared, same order": torch.cat([first[:, :half], first[:, : depth - half] + depth], 1),
        "half shared, same order, interleaved with new items": interleaved[None],
    }
    return {name: float(kendall_tau_ranks(first, second)[0]) for name, second in cases.items()}


def kendall_explained(runs: Runs) -> str:
    """The examples, and how many of section 3's Last.FM rows are negative because of what tau measures."""
    rows_by_beta = [
        float(np.mean([r.run.fidelity.kendall_tau_ranks for r in results.at_beta(beta)]))
        for cell, results in runs.items()
        if dataset_of(cell) == "lastfm"
        for beta in results.betas()
    ]
    negative = sum(value < 0 for value in rows_by_beta)
    lastfm = (
        f" That is why {negative} of the {len(rows_by_beta)} Last.FM rows of section 3 are negative: their "
        "lists share less than half of their items."
        if rows_by_beta
        else ""
    )
    examples = ", ".join(f"{name} {value:.2f}" for name, value in kendall_examples().items())
    return fill("kendall", examples=examples, lastfm=lastfm)
