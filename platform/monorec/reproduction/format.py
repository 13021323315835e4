"""Formatting shared by the results page's sections: mean ± sd, markdown tables, cell names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from monorec.kinds import KINDS
from monorec.reproduction.records import SAERecord

DATASET_NAMES = {
    "ml1m": "MovieLens-1M",
    "lastfm": "Last.FM HetRec-2011",
    "synthetic": "synthetic (planted concepts)",
    "ml100k_sequences": "MovieLens-100K (every rating, in time order)",
    "ml1m_sequences": "MovieLens-1M's timestamped subset (681,991 of 1,000,209 ratings, in time order)",
}


def stat(values: Sequence[float | None], digits: int = 2) -> str:
    """`0.61 ± 0.01` over seeds, the value alone for one run, `–` for none."""
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {sd(values):.{digits}f}"


def sd(values: Sequence[float]) -> float:
    """The sample standard deviation the tables print (0 for a single run)."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def seeds(records: Iterable[SAERecord]) -> str:
    return ", ".join(str(s) for s in sorted({record.seed for record in records}))


def dataset_of(cell: str) -> str:
    return cell.rsplit("_", 1)[0]


def kind_of(cell: str) -> str:
    """`als` for ml1m_als64 (`plan.cell_name`)."""
    return cell.rsplit("_", 1)[1].rstrip("0123456789")


def model_of(cell: str) -> str:
    """`MF` for ml1m_mf, `ALS (d 64)` for ml1m_als64 (`plan.cell_name`)."""
    kind = kind_of(cell)
    width = cell.rsplit("_", 1)[1].removeprefix(kind)
    name = KINDS[kind].display if kind in KINDS else kind
    return f"{name} (d {width})" if width else name


def dataset_name(dataset: str) -> str:
    return DATASET_NAMES.get(dataset, dataset)
