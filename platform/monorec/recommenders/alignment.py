"""Rows of tables trained elsewhere, matched to the dataset's user and item index by id.

Tables made outside monorec (embeddings files, your own towers) list their rows by the
original ids; monorec's index comes from the interactions. Both sides must hold exactly the
same ids: an id missing from either side is an error naming how many and which, never a
silent drop, since a dropped user or item would quietly change every number downstream.
Ids are compared as text, so 42 in a parquet file matches "42" in a text file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from monorec.errors import DataError

EXAMPLES = 3


def read_ids(path: str) -> pd.Index:
    """Ids from a .npy array (no pickle) or a text file with one id per line."""
    file = Path(path)
    if not file.is_file():
        raise DataError(f"ids file not found: {path}")
    if file.suffix == ".npy":
        return pd.Index(load_npy(file))
    return pd.Index([line.strip() for line in file.read_text().splitlines() if line.strip()])


def load_npy(path: Path) -> np.ndarray:
    """A .npy array without pickle: object arrays (e.g. mixed or Python-string ids) are refused clearly."""
    try:
        return np.load(path, allow_pickle=False)
    except ValueError:
        raise DataError(f"{path} holds Python objects; save ids with .astype(str) and numbers as numbers") from None


def row_order(table_ids: pd.Index, dataset_ids: pd.Index, side: str, source: str) -> np.ndarray:
    """Positions in the table of each dataset id, in the dataset's index order."""
    table, dataset = pd.Index(table_ids.astype(str)), pd.Index(dataset_ids.astype(str))
    if table.has_duplicates:
        repeated = table[table.duplicated()].unique()[:EXAMPLES].tolist()
        raise DataError(f"{source}: {side} ids appear more than once (e.g. {', '.join(repeated)})")
    missing, extra = dataset.difference(table), table.difference(dataset)
    if len(missing) or len(extra):
        raise DataError(
            f"{source}: {side} ids do not match the interactions: {len(missing)} of the interactions' "
            f"{len(dataset)} have no row{_examples(missing)} and {len(extra)} rows are not in the "
            f"interactions{_examples(extra)}"
        )
    return table.get_indexer(dataset)


def _examples(ids: pd.Index) -> str:
    return f" (e.g. {', '.join(ids[:EXAMPLES].tolist())})" if len(ids) else ""
