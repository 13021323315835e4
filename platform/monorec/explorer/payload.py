"""The explorer's data: every neuron's measures, top items and activation histogram, as plain JSON.

Built from the neuron report (the rows of neurons.csv) and the items' SAE codes, so that the
live page (GET /explorer/neurons) and the file saved with every SAE run show the same numbers
as report.md. The codes are read in chunks (`sae.scan`), so a large catalogue costs one
chunk of memory.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import torch

from monorec.interpret.report import TOP_ITEMS_SHOWN
from monorec.sae.scan import Encoder, scan

HISTOGRAM_BINS = 20


def explorer_payload(
    neurons: pd.DataFrame,
    encode: Encoder,
    item_embeddings: torch.Tensor,
    items: pd.DataFrame,
    title: str = "",
    chunk_size: int = 65536,
) -> dict:
    """Every neuron with its label, confidence, purity@K, popularity percentile, decade share, top
    items and a histogram of its positive activations over all items.

    neurons: one row per neuron, as neurons.csv; encode: embeddings -> SAE codes; items: the item
    table in index order (item_id, name).
    """
    with torch.no_grad():
        top = scan(encode, item_embeddings.detach(), TOP_ITEMS_SHOWN, chunk_size)
        histograms = _histograms(encode, item_embeddings.detach(), top.high, chunk_size)
    ids, names = items["item_id"].tolist(), items["name"].astype(str).tolist()
    purity_k = sorted(int(m.group(1)) for c in neurons.columns if (m := re.fullmatch(r"purity@(\d+)", c)))
    popularity = _column_at(neurons, "popularity_percentile")
    decade = _column_at(neurons, "top_decade_share")
    rows = []
    for j, row in enumerate(neurons.to_dict("records")):
        active = top.values[j] > 0
        rows.append(
            {
                "neuron": j,
                "label": _text(row["label"]),
                "family": _text(row["family"]),
                "confidence": _number(row["confidence"]),
                "purity": {str(k): _number(row[f"purity@{k}"]) for k in purity_k},
                "popularity_percentile": _number(row[popularity]) if popularity else None,
                "top_decade": int(row["top_decade"]) if row["top_decade"] >= 0 else None,
                "decade_share": _number(row[decade]) if decade else None,
                "frequency": _number(row["frequency"]),
                "dead": bool(row["dead"]),
                "top_items": [
                    {"item_id": _plain(ids[i]), "name": names[i], "activation": _number(v)}
                    for i, v in zip(top.indices[j][active].tolist(), top.values[j][active].tolist())
                ],
                "histogram": {"high": _number(top.high[j]), **histograms[j]},
            }
        )
    return {
        "title": title,
        "n_items": len(items),
        "purity_k": purity_k,
        "popularity_k": _k_of(popularity),
        "decade_k": _k_of(decade),
        "neurons": rows,
    }


def _histograms(encode: Encoder, embeddings: torch.Tensor, high: torch.Tensor, chunk_size: int) -> list[dict]:
    """Per neuron, counts of its positive activations in HISTOGRAM_BINS bins from 0 to its maximum,
    and on how many items it is silent (its zeros would flatten every other bar)."""
    counts = torch.zeros(len(high), HISTOGRAM_BINS, dtype=torch.int64)
    silent = torch.zeros(len(high), dtype=torch.int64)
    width = (high / HISTOGRAM_BINS).clamp(min=1e-12)
    for start in range(0, len(embeddings), chunk_size):
        codes = encode(embeddings[start : start + chunk_size]).T.cpu()  # (m, c)
        silent += (codes <= 0).sum(1)
        bins = (codes / width[:, None].cpu()).long().clamp(0, HISTOGRAM_BINS - 1)
        counts.scatter_add_(1, bins, (codes > 0).long())
    return [{"counts": c.tolist(), "silent": int(s)} for c, s in zip(counts, silent)]


def _column_at(neurons: pd.DataFrame, name: str) -> str | None:
    return next((c for c in neurons.columns if c.startswith(f"{name}@")), None)


def _k_of(column: str | None) -> int | None:
    return int(column.split("@")[1]) if column else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object) -> float | None:
    """A JSON-safe float: NaN (no label, so no purity) becomes null."""
    number = float(value)
    return None if math.isnan(number) else round(number, 6)


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value
